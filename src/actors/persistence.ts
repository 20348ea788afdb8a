import { fromCallback } from 'xstate';
import type { NewEvent, LedgerRecord } from '../domain/events.ts';
import type { TruthEvent, TruthSet } from '../domain/truth-set.ts';
import { isStorytellerError } from '../errors.ts';
import { isFaultHalt, type FaultPoint } from '../engine/fault-points.ts';
import type { Json, SceneExitPlan, TurnInput } from './behaviour.ts';
import { withStorageRetry, type StorageRetryPolicy } from '../persistence/storage-retry.ts';

/**
 * The persistence actor (issue 3 §2): one child per session (`systemId: 'persistence'`)
 * that performs every write of the session, in order, through the process-wide ledger
 * writer. Its ordering guarantee is what keeps the in-memory truth set equal to a
 * replay: the machine folds replies in narrative_ts order. One chain carries event
 * batches, checkpoints, status writes and the scene-exit transaction, in order.
 *
 * Input appends do not join that chain (issue 15 §4, "acks that never wait"): each goes
 * to the ledger at once, so its ack never waits behind the previous turn's event batch
 * or a mid-scene checkpoint. A turn's rows and a later turn's PlayerInput commute in the
 * truth set (late rows of a finished turn are stale for the momentary part; the rest is
 * keyed by statement and narrative_ts), so their ledger order may be either; a
 * mid-scene checkpoint's ledger_ts is the newest row its truth set folded, so an input
 * committed around it is simply replayed after it. Everything else (scene-entry
 * batches, the scene exit, status writes, reloads) does not commute with an input
 * (SceneEntered clears the momentary propositions): it waits for the inputs already on
 * their way, and inputs arriving while it is on the chain queue behind it — the ledger
 * keeps arrival order there, as before.
 *
 * One race remains: an input and a turn's batch racing to the database may come back
 * in the other order than they committed (the session row lock orders the commits, not
 * the replies). The actor sees it (a fresh row older than one of the other path already
 * handed on) and rebuilds the truth set from the ledger (`persist.truthSetRebuilt`),
 * holding every reply meanwhile. Input replies are also held while an op that replaces
 * the truth set runs (defensive: the ordering above already keeps them apart).
 *
 * The I/O itself is the `SessionStorage` port, implemented by the engine
 * (`src/engine/session-storage.ts`) on Ledger, SessionStore, checkpoints and GraphStore.
 */

/** JSON view of a ledger record that the truth set folds (context must stay plain JSON). */
export type DurableRecord = TruthEvent;

/** What the session keeps in `checkpoints.session_state` to resume. */
export interface CheckpointSessionState {
  /** Ordinal of the scene to (re-)enter on resume; also keys its SceneEntered event. */
  sceneIndex: number;
  /** Scene key to enter on resume (the next scene after a scene exit; the current one for a mid-scene save). */
  sceneKey: string | null;
  /** Why the checkpoint was taken. */
  reason: string;
  /** The session's story has ended. */
  ended: boolean;
}

export interface SceneExitWrite {
  sessionId: string;
  epoch: number;
  sceneId: string;
  sceneKey: string;
  turn: number;
  reason: string;
  plan: SceneExitPlan;
  truthSet: TruthSet;
  /** Grace expiry: the checkpoint is of type 'suspend' and the session is marked suspended in the same transaction. */
  suspend: boolean;
  sessionState: CheckpointSessionState;
  /** `session:<id>:scene-exit:<n>` — the outbox row's idempotency key. */
  idempotencyKey: string;
}

export interface SceneExitWritten {
  checkpointId: string;
  /**
   * The rows this transaction wrote (refusals, the story-ended answers of inputs still
   * queued when the story ended, SceneExited); the checkpoint's truth set folds them.
   */
  records: DurableRecord[];
  truthSet: TruthSet;
}

/** A checkpoint taken inside a scene: graceful shutdown ('suspend', also marks the session suspended), manual save, autosave. */
export interface MidSceneCheckpointWrite {
  type: 'suspend' | 'manual_save' | 'autosave';
  sessionId: string;
  epoch: number;
  sceneId: string;
  turn: number;
  truthSet: TruthSet;
  entityState: Json;
  worldState: Json;
  sessionState: CheckpointSessionState;
}

export type SessionStatusValue = 'active' | 'disconnected' | 'suspended' | 'ended';

export interface StatusWrite {
  status: SessionStatusValue;
  disconnectedAt?: number | null;
  graceDeadline?: number | null;
  /** Ownership fencing: a stale owner's status write is refused (LEDGER_FENCED), like its ledger appends. */
  epoch?: number;
}

export interface DurableInput {
  id: number;
  narrativeTs: number;
  /** A retransmission of a stored input (the original row came back). */
  duplicate: boolean;
  /** For a duplicate: its turn already has a TurnCompleted (nothing left to play). */
  answered?: boolean;
  record: DurableRecord;
}

/** Everything the runtime needs to start (or resume, or recover) a session. */
export interface LoadedSession {
  storyId: string | null;
  status: SessionStatusValue;
  truthSet: TruthSet;
  /** Completed turns (checkpoint turn or the newest TurnCompleted after it). */
  turn: number;
  sceneIndex: number;
  /** Null: a new session — the behaviour's opening scene. */
  sceneKey: string | null;
  entityState: Json | null;
  worldState: Json | null;
  /** Completed deferred workflow results to apply at the next scene entry. */
  deferredResults: Json[];
  /** PlayerInputs with no TurnCompleted, oldest first: re-run idempotently and answered. */
  pendingInputs: TurnInput[];
  /** Grace deadline (ms since epoch) persisted while disconnected, if any. */
  graceDeadline: number | null;
  checkpointId: string | null;
  /** A scene exit the last turn decided (its TurnCompleted says so) that a crash kept from committing: resume into it. */
  exitRequest: { reason: string; nextSceneKey: string | null } | null;
}

/** The session's I/O port (implemented by the engine; an in-memory one serves pure tests). */
export interface SessionStorage {
  appendInput(req: { sessionId: string; clientInputId: string; text: string; sceneId: string | null; turn: number | null; epoch: number }): Promise<DurableInput>;
  /**
   * Idempotent on each event's idempotencyKey; fenced by `epoch`; resolves with the durable rows in order.
   * An invalid event is replaced by an EffectRefused in the same batch. With `unit` (events keyed
   * `<unit>:<i>`), the batch is written whole or not at all: if the unit is already stored, its
   * stored rows come back and nothing new is written.
   */
  appendEvents(sessionId: string, events: NewEvent[], epoch?: number, options?: { unit?: string }): Promise<DurableRecord[]>;
  /**
   * Writes what is queued for the session now (so an input is not held behind the flush timer).
   * `ownerEpoch`: the caller's ownership epoch; an older owner's queued writes are not waited on.
   */
  flush(sessionId: string, ownerEpoch?: number): Promise<void>;
  /** Scene exit's immediate flush, ONE transaction: entity snapshots, edge updates, SceneExited, checkpoint, outbox row. */
  writeSceneExit(write: SceneExitWrite): Promise<SceneExitWritten>;
  /** Mid-scene checkpoint (after flushing the ledger); type 'suspend' also marks the session suspended. */
  writeCheckpoint(write: MidSceneCheckpointWrite): Promise<{ checkpointId: string }>;
  updateStatus(sessionId: string, status: StatusWrite): Promise<void>;
  loadSession(sessionId: string): Promise<LoadedSession>;
  /** The truth set rebuilt from durable storage (newest checkpoint + ledger after it). */
  loadTruthSet(sessionId: string): Promise<TruthSet>;
}

// ---------------------------------------------------------------- actor protocol

export type PersistenceRequest =
  /** `epoch` travels with each request (not the actor input) so a restored snapshot uses the new owner's epoch. */
  | { type: 'persist.input'; clientInputId: string; text: string; sceneId: string | null; turn: number | null; epoch: number }
  | { type: 'persist.events'; batchId: string; events: NewEvent[]; epoch: number; unit?: string }
  | { type: 'persist.sceneExit'; write: SceneExitWrite }
  | { type: 'persist.checkpoint'; write: MidSceneCheckpointWrite }
  | { type: 'persist.status'; status: StatusWrite }
  /** The in-memory truth set missed a row (an input whose first append had an unknown outcome): rebuild it. */
  | { type: 'persist.reloadTruthSet' };

export interface ErrorInfo {
  code: string;
  message: string;
}

export type PersistenceReply =
  | { type: 'persist.inputDurable'; clientInputId: string; text: string; input: DurableInput }
  | { type: 'persist.inputFailed'; clientInputId: string; error: ErrorInfo }
  | { type: 'persist.eventsDurable'; batchId: string; records: DurableRecord[] }
  | { type: 'persist.sceneExitDone'; written: SceneExitWritten }
  | { type: 'persist.checkpointDone'; checkpointType: MidSceneCheckpointWrite['type']; checkpointId: string }
  | { type: 'persist.truthSetReloaded'; truthSet: TruthSet }
  /** The actor rebuilt the truth set itself (replies came back out of commit order); no request of the machine's. */
  | { type: 'persist.truthSetRebuilt'; truthSet: TruthSet }
  | { type: 'persist.failed'; op: string; error: ErrorInfo };

export interface PersistenceInput {
  sessionId: string;
}

export interface PersistenceDeps {
  storage: SessionStorage;
  /** A named fault point; throws (FaultHalt) when a crash fires there. */
  fault: (point: FaultPoint, sessionId: string) => void;
  /** True once the engine crashed: nothing more is written or replied. */
  halted?: () => boolean;
  /** Called after the scene-exit transaction committed (deferred dispatch: the outbox relay). */
  onSceneExitCommitted?: (sessionId: string, idempotencyKey: string) => void;
  /**
   * A write that failed because the database could not be reached is retried (the write
   * is idempotent) instead of failing the session; DEFAULT_STORAGE_RETRY when absent.
   */
  retry?: StorageRetryPolicy;
  /** Each retried failure (logs, metrics). */
  onRetry?: (sessionId: string, op: string, error: unknown, attempt: number) => void;
}

export function errorInfo(error: unknown): ErrorInfo {
  if (isStorytellerError(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** Plain-JSON view of a ledger record for the truth set. */
export function toDurableRecord(r: LedgerRecord): DurableRecord {
  return { type: r.type, data: r.data, narrativeTs: r.narrativeTs, id: r.id, turn: r.turn ?? null, sceneId: r.sceneId ?? null } as DurableRecord;
}

/**
 * Builds the persistence actor logic for one engine.
 *
 * @example
 * const machine = sessionMachine.provide({ actors: { persistence: createPersistenceLogic({ storage, fault }) } });
 */
export function createPersistenceLogic(deps: PersistenceDeps) {
  return fromCallback<PersistenceRequest, PersistenceInput>(({ input, receive, sendBack }) => {
    const { sessionId } = input;
    let stopped = false;
    let chain: Promise<void> = Promise.resolve();
    /** Ops on the chain that an input must not overtake (all but a turn's event batches and mid-scene checkpoints). */
    let ordered = 0;
    /** Input appends off the chain, still on their way (settled promises; they never reject). */
    const direct = new Set<Promise<void>>();
    /** Ops replacing the truth set now running (scene exit, reload, rebuild): input replies wait for them. */
    let replacing = 0;
    /** A rebuild is running: every reply waits for it. */
    let rebuilding = false;
    /** Between an out-of-order reply and the rebuilt truth set: the machine's truth set may miss a row. */
    let dirty = false;
    let held: PersistenceReply[] = [];
    /** Newest narrative_ts handed on in an input reply / an event-batch reply. */
    let inputTs = 0;
    let eventsTs = 0;
    /** What the last replacement (scene exit, reload, rebuild) covers: rows at or before it fold to nothing. */
    let coveredTs = 0;
    const dead = (): boolean => stopped || (deps.halted?.() ?? false);
    const send = (event: PersistenceReply): void => {
      if (!dead()) sendBack(event);
    };
    const release = (): void => {
      if (replacing > 0 || rebuilding) return;
      const waiting = held;
      held = [];
      for (const r of waiting) reply(r);
    };
    const rebuild = (): void => {
      rebuilding = true;
      deps.storage.loadTruthSet(sessionId).then(
        (truthSet) => {
          rebuilding = false;
          dirty = false;
          coveredTs = Math.max(coveredTs, truthSet.lastNarrativeTs);
          send({ type: 'persist.truthSetRebuilt', truthSet });
          release();
        },
        (error: unknown) => {
          rebuilding = false;
          dirty = false;
          send({ type: 'persist.failed', op: 'rebuild', error: errorInfo(error) });
          release();
        },
      );
    };
    /** Hands a reply on, in the order the rules above need. */
    const reply = (event: PersistenceReply): void => {
      if (dead()) return;
      if (rebuilding || (replacing > 0 && (event.type === 'persist.inputDurable' || event.type === 'persist.inputFailed'))) {
        held.push(event);
        return;
      }
      // Rows not yet covered by a replacement; one older than a row of the other path already handed on is out of order.
      let inverted = false;
      if (event.type === 'persist.inputDurable' && !event.input.duplicate && event.input.narrativeTs > coveredTs) {
        inverted = event.input.narrativeTs < eventsTs;
        inputTs = Math.max(inputTs, event.input.narrativeTs);
      } else if (event.type === 'persist.eventsDurable') {
        const ts = event.records.map((r) => r.narrativeTs).filter((t) => t > coveredTs);
        if (ts.length > 0) {
          inverted = Math.min(...ts) < inputTs;
          eventsTs = Math.max(eventsTs, ...ts);
        }
      } else if (event.type === 'persist.sceneExitDone' || event.type === 'persist.truthSetReloaded') {
        coveredTs = Math.max(coveredTs, event.type === 'persist.sceneExitDone' ? event.written.truthSet.lastNarrativeTs : event.truthSet.lastNarrativeTs);
      }
      send(event);
      if (inverted) {
        dirty = true;
        rebuild();
      }
    };
    /** `order`: an input must not overtake this op; later inputs queue behind it until it is done. */
    const enqueue = (op: string, work: () => Promise<void>, order = false): void => {
      if (order) ordered += 1;
      // …and it waits for inputs already on their way: the ledger keeps the order they arrived in.
      const before = order ? [...direct] : [];
      chain = chain.then(async () => {
        try {
          if (before.length > 0) await Promise.all(before);
          if (dead()) return;
          // Through a database outage: every op here is idempotent (see storage-retry.ts); an
          // input's own failure is answered to the client inside its op and never reaches this.
          await withStorageRetry(work, {
            ...(deps.retry ? { policy: deps.retry } : {}),
            stopped: dead,
            onRetry: (error, attempt) => deps.onRetry?.(sessionId, op, error, attempt),
          });
        } catch (error) {
          // A crash (FaultHalt, or the engine halted meanwhile) ends the chain silently.
          if (isFaultHalt(error) || dead()) {
            stopped = true;
            return;
          }
          reply({ type: 'persist.failed', op, error: errorInfo(error) });
        } finally {
          if (order) ordered -= 1;
        }
      });
    };
    /** Runs `work` replacing the truth set: input replies are held until its own reply is handed on. */
    const replacingTruthSet = async (work: () => Promise<void>): Promise<void> => {
      replacing += 1;
      try {
        await work();
      } finally {
        replacing -= 1;
        release();
      }
    };

    // The session's ownership epoch, from the requests that carry it: a flush leaves out an older
    // owner's queued writes (they can only be fenced, and must not fail this owner's exit).
    let ownerEpoch: number | undefined;
    receive((request) => {
      if (request.type === 'persist.input' || request.type === 'persist.events') ownerEpoch = request.epoch;
      else if (request.type === 'persist.sceneExit' || request.type === 'persist.checkpoint') ownerEpoch = request.write.epoch;
      switch (request.type) {
        case 'persist.input': {
          const append = async (): Promise<void> => {
            try {
              const durable = await deps.storage.appendInput({ sessionId, epoch: request.epoch, clientInputId: request.clientInputId, text: request.text, sceneId: request.sceneId, turn: request.turn });
              deps.fault('input.afterAppend', sessionId);
              reply({ type: 'persist.inputDurable', clientInputId: request.clientInputId, text: request.text, input: durable });
            } catch (error) {
              if (isFaultHalt(error)) throw error;
              reply({ type: 'persist.inputFailed', clientInputId: request.clientInputId, error: errorInfo(error) });
            }
          };
          if (ordered > 0) {
            enqueue('input', append, true);
            return;
          }
          // Not on the chain: the ack never waits behind a turn's event batch or a checkpoint.
          const onItsWay = (async () => {
            if (dead()) return;
            try {
              await append();
            } catch (error) {
              // A crash (FaultHalt): nothing more is written or replied.
              if (isFaultHalt(error) || dead()) stopped = true;
            }
          })();
          direct.add(onItsWay);
          void onItsWay.finally(() => direct.delete(onItsWay));
          return;
        }
        case 'persist.events': {
          // Submitted in chain order: narrative_ts is allocated in the order the machine folds the replies.
          const sceneLevel = !request.batchId.startsWith('turn:') && !request.batchId.startsWith('stage4:');
          enqueue('events', async () => {
            const pending = deps.storage.appendEvents(sessionId, request.events, request.epoch, request.unit === undefined ? {} : { unit: request.unit });
            // If a crash fires here, nobody awaits the batch any more.
            pending.catch(() => undefined);
            deps.fault('events.inFlight', sessionId);
            const records = await pending;
            reply({ type: 'persist.eventsDurable', batchId: request.batchId, records });
          }, sceneLevel);
          return;
        }
        case 'persist.sceneExit': {
          // Asked for while the machine's truth set may miss a row: the checkpoint starts from the ledger's replay instead.
          const stale = dirty;
          enqueue('sceneExit', async () => {
            await deps.storage.flush(sessionId, ownerEpoch);
            deps.fault('exit.beforeTransaction', sessionId);
            const write = stale ? { ...request.write, truthSet: await deps.storage.loadTruthSet(sessionId) } : request.write;
            await replacingTruthSet(async () => {
              const written = await deps.storage.writeSceneExit(write);
              deps.fault('exit.afterTransaction', sessionId);
              deps.onSceneExitCommitted?.(sessionId, request.write.idempotencyKey);
              reply({ type: 'persist.sceneExitDone', written });
            });
          }, true);
          return;
        }
        case 'persist.checkpoint': {
          const stale = dirty;
          enqueue('checkpoint', async () => {
            await deps.storage.flush(sessionId, ownerEpoch);
            const write = stale ? { ...request.write, truthSet: await deps.storage.loadTruthSet(sessionId) } : request.write;
            const { checkpointId } = await deps.storage.writeCheckpoint(write);
            reply({ type: 'persist.checkpointDone', checkpointType: request.write.type, checkpointId });
          });
          return;
        }
        case 'persist.status': {
          // A status write marks lifecycle steps (loading, connect): inputs keep their old place after it.
          enqueue('status', () => deps.storage.updateStatus(sessionId, request.status), true);
          return;
        }
        case 'persist.reloadTruthSet': {
          enqueue('reload', async () => {
            await deps.storage.flush(sessionId, ownerEpoch);
            await replacingTruthSet(async () => {
              reply({ type: 'persist.truthSetReloaded', truthSet: await deps.storage.loadTruthSet(sessionId) });
            });
          }, true);
          return;
        }
      }
    });
    return () => {
      stopped = true;
    };
  });
}
