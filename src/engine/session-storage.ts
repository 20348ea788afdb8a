import { z } from 'zod';
import type { TurnInput } from '../actors/behaviour.ts';
import {
  toDurableRecord,
  type CheckpointSessionState,
  type DurableRecord,
  type LoadedSession,
  type MidSceneCheckpointWrite,
  type SceneExitWrite,
  type SceneExitWritten,
  type SessionStorage,
  type StatusWrite,
} from '../actors/persistence.ts';
import { event, type LedgerRecord, type NewEvent } from '../domain/events.ts';
import type { FaultPoint } from './fault-points.ts';
import { applyEvents, emptyTruthSet, type TruthSet } from '../domain/truth-set.ts';
import { isStorytellerError, StorytellerError } from '../errors.ts';
import { writeCheckpoint, loadNewestCheckpoint, DEFAULT_CHECKPOINT_FULL_EVERY, type ChainBroken, type RestoreHooks } from '../persistence/checkpoints.ts';
import type { Database, Queryable } from '../persistence/database.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { validateEvent, type Ledger } from '../persistence/ledger.ts';
import { rowToRecord, ledgerColumnList } from '../persistence/ledger-rows.ts';
import type { SessionStore } from '../persistence/sessions.ts';
import type { Logger } from '../logger.ts';
import { loadTruthSet, truthSetOfCheckpoint } from '../persistence/truth-set-replay.ts';

/**
 * The engine's implementation of the session I/O port on the team's persistence layer:
 * Ledger (group commit), SessionStore, checkpoints, GraphStore, and the outbox.
 * Seed: "Scene Exit: Hot Cache → Cold Store", "Durability Model".
 */

const sessionStateSchema = z.object({
  sceneIndex: z.number().int().nonnegative(),
  sceneKey: z.string().min(1).nullable(),
  reason: z.string(),
  ended: z.boolean(),
});

export interface SessionStorageDeps {
  db: Database;
  ledger: Ledger;
  sessions: SessionStore;
  graph: GraphStore | null;
  maxPayloadBytes: number;
  logger?: Logger;
  /** Named fault points inside the storage steps (crash trials); throws to halt. */
  fault?: (point: FaultPoint, sessionId: string) => void;
  /** Counts a refused effect (metric `storyteller_effects_refused_total`). */
  onRefused?: (effect: 'edge_update' | 'event', code: string) => void;
  /** STORYTELLER_CHECKPOINT_FULL_EVERY: a full checkpoint every N, deltas between (docs/checkpoints.md). */
  checkpointFullEvery?: number;
  /** A delta checkpoint that could not be rebuilt on restore (metric `storyteller_checkpoint_fallbacks_total`). */
  onCheckpointChainBroken?: (info: ChainBroken) => void;
}



/**
 * Every completed deferred result not yet folded into the session (no `DeferredResultApplied`
 * fact with its workflow key in the ledger), in exit order. Several can be waiting: the
 * workflows of two scene exits that completed while the session was suspended.
 */
async function unappliedDeferredResults(q: Queryable, sessionId: string): Promise<LoadedSession['deferredResults']> {
  const { rows } = await q.query(
    `SELECT c.deferred_result FROM checkpoints c
      WHERE c.session_id = $1 AND c.deferred_status = 'complete' AND c.deferred_result IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM event_ledger l WHERE l.session_id = c.session_id AND l.idempotency_key = (c.deferred_result->>'workflow_key') || ':applied')
      ORDER BY c.ledger_ts, c.created_at`,
    [sessionId],
  );
  return rows.map((r) => {
    const parsed = storedDeferredResult.safeParse(r);
    if (!parsed.success) throw new StorytellerError('STORED_DATA_INVALID', `session ${sessionId}: a checkpoint's deferred_result fails its schema`);
    return parsed.data.deferred_result as LoadedSession['deferredResults'][number];
  });
}
const storedDeferredResult = z.object({ deferred_result: z.looseObject({ workflow_key: z.string().min(1) }) });

/** Locks the session row and checks the ownership epoch (fencing for the scene-exit transaction). */
async function fence(tx: Queryable, sessionId: string, epoch: number): Promise<void> {
  const { rows } = await tx.query<{ owner_epoch: number }>('SELECT owner_epoch FROM sessions WHERE id = $1 FOR UPDATE', [sessionId]);
  const owner = rows[0]?.owner_epoch;
  if (owner === undefined) throw new StorytellerError('SESSION_NOT_FOUND', `no session ${sessionId}`);
  if (Number(owner) !== epoch) {
    throw new StorytellerError('LEDGER_FENCED', `session ${sessionId} is owned by epoch ${owner}, not ${epoch}`, { details: { sessionId, epoch, ownerEpoch: owner } });
  }
}

/** Appends one event inside `tx` (narrative_ts from the locked session row); idempotent on its key. */
async function appendInTransaction(tx: Queryable, sessionId: string, e: NewEvent): Promise<DurableRecord> {
  const key = e.idempotencyKey ?? null;
  if (key) {
    const existing = await tx.query(`SELECT ${ledgerColumnList()} FROM event_ledger WHERE session_id = $1 AND idempotency_key = $2`, [sessionId, key]);
    if (existing.rows[0]) return toDurableRecord(rowToRecord(existing.rows[0]));
  }
  const alloc = await tx.query<{ ts: number }>('UPDATE sessions SET last_narrative_ts = last_narrative_ts + 1, updated_at = NOW() WHERE id = $1 RETURNING last_narrative_ts AS ts', [sessionId]);
  const ts = Number(alloc.rows[0]?.ts);
  const inserted = await tx.query(
    // session_started_at: the partition key, the session's start (docs/ledger-retention.md).
    `INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, confidence, source, narrative_ts, input_id, idempotency_key, session_started_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, (SELECT created_at FROM sessions WHERE id = $1)) RETURNING ${ledgerColumnList()}`,
    [sessionId, e.sceneId ?? null, e.turn ?? null, e.type, JSON.stringify(e.data), e.confidence ?? null, e.source, ts, e.inputId ?? null, key],
  );
  return toDurableRecord(rowToRecord(inserted.rows[0]));
}

/** Every committed row of the session after `afterTs`, in narrative order (inside a transaction). */
async function rowsAfter(tx: Queryable, sessionId: string, afterTs: number): Promise<DurableRecord[]> {
  const { rows } = await tx.query(`SELECT ${ledgerColumnList()} FROM event_ledger WHERE session_id = $1 AND narrative_ts > $2 ORDER BY narrative_ts`, [sessionId, afterTs]);
  return rows.map((r) => toDurableRecord(rowToRecord(r)));
}

/** PlayerInputs with no TurnCompleted (inside a transaction). */
async function unansweredIn(tx: Queryable, sessionId: string): Promise<Array<{ id: number; turn: number | null }>> {
  const { rows } = await tx.query<{ id: string | number; turn: number | null }>(
    `SELECT l.id, l.turn FROM event_ledger l
      WHERE l.session_id = $1 AND l.event_type = 'PlayerInput'
        AND NOT EXISTS (SELECT 1 FROM event_ledger t WHERE t.session_id = l.session_id AND t.event_type = 'TurnCompleted'
                          AND (t.input_id = l.id OR (t.event_data->>'inputId')::bigint = l.id))
      ORDER BY l.narrative_ts`,
    [sessionId],
  );
  return rows.map((r) => ({ id: Number(r.id), turn: r.turn === null ? null : Number(r.turn) }));
}

/** The scene exit a crash interrupted: the newest TurnCompleted that asked to leave, with no SceneExited after it. */
export function interruptedExit(delta: readonly LedgerRecord[]): { reason: string; nextSceneKey: string | null } | null {
  let pending: { reason: string; nextSceneKey: string | null } | null = null;
  for (const r of delta) {
    if (r.type === 'TurnCompleted' && r.data.sceneExit) pending = r.data.sceneExit;
    else if (r.type === 'SceneExited') pending = null;
  }
  return pending;
}

/**
 * The result of a scene-exit transaction that already committed (found by its SceneExited
 * key), rebuilt as the first attempt returned it: the rows after the machine's truth set
 * up to SceneExited, that truth set folded with them, and the checkpoint of the same
 * transaction (its ledger_ts is SceneExited's narrative_ts). Null when it did not commit.
 */
async function committedExit(tx: Queryable, write: SceneExitWrite, exitedKey: string): Promise<SceneExitWritten | null> {
  const found = await tx.query<{ narrative_ts: number | string }>(
    `SELECT narrative_ts FROM event_ledger WHERE session_id = $1 AND idempotency_key = $2`,
    [write.sessionId, exitedKey],
  );
  const row = found.rows[0];
  if (!row) return null;
  const exitedTs = Number(row.narrative_ts);
  const checkpoint = await tx.query<{ id: string }>(
    `SELECT id FROM checkpoints WHERE session_id = $1 AND ledger_ts = $2 AND checkpoint_type IN ('scene_exit', 'suspend') ORDER BY created_at LIMIT 1`,
    [write.sessionId, exitedTs],
  );
  const checkpointId = checkpoint.rows[0]?.id;
  if (checkpointId === undefined) throw new StorytellerError('STORED_DATA_INVALID', `session ${write.sessionId}: SceneExited at ${exitedTs} has no checkpoint`);
  const records = (await rowsAfter(tx, write.sessionId, write.truthSet.lastNarrativeTs)).filter((r) => r.narrativeTs <= exitedTs);
  return { checkpointId: String(checkpointId), records, truthSet: applyEvents(write.truthSet, records) };
}

function toTurnInput(r: DurableRecord & { clientInputId?: string | null }, clientInputId: string, turn: number): TurnInput {
  const data = r.data as { text: string };
  return { inputId: r.id ?? 0, clientInputId, text: data.text, turn, narrativeTs: r.narrativeTs };
}

/**
 * Builds the SessionStorage port.
 *
 * @example
 * const storage = createSessionStorage({ db, ledger, sessions: new SessionStore(db), graph, maxPayloadBytes: 65536 });
 */
export function createSessionStorage(deps: SessionStorageDeps): SessionStorage {
  const { db, ledger, sessions, graph } = deps;
  const checkpointOptions = { fullEvery: deps.checkpointFullEvery ?? DEFAULT_CHECKPOINT_FULL_EVERY };
  const restoreHooks: RestoreHooks = {
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.onCheckpointChainBroken ? { onChainBroken: deps.onCheckpointChainBroken } : {}),
  };

  /**
   * Guarantee 2's audit trail: an effect that will not be applied is replaced by an
   * EffectRefused event in the same batch or transaction, logged with its code and counted.
   */
  const refused = (sessionId: string, effect: 'edge_update' | 'event', error: unknown, subject: Record<string, unknown>, meta: Omit<NewEvent, 'type' | 'data'>): NewEvent => {
    const code = isStorytellerError(error) ? error.code : 'INTERNAL';
    const reason = (error instanceof Error ? error.message : String(error)).slice(0, 2_000);
    deps.logger?.warn({ sessionId, code, effect, subject }, `effect refused: ${effect}`);
    deps.onRefused?.(effect, code);
    return validateEvent(event('EffectRefused', { effect, code: code.slice(0, 64), reason, subject }, meta), deps.maxPayloadBytes);
  };

  const validOrRefused = (e: NewEvent, sessionId: string): NewEvent => {
    try {
      return validateEvent(e, deps.maxPayloadBytes);
    } catch (error) {
      // One malformed event from a behaviour (an LLM's output, say) must not refuse the whole
      // turn: it is replaced by its refusal; the rest — TurnCompleted included — is written.
      return refused(sessionId, 'event', error, { eventType: String(e.type).slice(0, 64), source: String(e.source).slice(0, 200) }, {
        source: 'session',
        sceneId: e.sceneId ?? null,
        turn: e.turn ?? null,
        inputId: e.inputId ?? null,
        idempotencyKey: e.idempotencyKey ? `${e.idempotencyKey}:refused` : null,
      });
    }
  };

  return {
    async appendInput(req) {
      const appended = await ledger.appendInput(req);
      // A retransmission (rare): whether its turn was already answered decides if it still has to be played.
      const answered = appended.duplicate
        ? (await db.query(`SELECT 1 FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted' AND input_id = $2 LIMIT 1`, [req.sessionId, appended.id])).rows.length > 0
        : false;
      return { id: appended.id, narrativeTs: appended.narrativeTs, duplicate: appended.duplicate, answered, record: toDurableRecord(appended.record) };
    },

    async appendEvents(sessionId, events, epoch, options = {}) {
      // A unit (stage 4's batch for one input) is written whole or not at all: a re-run after a
      // crash that finds the first run's rows gets them back and writes none of its own, so
      // the two runs never mix even when the re-run produced different events.
      if (options.unit !== undefined) {
        const first = await db.query(`SELECT 1 FROM event_ledger WHERE session_id = $1 AND idempotency_key = $2`, [sessionId, `${options.unit}:0`]);
        if (first.rows.length > 0) {
          const { rows } = await db.query(
            `SELECT ${ledgerColumnList()} FROM event_ledger WHERE session_id = $1 AND starts_with(idempotency_key, $2) ORDER BY narrative_ts`,
            [sessionId, `${options.unit}:`],
          );
          return rows.map((r) => toDurableRecord(rowToRecord(r)));
        }
      }
      const records = await ledger.appendEvents(sessionId, events.map((e) => validOrRefused(e, sessionId)), epoch === undefined ? {} : { epoch });
      return records.map(toDurableRecord);
    },

    flush(sessionId, ownerEpoch) {
      return ledger.flush(sessionId, ownerEpoch);
    },

    async writeSceneExit(write: SceneExitWrite): Promise<SceneExitWritten> {
      const { plan } = write;
      const exited = validateEvent(
        event(
          'SceneExited',
          { sceneId: write.sceneId, sceneKey: write.sceneKey, reason: write.reason.slice(0, 64), nextSceneKey: plan.nextSceneKey },
          { source: 'session', sceneId: write.sceneId, turn: write.turn, idempotencyKey: `scene:${write.sessionState.sceneIndex - 1}:exited` },
        ),
        deps.maxPayloadBytes,
      );
      const exitKey = `scene:${write.sessionState.sceneIndex - 1}`;
      return db.transaction(async (tx) => {
        await fence(tx, write.sessionId, write.epoch);
        // A retry after the connection dropped (the persistence actor retries through an
        // outage): the first attempt may have committed before the drop. Its SceneExited is
        // the proof; answer with what that transaction wrote instead of writing it again.
        const already = await committedExit(tx, write, exited.idempotencyKey ?? '');
        if (already) return already;
        // Rows committed after the truth set the machine captured (an input queued in the
        // persistence chain ahead of this exit) are folded first: the checkpoint's truth set
        // must equal a replay of the ledger from its first row up to the checkpoint's ledger_ts.
        const committed = await rowsAfter(tx, write.sessionId, write.truthSet.lastNarrativeTs);
        for (const s of plan.entitySnapshots) {
          // Merged, not replaced: the exit's fresh values win for the components it writes;
          // components only the deferred pipeline writes (offscreen progress, say) are kept.
          await tx.query(
            `INSERT INTO entity_snapshots (session_id, entity_id, kind, components, scene_id, turn, updated_at)
             VALUES ($1, $2, $3, $4::jsonb, $5, $6, NOW())
             ON CONFLICT (session_id, entity_id) DO UPDATE SET kind = EXCLUDED.kind,
               components = CASE WHEN jsonb_typeof(entity_snapshots.components) = 'object' AND jsonb_typeof(EXCLUDED.components) = 'object'
                                 THEN entity_snapshots.components || EXCLUDED.components ELSE EXCLUDED.components END,
               scene_id = EXCLUDED.scene_id, turn = EXCLUDED.turn, updated_at = NOW()`,
            [write.sessionId, s.entityId, s.kind, JSON.stringify(s.components ?? null), write.sceneId, write.turn],
          );
        }
        const records: DurableRecord[] = [];
        const meta = (key: string) => ({ source: 'session', sceneId: write.sceneId, turn: write.turn, idempotencyKey: `${exitKey}:${key}` });
        if (graph && plan.edgeUpdates.length > 0) {
          // Edge updates the graph refuses (an unknown vertex, say) must not lose the scene exit:
          // they are rolled back to a savepoint, and the refusal is written in this transaction.
          await tx.query('SAVEPOINT scene_exit_edges');
          try {
            await graph.applyEdgeUpdates(
              write.sessionId,
              plan.edgeUpdates.map((u) => ({ from: u.from, to: u.to, deltas: u.deltas })),
              tx,
            );
            await tx.query('RELEASE SAVEPOINT scene_exit_edges');
          } catch (error) {
            await tx.query('ROLLBACK TO SAVEPOINT scene_exit_edges');
            const subject = { updates: plan.edgeUpdates.slice(0, 50).map((u) => ({ from: u.from, to: u.to })), count: plan.edgeUpdates.length };
            records.push(await appendInTransaction(tx, write.sessionId, refused(write.sessionId, 'edge_update', error, subject, meta('edges-refused'))));
          }
        }
        if (plan.nextSceneKey === null) {
          // The story ends: every acknowledged input still waiting gets its one durable answer here.
          for (const input of await unansweredIn(tx, write.sessionId)) {
            const turn = input.turn ?? write.turn;
            const answered = event('TurnCompleted', { inputId: input.id, turn, degraded: [], outcome: 'story_ended' }, {
              source: 'session', sceneId: write.sceneId, turn, inputId: input.id, idempotencyKey: `input:${input.id}:turn-completed`,
            });
            records.push(await appendInTransaction(tx, write.sessionId, validateEvent(answered, deps.maxPayloadBytes)));
          }
        }
        records.push(await appendInTransaction(tx, write.sessionId, exited));
        deps.fault?.('exit.duringTransaction', write.sessionId);
        const truthSet: TruthSet = applyEvents(write.truthSet, [...committed, ...records].filter((r) => r.narrativeTs > write.truthSet.lastNarrativeTs));
        const checkpoint = await writeCheckpoint(tx, {
          sessionId: write.sessionId,
          sceneId: write.sceneId,
          turn: write.turn,
          type: write.suspend ? 'suspend' : 'scene_exit',
          entityState: plan.entityState ?? null,
          truthSet,
          narrativePosition: plan.narrativePosition ?? null,
          worldState: plan.worldState ?? null,
          ledgerTs: truthSet.lastNarrativeTs,
          sessionState: write.sessionState,
        }, checkpointOptions);
        await tx.query(
          `INSERT INTO outbox (session_id, kind, idempotency_key, payload) VALUES ($1, 'scene_exit', $2, $3::jsonb)
           ON CONFLICT (idempotency_key) DO NOTHING`,
          [
            write.sessionId,
            write.idempotencyKey,
            JSON.stringify({
              sessionId: write.sessionId,
              sceneId: write.sceneId,
              sceneKey: write.sceneKey,
              nextSceneKey: plan.nextSceneKey,
              checkpointId: checkpoint.id,
              reason: write.reason,
              turn: write.turn,
              deferred: plan.deferredPayload ?? null,
            }),
          ],
        );
        const status = plan.nextSceneKey === null ? 'ended' : write.suspend ? 'suspended' : 'active';
        await tx.query('UPDATE sessions SET status = $2, current_turn = $3, updated_at = NOW() WHERE id = $1', [write.sessionId, status, write.turn]);
        return { checkpointId: checkpoint.id, records, truthSet };
      });
    },

    async writeCheckpoint(write: MidSceneCheckpointWrite) {
      return db.transaction(async (tx) => {
        await fence(tx, write.sessionId, write.epoch);
        const checkpoint = await writeCheckpoint(tx, {
          sessionId: write.sessionId,
          sceneId: write.sceneId,
          turn: write.turn,
          type: write.type,
          entityState: write.entityState ?? null,
          truthSet: write.truthSet,
          narrativePosition: { sceneKey: write.sessionState.sceneKey },
          worldState: write.worldState ?? null,
          // The checkpoint covers exactly what its truth set folded; replay resumes after it.
          ledgerTs: write.truthSet.lastNarrativeTs,
          sessionState: write.sessionState,
        }, checkpointOptions);
        if (write.type === 'suspend') {
          await tx.query(`UPDATE sessions SET status = 'suspended', current_turn = $2, updated_at = NOW() WHERE id = $1`, [write.sessionId, write.turn]);
        }
        return { checkpointId: checkpoint.id };
      });
    },

    async updateStatus(sessionId: string, status: StatusWrite) {
      await sessions.update(
        sessionId,
        {
          status: status.status,
          ...(status.disconnectedAt !== undefined ? { disconnectedAt: status.disconnectedAt === null ? null : new Date(status.disconnectedAt) } : {}),
          ...(status.graceDeadline !== undefined ? { graceDeadline: status.graceDeadline === null ? null : new Date(status.graceDeadline) } : {}),
        },
        status.epoch === undefined ? {} : { epoch: status.epoch },
      );
    },

    async loadTruthSet(sessionId: string): Promise<TruthSet> {
      return (await loadTruthSet(db, ledger, sessionId, restoreHooks)).truthSet;
    },

    async loadSession(sessionId: string): Promise<LoadedSession> {
      // Independent reads in parallel (resume latency is a handful of round trips).
      const [row, checkpoint, unanswered, deferredResults] = await Promise.all([
        sessions.get(sessionId),
        loadNewestCheckpoint(db, sessionId, restoreHooks),
        // Any input without a TurnCompleted, wherever it is (an input queued during a scene exit precedes its checkpoint).
        ledger.unansweredInputs(sessionId, 0),
        unappliedDeferredResults(db, sessionId),
      ]);
      if (!row) throw new StorytellerError('SESSION_NOT_FOUND', `no session ${sessionId}`, { details: { sessionId } });
      const base = checkpoint ? truthSetOfCheckpoint(checkpoint) : null;
      const delta = await ledger.eventsSince(sessionId, checkpoint?.ledgerTs ?? 0);
      let truthSet: TruthSet = base ?? emptyTruthSet();
      const fresh = delta.filter((r) => r.narrativeTs > truthSet.lastNarrativeTs).map(toDurableRecord);
      truthSet = applyEvents(truthSet, fresh);
      let state: CheckpointSessionState | null = null;
      if (checkpoint) {
        const parsed = sessionStateSchema.safeParse(checkpoint.sessionState);
        if (!parsed.success) throw new StorytellerError('STORED_DATA_INVALID', `checkpoint ${checkpoint.id}: session_state fails its schema`);
        state = parsed.data;
      }
      let turn = checkpoint?.turn ?? 0;
      for (const r of delta) if (r.type === 'TurnCompleted') turn = Math.max(turn, r.data.turn);
      const pendingInputs = unanswered.map((r, i) => toTurnInput(toDurableRecord(r), r.clientInputId ?? '', turn + i + 1));
      return {
        storyId: row.storyId,
        status: row.status,
        truthSet,
        turn,
        sceneIndex: state?.sceneIndex ?? 0,
        sceneKey: state?.sceneKey ?? null,
        entityState: checkpoint ? (checkpoint.entityState ?? null) : null,
        worldState: checkpoint ? (checkpoint.worldState ?? null) : null,
        deferredResults,
        pendingInputs,
        graceDeadline: row.graceDeadline ? row.graceDeadline.getTime() : null,
        checkpointId: checkpoint?.id ?? null,
        exitRequest: interruptedExit(delta),
      };
    },
  };
}
