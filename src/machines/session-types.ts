import type { Json, SceneExitPlan, TurnInput, TurnResults, WarmScene } from '../actors/behaviour.ts';
import type { AgentReply, Degradation } from '../actors/agent-actor.ts';
import type { ErrorInfo, LoadedSession, PersistenceReply } from '../actors/persistence.ts';
import type { TruthSet } from '../domain/truth-set.ts';

/** Input of a session root actor (the engine acquires the ownership epoch before creating it). */
export interface SessionInput {
  sessionId: string;
  /** Ownership epoch from SessionStore.acquire: fences every input append and the scene-exit transaction. */
  epoch: number;
  /** Grace period after a disconnect (ms); default config.gracePeriodMs (5 min). */
  gracePeriodMs: number;
  /** Write an 'autosave' checkpoint every N completed turns (0 or absent: never). */
  autosaveEveryTurns?: number;
}

/**
 * A durable PlayerInput waiting for its turn. `replay`: it may have been played before, by
 * another actor that crashed or lost ownership (loaded as unanswered, or appended again as a
 * duplicate); only such a turn's stage-4 batch has to look for an earlier run's rows.
 */
export type QueuedInput = Omit<TurnInput, 'turn'> & { replay?: true };

export interface CurrentTurn {
  input: TurnInput;
  results: TurnResults;
  /** Agents and stages answered by a fallback. */
  degraded: Degradation[];
  /** Request ids of the agents still running in the coordination phase. */
  pendingAgents: string[];
  /** Time spent inside behaviour members (excluded from turn overhead). */
  behaviourMs: number;
}

/** Context of the session machine: plain JSON only (it is persisted and inspected). */
export interface SessionContext {
  sessionId: string;
  epoch: number;
  storyId: string | null;
  gracePeriodMs: number;
  /** Absolute deadline (wall-clock ms) while disconnected; re-armed on restore (xstate does not persist `after`). */
  graceDeadline: number | null;
  disconnectedAt: number | null;
  truthSet: TruthSet | null;
  /** Completed turns across the session. */
  turn: number;
  /** Ordinal of the current scene (keys SceneEntered / scene-exit idempotency). */
  sceneIndex: number;
  /** Key of the scene being entered or played. */
  sceneKey: string | null;
  /** Carried into the current scene (from the previous exit or the checkpoint). */
  entityState: Json | null;
  worldState: Json | null;
  deferredResults: Json[];
  /** Scene-entry products; complete while playing. */
  warm: Partial<WarmScene>;
  /** Per-step scene-entry time (ms). */
  entryTimings: Record<string, number>;
  entryDegraded: string[];
  /** Ids of the per-scene child actors (agents and stages). */
  children: string[];
  queue: QueuedInput[];
  current: CurrentTurn | null;
  /** Ledger batches not yet durable (the next turn and the scene exit wait for them). */
  pendingWrites: number;
  /** Storykeeper / reconciler asked to leave the scene. */
  exitRequest: { reason: string; nextSceneKey: string | null } | null;
  exitPlan: SceneExitPlan | null;
  /** Why the session will suspend once the current work is done. */
  suspendReason: 'grace_expired' | 'shutdown' | null;
  batchSeq: number;
  lastCheckpointId: string | null;
  error: ErrorInfo | null;
  /** Inputs received while loading (sent for durable append once the truth set is loaded). */
  inbox: Array<{ clientInputId: string; text: string }>;
  autosaveEveryTurns: number;
  /** Turn of the last mid-scene checkpoint (autosave / manual save). */
  lastSavedTurn: number;
  /** How many deferredResults the current scene entry consumes. */
  deferredAtEntry: number;
  /**
   * Ledger ids of the inputs whose turns this actor started most recently (at most
   * RECENTLY_PLAYED): a retransmission of one of them is not played again.
   */
  recentlyPlayed: number[];
}

export type SessionEvent =
  /** A player input (text from the client, before it is durable). */
  | { type: 'input'; clientInputId: string; text: string }
  | { type: 'disconnect'; at: number }
  | { type: 'reconnect'; at: number }
  /** Sent by the engine after restoring a persisted snapshot: arm the grace timer from the deadline in context. */
  | { type: 'connection.rearm' }
  | { type: 'grace.expired' }
  /** Graceful shutdown: finish the turn in flight, flush, checkpoint, suspend. */
  | { type: 'shutdown' }
  /** Manual save: a mid-scene checkpoint. */
  | { type: 'save' }
  /** A deferred workflow's result arrived late: applied at the next scene entry. */
  | { type: 'deferred.completed'; result: Json }
  | PersistenceReply
  | AgentReply;

/** What the session tells its client and the engine (`actor.on(type, …)`). */
export type SessionEmitted =
  /** Only after the PlayerInput is durable (roadmap: the ack is a distinct event after durability). */
  /** `turn`: the PlayerInput row's turn (the turn it is played as when a session's inputs are appended one at a time, as the gateway does). */
  | { type: 'ack'; clientInputId: string; inputId: number; turn: number | null; duplicate: boolean }
  | { type: 'inputRejected'; clientInputId: string; error: ErrorInfo }
  | { type: 'turnStarted'; inputId: number; clientInputId: string; turn: number }
  | { type: 'chunk'; inputId: number; text: string }
  /** `endsScene`: a scene exit follows this turn (after the last scene, the story's end). */
  | { type: 'answer'; inputId: number; clientInputId: string; turn: number; text: string; degraded: string[]; behaviourMs: number; endsScene: boolean }
  /** TurnCompleted and the turn's events are durable. */
  | { type: 'turnRecorded'; inputId: number }
  | { type: 'sceneEntered'; sceneIndex: number; sceneKey: string; sceneId: string; timings: Record<string, number>; degraded: string[] }
  | { type: 'sceneExited'; sceneIndex: number; sceneKey: string; nextSceneKey: string | null; checkpointId: string; reason: string }
  | { type: 'checkpointed'; checkpointType: string; checkpointId: string }
  /** A deferred scene-boundary workflow's result arrived (the bridge); applied at the next scene entry. */
  | { type: 'deferred.applied'; result: Json }
  | { type: 'suspended'; reason: string }
  | { type: 'ended' }
  | { type: 'failed'; error: ErrorInfo };

export type LoadedSessionOutput = LoadedSession & { sceneKey: string };
