import { z } from 'zod';
import type { Database } from '../persistence/database.ts';
import { taskRequestSchema, type TaskRequest, type TaskTemplate } from './contract.ts';
import { INITIATOR, SOURCE_SYSTEM } from './task-request.ts';

/**
 * The between-sessions schedule: a row in `workflow_schedules`; `tick()` fires a due run by
 * writing its outbox row (kind `between_sessions`), which the bridge relays like a scene
 * exit. Exactly one engine instance fires each run (row lock + the run's unique outbox key).
 */
export class BetweenSessionsSchedule {
  readonly name: string;
  readonly #db: Database;
  readonly #intervalMs: number;

  constructor(options: { db: Database; intervalMs: number; name?: string }) {
    this.#db = options.db;
    this.#intervalMs = options.intervalMs;
    this.name = options.name ?? 'between_sessions';
  }

  /** Creates the schedule (first run one interval from now) unless it exists. */
  async ensure(firstRunInMs = this.#intervalMs): Promise<void> {
    await this.#db.query(
      `INSERT INTO workflow_schedules (name, interval_ms, next_run_at) VALUES ($1, $2, NOW() + ($3::bigint * INTERVAL '1 millisecond')) ON CONFLICT (name) DO NOTHING`,
      [this.name, this.#intervalMs, firstRunInMs],
    );
  }

  /** Fires the run if it is due and no other instance holds it; returns its key, or null. */
  async tick(): Promise<string | null> {
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<{ next_run_at: Date; interval_ms: string | number }>(
        `SELECT next_run_at, interval_ms FROM workflow_schedules WHERE name = $1 AND next_run_at <= NOW() FOR UPDATE SKIP LOCKED`,
        [this.name],
      );
      const due = rows[0];
      if (!due) return null;
      const runKey = `between:${this.name}:${new Date(due.next_run_at).toISOString()}`;
      await tx.query(`INSERT INTO outbox (session_id, kind, idempotency_key, payload) VALUES (NULL, 'between_sessions', $1, $2::jsonb) ON CONFLICT (idempotency_key) DO NOTHING`, [
        runKey, JSON.stringify({ runKey }),
      ]);
      await tx.query(
        `UPDATE workflow_schedules SET last_run_key = $2, next_run_at = GREATEST(next_run_at + (interval_ms * INTERVAL '1 millisecond'), NOW()) WHERE name = $1`,
        [this.name, runKey],
      );
      return runKey;
    });
  }
}

const betweenPayload = z.object({ runKey: z.string().min(1) });

/** The TaskRequest of a between-sessions run. */
export function betweenSessionsTaskRequest(template: TaskTemplate, row: { idempotencyKey: string; payload: unknown }, correlationId: string): TaskRequest {
  const p = betweenPayload.parse(row.payload);
  return taskRequestSchema.parse({
    name: template.name,
    namespace: template.namespace_name,
    version: template.version,
    context: { run_key: p.runKey },
    initiator: INITIATOR,
    source_system: SOURCE_SYSTEM,
    reason: 'between sessions',
    tags: ['between_sessions'],
    priority: 0,
    correlation_id: correlationId,
    idempotency_key: row.idempotencyKey,
  });
}
