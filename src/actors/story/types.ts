import type { Story } from '../../domain/story/schema.ts';
import type { FrameComputer } from '../../inference/frame/features.ts';
import type { LlmProvider, LlmRole } from '../../inference/llm/provider.ts';
import type { GraphStore } from '../../persistence/graph/graph-store.ts';
import type { StorykeeperVerdict, GateRelease } from '../agents/storykeeper.ts';
import type { WorldView } from '../agents/world.ts';
import type { FrameObserver } from '../frame-observer.ts';
import type { SceneData } from '../scene-model.ts';
import type { HistorySource, SceneHistoryNeeds } from '../scene-history.ts';

/**
 * The story behaviour's vocabulary (src/actors/story-behaviour.ts): the process services it
 * is built with, and the plain-JSON shapes it keeps in the warm scene and its outputs.
 */
export interface StoryBehaviourServices {
  /** The story of a session (`storyId` null → the default story). */
  stories: (storyId: string | null) => Promise<Story>;
  /** Per-role LLM providers (e.g. `LlmRouter`); default: ScriptedProvider with `storyScript` for every role. */
  llm?: { forRole(role: LlmRole): LlmProvider };
  frames?: FrameComputer;
  /**
   * The graph store: scene entry reads the session's own relational subgraph (scope = session
   * id, forked from the story and updated at every scene exit). Without it, the story's
   * authored relations are used.
   */
  graph?: Pick<GraphStore, 'relationalSubgraph'>;
  /**
   * Stage 1's optional LLM decomposition (the `classifier` role, only when configured by name):
   * asked when the rules are unsure of an input, arbitrated by them (src/actors/classifiers/decomposition.ts).
   */
  classifier?: LlmProvider;
  /** How long stage 1 waits for the classifier before the rules answer alone (default 1,500 ms). */
  classifierTimeoutMs?: number;
  /**
   * The session's entity snapshots (`entitySnapshotReader(db)`): scene entry step 2 adds the
   * cast's stored component snapshots (written by scene exits and deferred workflows) to the
   * entity state as `snapshots`. Without it, entity state comes from the truth set alone.
   */
  snapshots?: (sessionId: string, entityIds: readonly string[]) => Promise<Record<string, Record<string, unknown>>>;
  /** Observer of each storykeeper verdict (a terminal client shows gates and goals as they fire). */
  onStorykeeper?: (sessionId: string, output: StorykeeperOutput) => void;
  /**
   * The session's durable ledger rows (the engine's `Ledger`, or `ledgerHistoryReader(db)`), read
   * during a turn only by scenes whose conditions use After / Since / Sequence / eventOccurred, so
   * those see every earlier turn (src/actors/scene-history.ts). A source attached for one session
   * (`attachHistory`) takes precedence. Without either, temporal conditions see only the current turn.
   */
  history?: HistorySource;
  /** Observer of every frame computed (scene entry and each character turn): debug log, `play --show-frames`, a gateway debug stream. */
  onFrame?: FrameObserver;
}

/** Behaviour-owned extras in `SceneDefinition.data`. */
export interface StorySceneData extends SceneData {
  cast: string[];
  /** Session turn counter at entry (scene turn = input.turn − entryTurn). */
  entryTurn: number;
  /** Relationship accumulators at entry (scene-exit edge updates are the difference). */
  entryAccumulators: Record<string, number>;
  /** Cast members the player meets for the first time here (they greet). */
  firstMeetings: string[];
  /** Which evaluation points read the session history (computed at entry; absent in older snapshots → recomputed). */
  historyNeeds?: SceneHistoryNeeds;
}

export interface NarratorWarm {
  title: string;
  sceneName: string;
  /** The scene's opening prose (clients show it on entry). */
  opening: string;
  atmosphere: string;
  cast: Array<{ id: string; name: string; description: string }>;
  hint: string | null;
}

export interface WorldOutput {
  notes: string[];
  view: WorldView;
}

export interface StorykeeperOutput {
  released: GateRelease[];
  goalsCompleted: StorykeeperVerdict['goalsCompleted'];
  exit: StorykeeperVerdict['exit'];
  hint: string | null;
}
