import { applyEvents, emptyTruthSet, toCanonicalJson, type TruthSet } from '../domain/truth-set.ts';
import type { Queryable } from '../persistence/database.ts';
import { ledgerColumnList, rowToRecord } from '../persistence/ledger-rows.ts';
import { truthSetOfCheckpoint } from '../persistence/truth-set-replay.ts';
import { listCheckpointStates } from '../persistence/checkpoints.ts';
import { toDurableRecord } from '../actors/persistence.ts';

/**
 * The oracle of the three guarantees, computed from the database alone (issue 9): it
 * never asks the engine. Truth sets are rebuilt from the session's FIRST ledger row, so a
 * checkpoint is compared with an independent replay — not with the in-memory state or a
 * checkpoint + delta, which would share a wrong answer with the code under test.
 *
 * @example
 * const audit = await auditLedger(db, { acked });
 * expect(auditFailures(audit)).toEqual([]);
 */
export interface AckedInput {
  sessionId: string;
  clientInputId: string;
  /** The ledger id the ack carried. */
  inputId: number;
}

export interface LedgerAudit {
  sessions: number;
  playerInputs: number;
  checkpoints: number;
  sceneExits: number;
  /** Acknowledged, but no PlayerInput row with that id and clientInputId (guarantee 1). */
  lostInputs: AckedInput[];
  /** A PlayerInput with no TurnCompleted. */
  unansweredInputs: Array<{ sessionId: string; inputId: number }>;
  /** A PlayerInput with more than one TurnCompleted. */
  duplicateTurns: Array<{ sessionId: string; inputId: number; count: number }>;
  /** A checkpoint whose truth set differs from the replay from zero up to its ledger_ts (guarantees 2 and 3). */
  inconsistentCheckpoints: Array<{ sessionId: string; checkpointId: string; type: string; ledgerTs: number }>;
  /** A SceneExited without exactly one checkpoint and one outbox row written in the same transaction (guarantee 3). */
  brokenSceneExits: Array<{ sessionId: string; narrativeTs: number; checkpoints: number; outboxRows: number }>;
}

/** Replays a session's ledger from its first row (up to and including `uptoTs`). */
export async function replayTruthSet(q: Queryable, sessionId: string, uptoTs: number = Number.MAX_SAFE_INTEGER): Promise<TruthSet> {
  // The history view: live and archived rows (ledger archive), so an archived session replays from its first row too.
  const { rows } = await q.query(`SELECT ${ledgerColumnList()} FROM event_ledger_history WHERE session_id = $1 AND narrative_ts <= $2 ORDER BY narrative_ts`, [sessionId, uptoTs]);
  return applyEvents(emptyTruthSet(), rows.map((r) => toDurableRecord(rowToRecord(r))));
}

/** True when two truth sets are the same value (canonical JSON). */
export function sameTruthSet(a: unknown, b: unknown): boolean {
  return JSON.stringify(toCanonicalJson(a)) === JSON.stringify(toCanonicalJson(b));
}

export async function auditLedger(q: Queryable, options: { sessionIds?: readonly string[]; acked?: readonly AckedInput[] } = {}): Promise<LedgerAudit> {
  const ids = options.sessionIds ?? (await q.query<{ id: string }>('SELECT id FROM sessions ORDER BY id')).rows.map((r) => r.id);
  const audit: LedgerAudit = {
    sessions: ids.length,
    playerInputs: 0,
    checkpoints: 0,
    sceneExits: 0,
    lostInputs: [],
    unansweredInputs: [],
    duplicateTurns: [],
    inconsistentCheckpoints: [],
    brokenSceneExits: [],
  };
  for (const sessionId of ids) {
    const inputs = await q.query<{ id: string; client_input_id: string; answers: number }>(
      `SELECT p.id, p.client_input_id,
              (SELECT count(*)::int FROM event_ledger_history t WHERE t.session_id = p.session_id AND t.event_type = 'TurnCompleted'
                 AND (t.input_id = p.id OR (t.event_data->>'inputId')::bigint = p.id)) AS answers
         FROM event_ledger_history p WHERE p.session_id = $1 AND p.event_type = 'PlayerInput' ORDER BY p.narrative_ts`,
      [sessionId],
    );
    audit.playerInputs += inputs.rows.length;
    const stored = new Map(inputs.rows.map((r) => [Number(r.id), r.client_input_id]));
    for (const r of inputs.rows) {
      if (r.answers === 0) audit.unansweredInputs.push({ sessionId, inputId: Number(r.id) });
      if (r.answers > 1) audit.duplicateTurns.push({ sessionId, inputId: Number(r.id), count: r.answers });
    }
    for (const a of options.acked ?? []) {
      if (a.sessionId === sessionId && stored.get(a.inputId) !== a.clientInputId) audit.lostInputs.push(a);
    }

    // Delta checkpoints (docs/checkpoints.md) are rebuilt from their base as stored; one that
    // cannot be rebuilt is inconsistent. The replay from the first row stays the oracle.
    const checkpoints = await listCheckpointStates(q, sessionId);
    audit.checkpoints += checkpoints.length;
    for (const c of checkpoints) {
      const replayed = await replayTruthSet(q, sessionId, c.ledgerTs);
      let stored: TruthSet | null = null;
      try {
        stored = c.checkpoint ? truthSetOfCheckpoint(c.checkpoint) : null;
      } catch {
        stored = null;
      }
      if (!stored || !sameTruthSet(stored, replayed)) audit.inconsistentCheckpoints.push({ sessionId, checkpointId: c.id, type: c.type, ledgerTs: c.ledgerTs });
    }

    // Live rows only: a row moved into the archive row by row has a new xmin.
    // One transaction: the SceneExited row's xmin (ledger rows are never updated) equals the
    // writing transaction recorded on the checkpoint and the outbox row (migration 0004).
    const exits = await q.query<{ narrative_ts: string; checkpoints: number; outbox_rows: number }>(
      `SELECT e.narrative_ts,
              (SELECT count(*)::int FROM checkpoints c WHERE c.session_id = e.session_id AND c.ledger_ts = e.narrative_ts
                 AND c.checkpoint_type IN ('scene_exit', 'suspend') AND c.write_tx % 4294967296 = e.xmin::text::bigint) AS checkpoints,
              (SELECT count(*)::int FROM outbox o WHERE o.session_id = e.session_id AND o.kind = 'scene_exit'
                 AND o.write_tx % 4294967296 = e.xmin::text::bigint) AS outbox_rows
         FROM event_ledger e WHERE e.session_id = $1 AND e.event_type = 'SceneExited' ORDER BY e.narrative_ts`,
      [sessionId],
    );
    audit.sceneExits += exits.rows.length;
    for (const e of exits.rows) {
      if (e.checkpoints !== 1 || e.outbox_rows !== 1) {
        audit.brokenSceneExits.push({ sessionId, narrativeTs: Number(e.narrative_ts), checkpoints: e.checkpoints, outboxRows: e.outbox_rows });
      }
    }
  }
  return audit;
}

/** The audit's violations as readable lines (empty when all three guarantees hold). */
export function auditFailures(audit: LedgerAudit): string[] {
  return [
    ...audit.lostInputs.map((a) => `lost input ${a.clientInputId} (#${a.inputId}) of ${a.sessionId}`),
    ...audit.unansweredInputs.map((u) => `unanswered input #${u.inputId} of ${u.sessionId}`),
    ...audit.duplicateTurns.map((d) => `input #${d.inputId} of ${d.sessionId} answered ${d.count} times`),
    ...audit.inconsistentCheckpoints.map((c) => `${c.type} checkpoint ${c.checkpointId} of ${c.sessionId} differs from the replay up to ${c.ledgerTs}`),
    ...audit.brokenSceneExits.map((e) => `scene exit at ${e.narrativeTs} of ${e.sessionId}: ${e.checkpoints} checkpoints, ${e.outboxRows} outbox rows in its transaction`),
  ];
}
