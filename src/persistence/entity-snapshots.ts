import { z } from 'zod';
import type { Queryable } from './database.ts';

/** Components as stored (any JSON object); validated when read back. */
const snapshotRow = z.object({ entity_id: z.string(), components: z.record(z.string(), z.unknown()).nullable() });

/**
 * Reads the session's `entity_snapshots` for some entities (scene entry step 2, seed: "LOAD
 * ENTITY STATE … component snapshots for all cast members"): what scene exits and the deferred
 * workflows wrote. Entities without a snapshot are absent.
 *
 * @example
 * const read = entitySnapshotReader(db);
 * const byId = await read(sessionId, ['ewan', 'ada']); // { ewan: { lastScene: … } }
 */
export function entitySnapshotReader(db: Queryable): (sessionId: string, entityIds: readonly string[]) => Promise<Record<string, Record<string, unknown>>> {
  return async (sessionId, entityIds) => {
    if (entityIds.length === 0 || !z.string().uuid().safeParse(sessionId).success) return {};
    const { rows } = await db.query('SELECT entity_id, components FROM entity_snapshots WHERE session_id = $1 AND entity_id = ANY($2::text[]) ORDER BY entity_id', [sessionId, [...entityIds]]);
    const out: Record<string, Record<string, unknown>> = {};
    for (const raw of rows) {
      const r = snapshotRow.safeParse(raw);
      if (r.success && r.data.components) out[r.data.entity_id] = r.data.components;
    }
    return out;
  };
}
