import type { Queryable } from '../../persistence/database.ts';

/**
 * Exactly-once domain effects: each effect has a key derived from the scene exit's workflow
 * key; its `workflow_effects` row is written in the same transaction as the effect, so a
 * retried or redelivered step finds the row and returns the first run's result instead.
 * Returns the stored result when the effect was already applied, else null (apply it now).
 */
export async function claimEffect(tx: Queryable, key: string, sessionId: string, step: string, result: Record<string, unknown>): Promise<Record<string, unknown> | null> {
  const inserted = await tx.query(
    `INSERT INTO workflow_effects (effect_key, session_id, step_name, result) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (effect_key) DO NOTHING RETURNING effect_key`,
    [key, sessionId, step, JSON.stringify(result)],
  );
  if (inserted.rows.length > 0) return null;
  const { rows } = await tx.query<{ result: Record<string, unknown> }>('SELECT result FROM workflow_effects WHERE effect_key = $1', [key]);
  return rows[0]?.result ?? {};
}
