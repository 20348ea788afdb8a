import { z } from 'zod';
import { StorytellerError } from '../errors.ts';
import type { Queryable } from './database.ts';

/**
 * Checkpoints: full state snapshots at scene boundaries (and manual saves, autosaves,
 * suspension). A checkpoint plus the ledger rows after its `ledgerTs` reconstructs the
 * session (seed: "Checkpoints", "Truth Set Reconstruction"). The JSON parts are opaque
 * here — each owner validates its own (the truth set with `truthSetSchema`) — but they
 * must be JSON, and the row itself is validated on the way in and on the way out.
 *
 * @example
 *   await db.transaction(async (tx) => {
 *     const cp = await writeCheckpoint(tx, { sessionId, sceneId, turn: 7, type: 'scene_exit', entityState, truthSet,
 *                                             narrativePosition, worldState, ledgerTs: 42 });
 *     // … entity snapshots, SceneExited, outbox row in the same transaction
 *   });
 *   const newest = await loadNewestCheckpoint(db, sessionId);
 */
export const CHECKPOINT_TYPES = ['scene_exit', 'manual_save', 'autosave', 'suspend'] as const;
export type CheckpointType = (typeof CHECKPOINT_TYPES)[number];
export const DEFERRED_STATUSES = ['pending', 'processing', 'complete', 'failed'] as const;
export type DeferredStatus = (typeof DEFERRED_STATUSES)[number];

export interface NewCheckpoint {
  sessionId: string;
  sceneId: string;
  turn: number;
  type: CheckpointType;
  entityState: unknown;
  truthSet: unknown;
  narrativePosition: unknown;
  worldState: unknown;
  ledgerTs: number;
  sessionState?: unknown;
  deferredStatus?: DeferredStatus;
}

export interface Checkpoint extends NewCheckpoint {
  id: string;
  createdAt: Date;
  deferredStatus: DeferredStatus;
  deferredResult: unknown | null;
  sessionState: unknown;
}

const uuid = z.guid();
/** A value that survives a JSON round trip unchanged in meaning (no undefined, functions, NaN). */
const json: z.ZodType<unknown> = z.json();

const newCheckpointSchema = z.object({
  sessionId: uuid,
  sceneId: uuid,
  turn: z.number().int().nonnegative(),
  type: z.enum(CHECKPOINT_TYPES),
  entityState: json,
  truthSet: json,
  narrativePosition: json,
  worldState: json,
  ledgerTs: z.number().int().nonnegative(),
  sessionState: json.optional(),
  deferredStatus: z.enum(DEFERRED_STATUSES).optional(),
});

const checkpointRowSchema = z
  .object({
    id: uuid,
    session_id: uuid,
    scene_id: uuid,
    turn: z.number().int().nonnegative(),
    checkpoint_type: z.enum(CHECKPOINT_TYPES),
    entity_state: json,
    truth_set: json,
    narrative_position: json,
    world_state: json,
    ledger_ts: z.number().int().nonnegative(),
    session_state: json,
    deferred_status: z.enum(DEFERRED_STATUSES),
    deferred_result: json.nullable(),
    created_at: z.date(),
  })
  .transform(
    (r): Checkpoint => ({
      id: r.id,
      sessionId: r.session_id,
      sceneId: r.scene_id,
      turn: r.turn,
      type: r.checkpoint_type,
      entityState: r.entity_state,
      truthSet: r.truth_set,
      narrativePosition: r.narrative_position,
      worldState: r.world_state,
      ledgerTs: r.ledger_ts,
      sessionState: r.session_state,
      deferredStatus: r.deferred_status,
      deferredResult: r.deferred_result,
      createdAt: r.created_at,
    }),
  );

const COLUMNS = `id, session_id, scene_id, turn, checkpoint_type, entity_state, truth_set, narrative_position, world_state,
  ledger_ts, session_state, deferred_status, deferred_result, created_at`;

function toCheckpoint(raw: unknown): Checkpoint {
  const parsed = checkpointRowSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StorytellerError('STORED_DATA_INVALID', `checkpoint row fails its schema at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`, {
      details: { id: (raw as { id?: unknown } | null)?.id, path: issue?.path ?? [] },
    });
  }
  return parsed.data;
}

const jsonText = (value: unknown) => JSON.stringify(value);

/**
 * Writes a checkpoint; usable inside a transaction (pass the transaction's Queryable).
 * @throws StorytellerError CHECKPOINT_INVALID (the zod path in details.path); SESSION_NOT_FOUND
 */
export async function writeCheckpoint(q: Queryable, cp: NewCheckpoint): Promise<Checkpoint> {
  const parsed = newCheckpointSchema.safeParse(cp);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StorytellerError('CHECKPOINT_INVALID', `checkpoint fails validation at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`, {
      details: { path: issue?.path ?? [], issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  const c = parsed.data;
  try {
    // clock_timestamp(), not NOW(): two checkpoints in one transaction still order by creation.
    const { rows } = await q.query(
      `INSERT INTO checkpoints (session_id, scene_id, turn, checkpoint_type, entity_state, truth_set, narrative_position, world_state,
                                ledger_ts, session_state, deferred_status, created_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10::jsonb, $11, clock_timestamp())
       RETURNING ${COLUMNS}`,
      [
        c.sessionId,
        c.sceneId,
        c.turn,
        c.type,
        jsonText(c.entityState),
        jsonText(c.truthSet),
        jsonText(c.narrativePosition),
        jsonText(c.worldState),
        c.ledgerTs,
        jsonText(c.sessionState ?? {}),
        c.deferredStatus ?? 'pending',
      ],
    );
    return toCheckpoint(rows[0]);
  } catch (error) {
    if ((error as { code?: unknown }).code === '23503') {
      throw new StorytellerError('SESSION_NOT_FOUND', `no session ${c.sessionId}`, { cause: error, details: { sessionId: c.sessionId } });
    }
    throw error;
  }
}

/** The checkpoint covering the most of the ledger (highest ledgerTs, then latest written), or null. */
export async function loadNewestCheckpoint(q: Queryable, sessionId: string): Promise<Checkpoint | null> {
  if (!uuid.safeParse(sessionId).success) return null;
  const { rows } = await q.query(
    `SELECT ${COLUMNS} FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts DESC, created_at DESC LIMIT 1`,
    [sessionId],
  );
  return rows.length === 0 ? null : toCheckpoint(rows[0]);
}

/** Every checkpoint of a session, newest first (inspection, tests). */
export async function listCheckpoints(q: Queryable, sessionId: string): Promise<Checkpoint[]> {
  if (!uuid.safeParse(sessionId).success) return [];
  const { rows } = await q.query(`SELECT ${COLUMNS} FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts DESC, created_at DESC`, [sessionId]);
  return rows.map(toCheckpoint);
}

/**
 * Records the deferred (scene-boundary workflow) progress of a checkpoint, with its result when given.
 * @throws StorytellerError CHECKPOINT_NOT_FOUND | CHECKPOINT_INVALID
 */
export async function setDeferredStatus(q: Queryable, checkpointId: string, status: DeferredStatus, result?: unknown): Promise<void> {
  if (!z.enum(DEFERRED_STATUSES).safeParse(status).success) {
    throw new StorytellerError('CHECKPOINT_INVALID', `unknown deferred status ${JSON.stringify(status)}`, { details: { path: ['deferredStatus'] } });
  }
  if (result !== undefined && !json.safeParse(result).success) {
    throw new StorytellerError('CHECKPOINT_INVALID', 'deferred result is not JSON', { details: { path: ['deferredResult'] } });
  }
  if (!uuid.safeParse(checkpointId).success) {
    throw new StorytellerError('CHECKPOINT_NOT_FOUND', `no checkpoint ${JSON.stringify(checkpointId)}`, { details: { checkpointId } });
  }
  const { rowCount } = await q.query(
    `UPDATE checkpoints SET deferred_status = $2, deferred_result = COALESCE($3::jsonb, deferred_result) WHERE id = $1`,
    [checkpointId, status, result === undefined ? null : jsonText(result)],
  );
  if (rowCount === 0) throw new StorytellerError('CHECKPOINT_NOT_FOUND', `no checkpoint ${checkpointId}`, { details: { checkpointId } });
}
