import type { Config } from '../config.ts';
import { loadStoryFile } from '../domain/story/loader.ts';
import type { Story } from '../domain/story/schema.ts';
import type { Registry } from 'prom-client';
import type { FrameComputer } from '../inference/frame/features.ts';
import { openFrameComputer } from '../inference/frame/open-frame-computer.ts';
import { loadLlmConfig } from '../inference/llm/config.ts';
import { LlmRouter, type LlmCallRecord } from '../inference/llm/router.ts';
import type { Logger } from '../logger.ts';
import type { Database } from '../persistence/database.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { LlmUsageStore } from '../persistence/llm-usage.ts';
import { entitySnapshotReader } from '../persistence/entity-snapshots.ts';
import { storeStory, storySource, type StoreResult } from '../persistence/story-store.ts';
import { storyScript } from './agents/scripted-script.ts';
import { combineFrameObservers, loggingFrameObserver, type FrameObserver } from './frame-observer.ts';
import { ledgerHistoryReader } from './scene-history.ts';
import { StoryBehaviour, type StoryBehaviourServices } from './story-behaviour.ts';

/**
 * Wires the production `StoryBehaviour` for an engine process: stories from the database
 * (the default story file loaded first), the LLM router from the environment (scripted with
 * the story-aware script when nothing is configured; token and cost totals persisted in
 * `llm_usage`; stage 1's LLM decomposition when the `classifier` role is named), the frame model of STORYTELLER_FRAME_MODEL (the ONNX model in a worker
 * thread; a wrong contract, hash or schema stops start-up; `rules` selects the rule-based frames;
 * frames are logged at debug and reported to `onFrame`),
 * and the session graph. LLM and frame metrics go to `registry` when one is given.
 *
 * @example
 * const { behaviour, story, close } = await createStoryBehaviour({ db, graph, config, logger });
 * const engine = new SessionEngine({ db, graph, behaviour });
 * const session = await engine.createSession({ storyId: story.storyId });
 */
export interface StoryBehaviourSetup {
  behaviour: StoryBehaviour;
  /** The default story (STORYTELLER_STORY), stored. */
  story: StoreResult;
  frames: FrameComputer;
  close(): Promise<void>;
}

export async function createStoryBehaviour(deps: {
  db: Database;
  graph: GraphStore;
  config: Config;
  logger: Logger;
  storyPath?: string;
  /** The default story already parsed (skips reading `storyPath`). */
  story?: Story;
  onStorykeeper?: StoryBehaviourServices['onStorykeeper'];
  /** Observer of every frame (also logged at LOG_LEVEL=debug): `play --show-frames`, a gateway debug stream. */
  onFrame?: FrameObserver;
  /** Every answered LLM call's prompt and raw reply (the gateway's debug stream). */
  onLlmCall?: (record: LlmCallRecord) => void;
  /** prom-client registry for the LLM router's and the frame model's metrics. */
  registry?: Registry;
}): Promise<StoryBehaviourSetup> {
  const story = await storeStory(deps.db, deps.graph, deps.story ?? (await loadStoryFile(deps.storyPath ?? deps.config.storyPath)));
  const registry = deps.registry ? { registry: deps.registry } : {};
  const llmConfig = loadLlmConfig(deps.config.env);
  const llm = LlmRouter.fromConfig(llmConfig, { logger: deps.logger, script: storyScript, sink: new LlmUsageStore(deps.db), ...registry });
  const frames = await openFrameComputer(deps.config, { logger: deps.logger, ...registry });
  if (deps.onLlmCall) llm.observeCalls(deps.onLlmCall);
  const onFrame = combineFrameObservers(loggingFrameObserver(deps.logger), deps.onFrame);
  const behaviour = new StoryBehaviour({
    stories: storySource(deps.db, { defaultStoryId: story.storyId }),
    llm,
    frames,
    graph: deps.graph,
    // Temporal story conditions read the session's durable ledger rows (only in scenes that use them).
    history: ledgerHistoryReader(deps.db),
    // Stage 1 asks an LLM only when the `classifier` role is named in STORYTELLER_LLM_ROLES.
    ...(llmConfig.namedRoles.includes('classifier') ? { classifier: llm.forRole('classifier') } : {}),
    // Scene entry reads what scene exits and the deferred workflows wrote to entity_snapshots.
    snapshots: entitySnapshotReader(deps.db),
    ...(deps.onStorykeeper ? { onStorykeeper: deps.onStorykeeper } : {}),
    ...(onFrame ? { onFrame } : {}),
  });
  return {
    behaviour,
    story,
    frames,
    // The router's close flushes usage totals still on their way to llm_usage.
    close: async () => {
      await Promise.all([frames.close(), llm.close()]);
    },
  };
}
