import type { LedgerRecord } from '../domain/events.ts';
import { reconstructTruthSet, truthSetSchema, type TruthSet } from '../domain/truth-set.ts';
import { StorytellerError } from '../errors.ts';
import { loadNewestCheckpoint, type Checkpoint, type RestoreHooks } from './checkpoints.ts';
import type { Queryable } from './database.ts';

/**
 * Seed "Truth Set Reconstruction": the newest checkpoint's truth_set snapshot plus a
 * replay of the ledger rows after its ledger_ts, through the translation rules. The
 * in-memory truth set is only a cache of this.
 */

/** The part of the Ledger this needs (a Ledger fits). */
export interface LedgerReader {
  eventsSince(sessionId: string, afterNarrativeTs: number): Promise<LedgerRecord[]>;
}

export interface LoadedTruthSet {
  truthSet: TruthSet;
  /** The checkpoint it started from, or null (replayed from the start of the session). */
  checkpoint: Checkpoint | null;
  /** Ledger rows read after the checkpoint (the delta). */
  replayed: LedgerRecord[];
}

/**
 * Reads a checkpoint's truth_set back through `truthSetSchema`.
 * @throws StorytellerError STORED_DATA_INVALID when it is not a truth set.
 */
export function truthSetOfCheckpoint(checkpoint: Pick<Checkpoint, 'id' | 'truthSet'>): TruthSet {
  const parsed = truthSetSchema.safeParse(checkpoint.truthSet);
  if (!parsed.success) {
    throw new StorytellerError('STORED_DATA_INVALID', `checkpoint ${checkpoint.id}: truth_set fails its schema`, {
      details: { checkpointId: checkpoint.id, issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`) },
    });
  }
  return parsed.data;
}

/**
 * Rebuilds a session's truth set from durable storage.
 *
 * @example
 * const { truthSet, replayed } = await loadTruthSet(db, ledger, sessionId);
 */
export async function loadTruthSet(q: Queryable, ledger: LedgerReader, sessionId: string, hooks: RestoreHooks = {}): Promise<LoadedTruthSet> {
  const checkpoint = await loadNewestCheckpoint(q, sessionId, hooks);
  const base = checkpoint === null ? null : truthSetOfCheckpoint(checkpoint);
  const replayed = await ledger.eventsSince(sessionId, checkpoint?.ledgerTs ?? 0);
  return { truthSet: reconstructTruthSet(base, replayed), checkpoint, replayed };
}
