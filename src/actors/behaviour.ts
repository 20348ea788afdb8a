import type { NewEvent } from '../domain/events.ts';

/**
 * THE SEAM between the session runtime (issue 3, `src/machines/session.ts`) and the
 * story logic (classifier stages, agents, scene model). The session machine calls the
 * scene and turn logic only through one injected `SceneBehaviour`; the engine takes any
 * implementation as a constructor option:
 *
 *   - `src/testing/minimal-behaviour.ts` — a small deterministic one for tests;
 *   - `src/actors/story-behaviour.ts`    — the real one (STORY task).
 *
 * Rules of the seam (why they exist):
 *   - Everything that crosses it is **plain JSON** (no class instances, Maps, Dates,
 *     functions): it lives in machine context and in persisted snapshots/checkpoints.
 *     Fields typed `Json` below must hold JSON values.
 *   - Each call receives an `AbortSignal`. The runtime enforces a timeout per member
 *     (see `BehaviourTimeouts`) and cancels on scene exit and shutdown; a member that
 *     throws, rejects, or times out is replaced by a fallback and the turn is marked
 *     degraded (`TurnCompleted.degraded` lists it) — it never blocks the session.
 *   - Members are stateless between calls as far as the runtime is concerned: what must
 *     survive goes into the returned JSON (held in the session's context) or into
 *     ledger events. Process services (database, graph store, LLM router, frame
 *     computer) are given to the implementation's constructor, never through the seam.
 *   - Events returned are `NewEvent`s WITHOUT ledger metadata concerns: the runtime
 *     overwrites `sceneId`, `turn`, `inputId` and `idempotencyKey` (derived from the
 *     input's ledger id so a re-run after a crash writes each event once). `source`
 *     is kept as given.
 *
 * Stability: this file is kept stable; it may only grow by OPTIONAL members.
 * Seed sections: "Scene Entry: Cold Store → Hot Cache", "Active Play", "Scene Exit".
 *
 * @example
 * const behaviour: SceneBehaviour = createMinimalBehaviour();
 * const engine = new SessionEngine({ db, behaviour });
 */

/** A JSON value (documented intent; kept as `unknown` so interfaces are assignable). */
export type Json = unknown;

/** Which session a call serves. `storyId` is null for stories not stored in `stories`. */
export interface SessionInfo {
  sessionId: string;
  storyId: string | null;
}

/** Step 1 of scene entry: what the scene is. */
export interface SceneDefinition {
  /** UUID (the ledger's scene_id; `scenes.id` for stored stories). Stable per (story, sceneKey). */
  sceneId: string;
  /** The author's name for the scene. */
  sceneKey: string;
  /** Character entity ids present at entry; each gets a `character:<entityId>` child actor. */
  cast: string[];
  /** Behaviour-owned scene data (setting, goals, gates, exit conditions…). */
  data: Json;
}

/** Everything scene entry produced; held in the session context for the whole scene. */
export interface WarmScene {
  definition: SceneDefinition;
  /** Step 2: component state of the cast and scene entities. */
  entities: Json;
  /** Step 3: relational subgraph, narrative neighbourhood, setting adjacency. */
  graph: Json;
  /** Step 4: psychological frames per cast member. */
  frames: Json;
  /** Step 5: the sensitivity map the classifier stages match against. */
  sensitivity: Json;
  /** Step 6: the narrator's local context. */
  narrator: Json;
}

export type SceneEntryStep =
  | 'loadSceneDefinition'
  | 'loadEntityState'
  | 'loadGraphContext'
  | 'computeFrames'
  | 'buildSensitivityMap'
  | 'warmNarratorContext';

/** The six steps in order (the machine runs and times them one by one). */
export const SCENE_ENTRY_STEPS: readonly SceneEntryStep[] = [
  'loadSceneDefinition',
  'loadEntityState',
  'loadGraphContext',
  'computeFrames',
  'buildSensitivityMap',
  'warmNarratorContext',
];

export interface SceneEntryRequest {
  session: SessionInfo;
  sceneKey: string;
  /** Turn counter of the session at entry (turns count across scenes). */
  turn: number;
  /** The current truth set (TRUTH's `TruthSet`, plain JSON). */
  truthSet: Json;
  /** Entity state carried from the previous scene exit or the restored checkpoint; null at session start. */
  entityState: Json | null;
  /** World agent state carried over; null at session start. */
  worldState: Json | null;
  /** `deferred_result`s of completed deferred workflows to apply on top (resume / next scene). */
  deferredResults: Json[];
  /** What the earlier steps of this entry produced (step n sees steps 1..n-1). */
  warm: Partial<WarmScene>;
  signal: AbortSignal;
}

/** The player input a turn serves, as stored in the ledger. */
export interface TurnInput {
  /** Ledger id of the PlayerInput row: the key every effect of the turn derives from. */
  inputId: number;
  clientInputId: string;
  text: string;
  /** Turn number (1-based, across the session). */
  turn: number;
  narrativeTs: number;
}

/** Output of a classifier stage or an agent. */
export interface StageResult {
  /** Behaviour-owned result (parse, classification, intent, guidance…). */
  output: Json;
  /** Ledger events this member confirms (NarrativeEvents, InterpretiveJudgments). */
  events: NewEvent[];
}

/** A request to leave the scene, from the storykeeper or the reconciler. */
export interface SceneExitRequest {
  reason: string;
  /** The next scene's key, or null when the story ends / the behaviour should choose at exit. */
  nextSceneKey: string | null;
}

export interface AgentResult extends StageResult {
  /** Set by storykeeper or reconciler to end the scene after this turn. */
  sceneExit?: SceneExitRequest;
}

/** What the turn has produced so far; each member sees the results of the members before it. */
export interface TurnResults {
  stage1?: StageResult;
  stage2?: StageResult;
  stage3?: StageResult;
  /** By character entity id. */
  characters?: Record<string, AgentResult>;
  storykeeper?: AgentResult;
  world?: AgentResult;
  reconciler?: AgentResult;
}

export interface TurnRequest {
  session: SessionInfo;
  scene: WarmScene;
  /** Truth set before this turn (includes earlier turns' durable events and stage-4 judgments). */
  truthSet: Json;
  input: TurnInput;
  results: TurnResults;
  signal: AbortSignal;
}

export interface CharacterRequest extends TurnRequest {
  characterId: string;
}

export interface NarratorResult {
  /** The full prose answer (also streamed chunk by chunk). */
  text: string;
  events: NewEvent[];
}

export interface SceneExitPlanRequest {
  session: SessionInfo;
  scene: WarmScene;
  truthSet: Json;
  turn: number;
  /** Why the scene ends: a storykeeper/reconciler reason, 'grace_expired', 'shutdown', 'player_quit'. */
  reason: string;
  /** From the SceneExitRequest, if any. */
  requestedNextSceneKey: string | null;
  signal: AbortSignal;
}

/** A confirmed relational shift of the scene, written to the graph at exit. */
export interface SceneEdgeUpdate {
  from: string;
  to: string;
  /** Deltas per relational dimension (trust_reliability, trust_competence, trust_benevolence, affection, debt). */
  deltas: Record<string, number>;
}

export interface SceneExitPlan {
  /** Rows for `entity_snapshots` (latest component state per entity). */
  entitySnapshots: Array<{ entityId: string; kind: string; components: Json }>;
  /** Relational edge updates for GraphStore.applyEdgeUpdates. */
  edgeUpdates: SceneEdgeUpdate[];
  /** The scene to enter next; null when the story ends. */
  nextSceneKey: string | null;
  /** Checkpoint columns. */
  entityState: Json;
  worldState: Json;
  narrativePosition: Json;
  /** Extra payload for the deferred scene-boundary workflow (outbox row). */
  deferredPayload?: Json;
}

/** Members the runtime times out individually (ms). */
export type BehaviourMember =
  | SceneEntryStep
  | 'stage1'
  | 'stage2'
  | 'stage3'
  | 'stage4'
  | 'character'
  | 'storykeeper'
  | 'world'
  | 'reconciler'
  | 'narrator'
  | 'planSceneExit';

export type BehaviourTimeouts = Partial<Record<BehaviourMember, number>>;

/**
 * The scene and turn logic of a story, as the session runtime sees it.
 * Implementations must be safe to call concurrently for many sessions.
 */
export interface SceneBehaviour {
  /** The first scene of a new session. */
  openingSceneKey(session: SessionInfo, signal: AbortSignal): Promise<string>;

  // ---- scene entry (seed: six steps, each timed individually)
  loadSceneDefinition(req: SceneEntryRequest): Promise<SceneDefinition>;
  loadEntityState(req: SceneEntryRequest): Promise<Json>;
  loadGraphContext(req: SceneEntryRequest): Promise<Json>;
  computeFrames(req: SceneEntryRequest): Promise<Json>;
  buildSensitivityMap(req: SceneEntryRequest): Promise<Json>;
  warmNarratorContext(req: SceneEntryRequest): Promise<Json>;

  // ---- the turn
  /** Structural parsing. */
  stage1(req: TurnRequest): Promise<StageResult>;
  /** Factual classification → NarrativeEvents. */
  stage2(req: TurnRequest): Promise<StageResult>;
  /** Sensitivity matching → provisional InterpretiveJudgments. */
  stage3(req: TurnRequest): Promise<StageResult>;
  /** Deep interpretation; runs beside agent coordination, never blocks the answer; its events apply from the next turn. */
  stage4(req: TurnRequest): Promise<StageResult>;
  /** One call per cast member, all in parallel. */
  character(req: CharacterRequest): Promise<AgentResult>;
  storykeeper(req: TurnRequest): Promise<AgentResult>;
  world(req: TurnRequest): Promise<AgentResult>;
  /** Runs after characters, storykeeper and world; sequences their intents. */
  reconciler(req: TurnRequest): Promise<AgentResult>;
  /** Renders the answer; calls `onChunk` for every streamed piece of text, in order. */
  narrator(req: TurnRequest, onChunk: (text: string) => void): Promise<NarratorResult>;

  // ---- scene exit
  planSceneExit(req: SceneExitPlanRequest): Promise<SceneExitPlan>;

  // ---- optional
  /** Per-member timeouts overriding the engine's defaults. */
  readonly timeouts?: BehaviourTimeouts;
  /** Prose used when the narrator fails or times out (default: a neutral sentence). */
  fallbackNarration?(req: TurnRequest): string;
}
