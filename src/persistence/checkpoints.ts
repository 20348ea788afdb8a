import { z } from 'zod';
import { StorytellerError } from '../errors.ts';
import { emptyTruthSet } from '../domain/truth-set.ts';
import type { Logger } from '../logger.ts';
import { applyPatch, diffJson, NO_CHANGE, patchSchema, PatchMismatch, stateHash, type Json } from './checkpoint-delta.ts';
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

const nullableJson = json.nullable();

/**
 * A stored row (migration 0008): `encoding` 'full' carries the four state columns; 'delta'
 * carries `delta` (a patch of the four, against the full checkpoint `base_id`) and
 * `state_hash` (what the rebuilt state must hash to) and leaves them SQL NULL.
 * The delta and the state columns are JSON validated here; the delta's structure is
 * validated by `patchSchema` on restore, so a corrupt delta means a fallback, not a crash.
 */
const storedRowSchema = z.object({
  id: uuid,
  session_id: uuid,
  scene_id: uuid,
  turn: z.number().int().nonnegative(),
  checkpoint_type: z.enum(CHECKPOINT_TYPES),
  entity_state: nullableJson,
  truth_set: nullableJson,
  narrative_position: nullableJson,
  world_state: nullableJson,
  ledger_ts: z.coerce.number().int().nonnegative(),
  session_state: json,
  deferred_status: z.enum(DEFERRED_STATUSES),
  deferred_result: nullableJson,
  created_at: z.date(),
  encoding: z.enum(['full', 'delta']),
  base_id: uuid.nullable(),
  delta: z.unknown(),
  state_hash: z.string().nullable(),
});
type StoredRow = z.infer<typeof storedRowSchema>;

/** The four state parts a delta covers, as one JSON value (the unit that is diffed and hashed). */
interface StateParts {
  entityState: Json;
  truthSet: Json;
  narrativePosition: Json;
  worldState: Json;
}
const statePartsSchema = z.object({ entityState: json, truthSet: json, narrativePosition: json, worldState: json }) as z.ZodType<StateParts>;

const COLUMNS = `id, session_id, scene_id, turn, checkpoint_type, entity_state, truth_set, narrative_position, world_state,
  ledger_ts, session_state, deferred_status, deferred_result, created_at, encoding, base_id, delta, state_hash`;
const prefixed = (alias: string, as = '') =>
  COLUMNS.split(',').map((c) => `${alias}.${c.trim()}${as ? ` AS ${as}${c.trim()}` : ''}`).join(', ');

function parseRow(raw: unknown): StoredRow {
  const parsed = storedRowSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StorytellerError('STORED_DATA_INVALID', `checkpoint row fails its schema at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`, {
      details: { id: (raw as { id?: unknown } | null)?.id, path: issue?.path ?? [] },
    });
  }
  return parsed.data;
}

/** The state parts of a full row, or null when one is missing (SQL NULL is not a state). */
function partsOfFull(row: StoredRow): StateParts | null {
  if (row.encoding !== 'full') return null;
  const parts = { entityState: row.entity_state, truthSet: row.truth_set, narrativePosition: row.narrative_position, worldState: row.world_state };
  const parsed = statePartsSchema.safeParse(parts);
  return parsed.success && Object.values(parts).every((v) => v !== undefined) ? parsed.data : null;
}

function toCheckpoint(row: StoredRow, parts: StateParts, ledgerTs: number = row.ledger_ts): Checkpoint {
  return {
    id: row.id,
    sessionId: row.session_id,
    sceneId: row.scene_id,
    turn: row.turn,
    type: row.checkpoint_type,
    entityState: parts.entityState,
    truthSet: parts.truthSet,
    narrativePosition: parts.narrativePosition,
    worldState: parts.worldState,
    ledgerTs,
    sessionState: row.session_state,
    deferredStatus: row.deferred_status,
    deferredResult: row.deferred_result,
    createdAt: row.created_at,
  };
}

const jsonText = (value: unknown) => JSON.stringify(value);
/** What a value is after a trip through JSONB (writeCheckpoint returns that, whichever encoding it stored). */
const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

// ---------------------------------------------------------------- write

/** Default for STORYTELLER_CHECKPOINT_FULL_EVERY: one full checkpoint, then up to 9 deltas against it. */
export const DEFAULT_CHECKPOINT_FULL_EVERY = 10;

export interface WriteCheckpointOptions {
  /**
   * A full checkpoint every N per session; the others are deltas against the newest full
   * one. 1 = always full. Default DEFAULT_CHECKPOINT_FULL_EVERY.
   */
  fullEvery?: number;
}

/** The full checkpoint a new delta would be written against, or null when the next one must be full. */
async function deltaBase(q: Queryable, sessionId: string, fullEvery: number): Promise<{ id: string; parts: StateParts } | null> {
  if (fullEvery <= 1) return null;
  const { rows } = await q.query(
    `SELECT ${prefixed('b')}, (SELECT count(*)::int FROM checkpoints d WHERE d.base_id = b.id) AS deltas
       FROM (SELECT CASE WHEN encoding = 'full' THEN id ELSE base_id END AS base_id
               FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts DESC, created_at DESC LIMIT 1) newest
       JOIN checkpoints b ON b.id = newest.base_id AND b.encoding = 'full'`,
    [sessionId],
  );
  const raw = rows[0] as (Record<string, unknown> & { deltas: number }) | undefined;
  if (!raw || raw.deltas + 1 >= fullEvery) return null;
  const parsed = storedRowSchema.safeParse(raw);
  const parts = parsed.success ? partsOfFull(parsed.data) : null;
  // A base that no longer reads back is no base: the next checkpoint is full.
  return parsed.success && parts ? { id: parsed.data.id, parts } : null;
}

/**
 * Writes a checkpoint — full, or a delta against the session's newest full checkpoint
 * (see WriteCheckpointOptions); usable inside a transaction (pass the transaction's Queryable).
 * The returned checkpoint carries the whole state either way.
 * @throws StorytellerError CHECKPOINT_INVALID (the zod path in details.path); SESSION_NOT_FOUND
 */
export async function writeCheckpoint(q: Queryable, cp: NewCheckpoint, options: WriteCheckpointOptions = {}): Promise<Checkpoint> {
  const parsed = newCheckpointSchema.safeParse(cp);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StorytellerError('CHECKPOINT_INVALID', `checkpoint fails validation at ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`, {
      details: { path: issue?.path ?? [], issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  const c = parsed.data;
  const parts: StateParts = roundTrip({
    entityState: c.entityState as Json,
    truthSet: c.truthSet as Json,
    narrativePosition: c.narrativePosition as Json,
    worldState: c.worldState as Json,
  });
  try {
    const base = await deltaBase(q, c.sessionId, options.fullEvery ?? DEFAULT_CHECKPOINT_FULL_EVERY);
    let delta: { baseId: string; text: string; hash: string } | null = null;
    if (base) {
      const patch = diffJson(base.parts as unknown as Json, parts as unknown as Json) ?? NO_CHANGE;
      const text = jsonText(patch);
      // A delta no smaller than the state saves nothing: write it full.
      if (text.length < jsonText(parts).length) delta = { baseId: base.id, text, hash: stateHash(parts as unknown as Json) };
    }
    const full = delta === null;
    // clock_timestamp(), not NOW(): two checkpoints in one transaction still order by creation.
    const { rows } = await q.query(
      `INSERT INTO checkpoints (session_id, scene_id, turn, checkpoint_type, entity_state, truth_set, narrative_position, world_state,
                                ledger_ts, session_state, deferred_status, created_at, encoding, base_id, delta, state_hash)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10::jsonb, $11, clock_timestamp(), $12, $13, $14::jsonb, $15)
       RETURNING ${COLUMNS}`,
      [
        c.sessionId,
        c.sceneId,
        c.turn,
        c.type,
        full ? jsonText(parts.entityState) : null,
        full ? jsonText(parts.truthSet) : null,
        full ? jsonText(parts.narrativePosition) : null,
        full ? jsonText(parts.worldState) : null,
        c.ledgerTs,
        jsonText(c.sessionState ?? {}),
        c.deferredStatus ?? 'pending',
        full ? 'full' : 'delta',
        delta?.baseId ?? null,
        delta?.text ?? null,
        delta?.hash ?? null,
      ],
    );
    return toCheckpoint(parseRow(rows[0]), parts);
  } catch (error) {
    if ((error as { code?: unknown }).code === '23503') {
      throw new StorytellerError('SESSION_NOT_FOUND', `no session ${c.sessionId}`, { cause: error, details: { sessionId: c.sessionId } });
    }
    throw error;
  }
}

// ---------------------------------------------------------------- restore

export type ChainBreak = 'base_missing' | 'base_invalid' | 'delta_invalid' | 'hash_mismatch';

/** Rebuilds a delta row's state from its base row; the reason when it cannot. */
function rebuild(row: StoredRow, base: StoredRow | null): { parts: StateParts } | { broken: ChainBreak } {
  if (!base || base.id !== row.base_id) return { broken: 'base_missing' };
  const baseParts = partsOfFull(base);
  if (!baseParts) return { broken: 'base_invalid' };
  const patch = patchSchema.safeParse(row.delta);
  if (!patch.success || row.state_hash === null) return { broken: 'delta_invalid' };
  let rebuilt: Json;
  try {
    rebuilt = applyPatch(baseParts as unknown as Json, patch.data);
  } catch (error) {
    if (error instanceof PatchMismatch) return { broken: 'delta_invalid' };
    throw error;
  }
  const parts = statePartsSchema.safeParse(rebuilt);
  if (!parts.success) return { broken: 'delta_invalid' };
  // The hash catches a delta (or base) altered into another valid-looking value.
  if (stateHash(rebuilt) !== row.state_hash) return { broken: 'hash_mismatch' };
  return { parts: parts.data };
}

export interface ChainBroken {
  sessionId: string;
  checkpointId: string;
  baseId: string | null;
  reason: ChainBreak;
  /** The full checkpoint restored instead (null: none intact — the ledger is replayed from its first row). */
  fallbackId: string | null;
}

export interface RestoreHooks {
  /** A delta could not be rebuilt (metric `storyteller_checkpoint_fallbacks_total`). */
  onChainBroken?: (info: ChainBroken) => void;
  logger?: Logger;
}

export interface RestoredCheckpoint {
  checkpoint: Checkpoint;
  /** 'fallback': the newest row is a broken delta; its state is the last intact full checkpoint's, with that one's ledgerTs. */
  mode: 'full' | 'delta' | 'fallback';
}

/** The newest full checkpoint of the session whose state reads back (a corrupt one is skipped). */
async function newestIntactFull(q: Queryable, sessionId: string): Promise<{ row: StoredRow; parts: StateParts } | null> {
  for (let offset = 0; ; offset++) {
    const { rows } = await q.query(
      `SELECT ${COLUMNS} FROM checkpoints WHERE session_id = $1 AND encoding = 'full' ORDER BY ledger_ts DESC, created_at DESC LIMIT 1 OFFSET $2`,
      [sessionId, offset],
    );
    if (rows.length === 0) return null;
    const parsed = storedRowSchema.safeParse(rows[0]);
    const parts = parsed.success ? partsOfFull(parsed.data) : null;
    if (parsed.success && parts) return { row: parsed.data, parts };
  }
}

/**
 * The checkpoint covering the most of the ledger (highest ledgerTs, then latest written),
 * rebuilt from its delta chain when it is a delta. A broken chain (base deleted or corrupt,
 * delta corrupt) falls back to the last intact full checkpoint: the returned checkpoint keeps
 * the newest row's metadata (id, turn, session state, deferred status) but carries the full
 * one's state and ledgerTs, so the ledger replay after it covers the gap — a warning and
 * `onChainBroken` say so. With no intact full checkpoint at all, its state is empty and its
 * ledgerTs 0: the truth set is replayed from the ledger's first row.
 * @throws StorytellerError STORED_DATA_INVALID when the newest row itself fails its schema.
 */
export async function restoreNewestCheckpoint(q: Queryable, sessionId: string, hooks: RestoreHooks = {}): Promise<RestoredCheckpoint | null> {
  if (!uuid.safeParse(sessionId).success) return null;
  // One round trip: the newest row and, when it is a delta, its base.
  const { rows } = await q.query(
    `SELECT ${prefixed('c')}, ${prefixed('b', 'b_')}
       FROM (SELECT * FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts DESC, created_at DESC LIMIT 1) c
       LEFT JOIN checkpoints b ON b.id = c.base_id`,
    [sessionId],
  );
  const raw = rows[0] as Record<string, unknown> | undefined;
  if (!raw) return null;
  const row = parseRow(Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('b_'))));
  if (row.encoding === 'full') {
    const parts = partsOfFull(row);
    if (!parts) throw new StorytellerError('STORED_DATA_INVALID', `checkpoint ${row.id}: a full row without its state`, { details: { id: row.id } });
    return { checkpoint: toCheckpoint(row, parts), mode: 'full' };
  }
  const baseRaw = raw.b_id === null || raw.b_id === undefined ? null : Object.fromEntries(Object.entries(raw).filter(([k]) => k.startsWith('b_')).map(([k, v]) => [k.slice(2), v]));
  const baseParsed = baseRaw ? storedRowSchema.safeParse(baseRaw) : null;
  const base = baseParsed?.success ? baseParsed.data : null;
  const result = baseRaw && !base ? ({ broken: 'base_invalid' } as const) : rebuild(row, base);
  if ('parts' in result) return { checkpoint: toCheckpoint(row, result.parts), mode: 'delta' };

  const fallback = await newestIntactFull(q, sessionId);
  const info: ChainBroken = { sessionId, checkpointId: row.id, baseId: row.base_id, reason: result.broken, fallbackId: fallback?.row.id ?? null };
  hooks.logger?.warn({ ...info, code: 'CHECKPOINT_CHAIN_BROKEN' }, 'delta checkpoint cannot be rebuilt: restoring from the last full checkpoint + ledger replay');
  hooks.onChainBroken?.(info);
  if (fallback) return { checkpoint: toCheckpoint(row, fallback.parts, fallback.row.ledger_ts), mode: 'fallback' };
  return { checkpoint: toCheckpoint(row, { entityState: null, truthSet: emptyTruthSet() as unknown as Json, narrativePosition: null, worldState: null }, 0), mode: 'fallback' };
}

/** The newest checkpoint's full state (see restoreNewestCheckpoint), or null. */
export async function loadNewestCheckpoint(q: Queryable, sessionId: string, hooks: RestoreHooks = {}): Promise<Checkpoint | null> {
  return (await restoreNewestCheckpoint(q, sessionId, hooks))?.checkpoint ?? null;
}

export interface StoredCheckpointState {
  id: string;
  type: CheckpointType;
  ledgerTs: number;
  encoding: 'full' | 'delta';
  /** The whole state, or null when the row cannot be rebuilt (with the reason). */
  checkpoint: Checkpoint | null;
  broken: ChainBreak | 'row_invalid' | null;
}

/** Every checkpoint of a session rebuilt as stored, oldest first, broken ones flagged instead of thrown (the auditor). */
export async function listCheckpointStates(q: Queryable, sessionId: string): Promise<StoredCheckpointState[]> {
  if (!uuid.safeParse(sessionId).success) return [];
  const { rows } = await q.query(`SELECT ${COLUMNS} FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts, created_at`, [sessionId]);
  const parsed = rows.map((r) => ({ raw: r as { id?: unknown; checkpoint_type?: unknown; ledger_ts?: unknown; encoding?: unknown }, row: storedRowSchema.safeParse(r) }));
  const fulls = new Map<string, StoredRow>();
  for (const p of parsed) if (p.row.success && p.row.data.encoding === 'full') fulls.set(p.row.data.id, p.row.data);
  return parsed.map(({ raw, row }): StoredCheckpointState => {
    if (!row.success) {
      return { id: String(raw.id), type: raw.checkpoint_type as CheckpointType, ledgerTs: Number(raw.ledger_ts), encoding: raw.encoding === 'delta' ? 'delta' : 'full', checkpoint: null, broken: 'row_invalid' };
    }
    const r = row.data;
    const meta = { id: r.id, type: r.checkpoint_type, ledgerTs: r.ledger_ts, encoding: r.encoding };
    if (r.encoding === 'full') {
      const parts = partsOfFull(r);
      return { ...meta, checkpoint: parts ? toCheckpoint(r, parts) : null, broken: parts ? null : 'row_invalid' };
    }
    const result = rebuild(r, r.base_id === null ? null : (fulls.get(r.base_id) ?? null));
    return 'parts' in result ? { ...meta, checkpoint: toCheckpoint(r, result.parts), broken: null } : { ...meta, checkpoint: null, broken: result.broken };
  });
}

/**
 * Every checkpoint of a session with its whole state, newest first (inspection, tests).
 * @throws StorytellerError STORED_DATA_INVALID when one cannot be read back or rebuilt.
 */
export async function listCheckpoints(q: Queryable, sessionId: string): Promise<Checkpoint[]> {
  const states = await listCheckpointStates(q, sessionId);
  return states.reverse().map((s) => {
    if (!s.checkpoint) throw new StorytellerError('STORED_DATA_INVALID', `checkpoint ${s.id} cannot be read back (${s.broken})`, { details: { id: s.id, reason: s.broken } });
    return s.checkpoint;
  });
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
