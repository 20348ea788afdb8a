import { z } from 'zod';
import { isStorytellerError, StorytellerError } from '../errors.ts';
import { emptyTruthSet } from '../domain/truth-set.ts';
import type { Logger } from '../logger.ts';
import { applyPatch, applyPatchInPlace, diffJson, NO_CHANGE, patchSchema, PatchMismatch, stateHash, type Json } from './checkpoint-delta.ts';
import type { Queryable } from './database.ts';

/**
 * Checkpoints: state snapshots at scene boundaries (and manual saves, autosaves,
 * suspension). A checkpoint plus the ledger rows after its `ledgerTs` reconstructs the
 * session (seed: "Checkpoints", "Truth Set Reconstruction"). The JSON parts are opaque
 * here — each owner validates its own (the truth set with `truthSetSchema`) — but they
 * must be JSON, and the row itself is validated on the way in and on the way out.
 *
 * Stored full, or as a delta against the session's previous checkpoint with a full one
 * every N (docs/checkpoints.md); readers always get the whole state back. A broken delta
 * chain restores from the last intact full checkpoint (+ the ledger replay callers do).
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
 * The truth set is validated by its owner with `truthSetSchema` (truthSetOfCheckpoint);
 * checking it here as generic JSON too would double the cost of every restore on a long
 * session (~12 ms for a 250 kB truth set on a loaded machine) for no extra safety.
 */
const truthSetColumn = z.unknown();

/**
 * A stored row (migration 0008). `encoding` 'full' carries the four state columns.
 * 'delta' carries `delta`, a patch of the four against its parent `base_id` (the session's
 * previous checkpoint, itself full or delta), `delta_hash` (sha256 of the patch's
 * canonical text: a tampered patch is detected) and `chain_depth` (deltas since the full
 * one), and leaves the state columns SQL NULL. The patch's structure is validated by
 * `patchSchema` on restore, so a corrupt delta means a fallback, not a crash.
 */
const storedRowSchema = z.object({
  id: uuid,
  session_id: uuid,
  scene_id: uuid,
  turn: z.number().int().nonnegative(),
  checkpoint_type: z.enum(CHECKPOINT_TYPES),
  entity_state: nullableJson,
  truth_set: truthSetColumn,
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
  delta_hash: z.string().nullable(),
  chain_depth: z.number().int().nonnegative(),
});
type StoredRow = z.infer<typeof storedRowSchema>;

/** The four state parts a delta covers, as one JSON value (the unit that is diffed). */
interface StateParts {
  entityState: Json;
  truthSet: Json;
  narrativePosition: Json;
  worldState: Json;
}
const statePartsSchema = z.object({ entityState: json, truthSet: truthSetColumn, narrativePosition: json, worldState: json }) as unknown as z.ZodType<StateParts>;

const COLUMNS = `id, session_id, scene_id, turn, checkpoint_type, entity_state, truth_set, narrative_position, world_state,
  ledger_ts, session_state, deferred_status, deferred_result, created_at, encoding, base_id, delta, delta_hash, chain_depth`;

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

/** The state parts of a full row, or null when it has none (SQL NULL is not a state). */
function partsOfFull(row: StoredRow): StateParts | null {
  if (row.encoding !== 'full' || row.truth_set === null || row.truth_set === undefined) return null;
  return { entityState: row.entity_state as Json, truthSet: row.truth_set as Json, narrativePosition: row.narrative_position as Json, worldState: row.world_state as Json };
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

// ---------------------------------------------------------------- chains

export type ChainBreak = 'base_missing' | 'base_invalid' | 'delta_invalid' | 'hash_mismatch';
type Rebuilt = { parts: StateParts; depth: number } | { broken: ChainBreak; at: string };

/**
 * Rebuilds the state of `chain[0]` from its chain, given newest first and ending at the
 * full checkpoint it descends from: the full state, then every patch in order.
 */
function rebuildChain(chain: readonly StoredRow[], inPlace: boolean): Rebuilt {
  const head = chain[0];
  if (!head) return { broken: 'base_missing', at: '' };
  const root = chain[chain.length - 1] as StoredRow;
  // The chain must be linked and end at a full row (a missing ancestor ends it early).
  for (let i = 0; i < chain.length - 1; i++) {
    if ((chain[i] as StoredRow).base_id !== (chain[i + 1] as StoredRow).id) return { broken: 'base_missing', at: (chain[i] as StoredRow).id };
  }
  if (root.encoding !== 'full') return { broken: 'base_missing', at: root.id };
  let state: Json | null = partsOfFull(root) as Json | null;
  if (state === null) return { broken: 'base_invalid', at: root.id };
  for (let i = chain.length - 2; i >= 0; i--) {
    const row = chain[i] as StoredRow;
    const patch = patchSchema.safeParse(row.delta);
    if (!patch.success || row.delta_hash === null) return { broken: 'delta_invalid', at: row.id };
    // The hash catches a patch altered into another valid-looking one.
    if (stateHash(patch.data as unknown as Json) !== row.delta_hash) return { broken: 'hash_mismatch', at: row.id };
    try {
      state = inPlace ? applyPatchInPlace(state, patch.data) : applyPatch(state, patch.data);
    } catch (error) {
      if (error instanceof PatchMismatch) return { broken: 'delta_invalid', at: row.id };
      throw error;
    }
  }
  const parts = statePartsSchema.safeParse(state);
  if (!parts.success) return { broken: 'delta_invalid', at: head.id };
  return { parts: parts.data, depth: chain.length - 1 };
}

/** Hard bound on a chain walk (the config allows at most 1000): a corrupt base_id cycle ends here. */
const MAX_CHAIN = 1000;

/**
 * The newest checkpoint of a session and its ancestors up to the full one, newest first,
 * in one round trip. Rows that fail their schema come back as null (a broken link).
 */
async function newestChain(q: Queryable, sessionId: string): Promise<Array<StoredRow | null> | null> {
  const { rows } = await q.query(
    `WITH RECURSIVE chain AS (
       SELECT c.*, 0 AS hop FROM (SELECT * FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts DESC, created_at DESC LIMIT 1) c
       UNION ALL
       SELECT p.*, chain.hop + 1 FROM checkpoints p JOIN chain ON p.id = chain.base_id
        WHERE chain.encoding = 'delta' AND p.session_id = $1 AND chain.hop < ${MAX_CHAIN}
     )
     SELECT ${COLUMNS} FROM chain ORDER BY hop`,
    [sessionId],
  );
  if (rows.length === 0) return null;
  return rows.map((r, i) => (i === 0 ? parseRow(r) : (storedRowSchema.safeParse(r).data ?? null)));
}

// ---------------------------------------------------------------- write

/** Default for STORYTELLER_CHECKPOINT_FULL_EVERY: one full checkpoint, then up to 19 deltas, each against the one before. */
export const DEFAULT_CHECKPOINT_FULL_EVERY = 20;

export interface WriteCheckpointOptions {
  /**
   * A full checkpoint every N per session; the ones between are deltas, each against the
   * session's previous checkpoint. 1 = always full. Default DEFAULT_CHECKPOINT_FULL_EVERY.
   */
  fullEvery?: number;
}

/** The previous checkpoint a new delta would be written against, or null when the next one must be full. */
async function deltaParent(q: Queryable, sessionId: string, fullEvery: number): Promise<{ id: string; depth: number; parts: StateParts } | null> {
  if (fullEvery <= 1) return null;
  let chain: Array<StoredRow | null> | null;
  try {
    chain = await newestChain(q, sessionId);
  } catch (error) {
    // The newest row does not read back: start afresh with a full checkpoint.
    if (isStorytellerError(error, 'STORED_DATA_INVALID')) return null;
    throw error;
  }
  const head = chain?.[0];
  if (!chain || !head || head.chain_depth + 1 >= fullEvery) return null;
  if (chain.some((r) => r === null)) return null;
  const rebuilt = rebuildChain(chain as StoredRow[], true);
  // A broken chain is no parent: the next checkpoint is full (and so repairs the chain).
  return 'parts' in rebuilt ? { id: head.id, depth: head.chain_depth, parts: rebuilt.parts } : null;
}

/**
 * Writes a checkpoint — full, or a delta against the session's previous checkpoint (see
 * WriteCheckpointOptions); usable inside a transaction (pass the transaction's Queryable).
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
    const parent = await deltaParent(q, c.sessionId, options.fullEvery ?? DEFAULT_CHECKPOINT_FULL_EVERY);
    let delta: { parentId: string; depth: number; text: string; hash: string } | null = null;
    if (parent) {
      const patch = diffJson(parent.parts as unknown as Json, parts as unknown as Json) ?? NO_CHANGE;
      const text = jsonText(patch);
      // A delta no smaller than the state saves nothing: write it full.
      if (text.length < jsonText(parts).length) delta = { parentId: parent.id, depth: parent.depth + 1, text, hash: stateHash(patch as unknown as Json) };
    }
    const full = delta === null;
    // clock_timestamp(), not NOW(): two checkpoints in one transaction still order by creation.
    const { rows } = await q.query(
      `INSERT INTO checkpoints (session_id, scene_id, turn, checkpoint_type, entity_state, truth_set, narrative_position, world_state,
                                ledger_ts, session_state, deferred_status, created_at, encoding, base_id, delta, delta_hash, chain_depth)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10::jsonb, $11, clock_timestamp(), $12, $13, $14::jsonb, $15, $16)
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
        delta?.parentId ?? null,
        delta?.text ?? null,
        delta?.hash ?? null,
        delta?.depth ?? 0,
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

export interface ChainBroken {
  sessionId: string;
  /** The newest checkpoint, whose chain is broken. */
  checkpointId: string;
  /** The row where the chain broke (a delta whose parent is gone, a corrupt delta, a full row that does not read back). */
  brokenAt: string;
  reason: ChainBreak;
  /** The full checkpoint restored instead (null: none intact — the ledger is replayed from its first row). */
  fallbackId: string | null;
}

export interface RestoreHooks {
  /** A delta chain could not be rebuilt (metric `storyteller_checkpoint_fallbacks_total`). */
  onChainBroken?: (info: ChainBroken) => void;
  logger?: Logger;
}

export interface RestoredCheckpoint {
  checkpoint: Checkpoint;
  /** 'fallback': the newest row is a delta whose chain is broken; its state is the last intact full checkpoint's, with that one's ledgerTs. */
  mode: 'full' | 'delta' | 'fallback';
  /** Deltas applied (0 for a full checkpoint and for a fallback). */
  depth: number;
}

/** The newest full checkpoint of the session that reads back (a corrupt one is skipped). */
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
 * rebuilt from its delta chain when it is a delta. A broken chain (an ancestor deleted or
 * unreadable, a delta corrupt or tampered) falls back to the last intact full checkpoint:
 * the returned checkpoint keeps the newest row's metadata (id, turn, session state,
 * deferred status) but carries the full one's state and ledgerTs, so the ledger replay
 * after it covers the gap — a warning and `onChainBroken` say so. With no intact full
 * checkpoint at all its state is empty and its ledgerTs 0: the truth set is replayed from
 * the ledger's first row.
 * @throws StorytellerError STORED_DATA_INVALID when the newest row itself fails its schema.
 */
export async function restoreNewestCheckpoint(q: Queryable, sessionId: string, hooks: RestoreHooks = {}): Promise<RestoredCheckpoint | null> {
  if (!uuid.safeParse(sessionId).success) return null;
  const chain = await newestChain(q, sessionId);
  const head = chain?.[0];
  if (!chain || !head) return null;
  if (head.encoding === 'full') {
    const parts = partsOfFull(head);
    if (!parts) throw new StorytellerError('STORED_DATA_INVALID', `checkpoint ${head.id}: a full row without its state`, { details: { id: head.id } });
    return { checkpoint: toCheckpoint(head, parts), mode: 'full', depth: 0 };
  }
  const unreadable = chain.findIndex((r) => r === null);
  const result: Rebuilt =
    unreadable >= 0 ? { broken: 'base_invalid', at: (chain[unreadable - 1] as StoredRow).base_id ?? '' } : rebuildChain(chain as StoredRow[], true);
  if ('parts' in result) return { checkpoint: toCheckpoint(head, result.parts), mode: 'delta', depth: result.depth };

  const fallback = await newestIntactFull(q, sessionId);
  const info: ChainBroken = { sessionId, checkpointId: head.id, brokenAt: result.at, reason: result.broken, fallbackId: fallback?.row.id ?? null };
  hooks.logger?.warn({ ...info, code: 'CHECKPOINT_CHAIN_BROKEN' }, 'delta checkpoint chain broken: restoring from the last full checkpoint + ledger replay');
  hooks.onChainBroken?.(info);
  if (fallback) return { checkpoint: toCheckpoint(head, fallback.parts, fallback.row.ledger_ts), mode: 'fallback', depth: 0 };
  return { checkpoint: toCheckpoint(head, { entityState: null, truthSet: emptyTruthSet() as unknown as Json, narrativePosition: null, worldState: null }, 0), mode: 'fallback', depth: 0 };
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
  const byId = new Map<string, StoredRow>();
  for (const p of parsed) if (p.row.success) byId.set(p.row.data.id, p.row.data);
  // Each row's state from its parent's (memoised: a chain is rebuilt once, not once per row).
  const memo = new Map<string, Rebuilt>();
  const stateOf = (row: StoredRow): Rebuilt => {
    const known = memo.get(row.id);
    if (known) return known;
    let result: Rebuilt;
    if (row.encoding === 'full') {
      const parts = partsOfFull(row);
      result = parts ? { parts, depth: 0 } : { broken: 'base_invalid', at: row.id };
    } else {
      memo.set(row.id, { broken: 'base_missing', at: row.id }); // a base_id cycle ends here
      const parent = row.base_id === null ? undefined : byId.get(row.base_id);
      const up: Rebuilt = parent ? stateOf(parent) : { broken: 'base_missing', at: row.id };
      if ('parts' in up) {
        // Not in place: the parent's state is memoised (and returned) too.
        const link = rebuildChain([row, { ...(parent as StoredRow), encoding: 'full', ...fullColumns(up.parts) }], false);
        result = 'parts' in link ? { parts: link.parts, depth: up.depth + 1 } : link;
      } else {
        result = up;
      }
    }
    memo.set(row.id, result);
    return result;
  };
  return parsed.map(({ raw, row }): StoredCheckpointState => {
    if (!row.success) {
      return { id: String(raw.id), type: raw.checkpoint_type as CheckpointType, ledgerTs: Number(raw.ledger_ts), encoding: raw.encoding === 'delta' ? 'delta' : 'full', checkpoint: null, broken: 'row_invalid' };
    }
    const r = row.data;
    const meta = { id: r.id, type: r.checkpoint_type, ledgerTs: r.ledger_ts, encoding: r.encoding };
    const result = stateOf(r);
    return 'parts' in result ? { ...meta, checkpoint: toCheckpoint(r, result.parts), broken: null } : { ...meta, checkpoint: null, broken: result.broken };
  });
}

/** A parent's rebuilt state as the columns of a full row (to rebuild one link at a time). */
function fullColumns(parts: StateParts): Pick<StoredRow, 'entity_state' | 'truth_set' | 'narrative_position' | 'world_state'> {
  return { entity_state: parts.entityState, truth_set: parts.truthSet, narrative_position: parts.narrativePosition, world_state: parts.worldState };
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
