import type { Config } from '../config.ts';
import { loadStoryFile } from '../domain/story/loader.ts';
import type { Story } from '../domain/story/schema.ts';
import type { FrameComputer } from '../inference/frame/features.ts';
import { RuleFrameComputer } from '../inference/frame/rule-frame-computer.ts';
import { loadLlmConfig } from '../inference/llm/config.ts';
import { LlmRouter } from '../inference/llm/router.ts';
import type { Logger } from '../logger.ts';
import type { Database } from '../persistence/database.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { storeStory, storySource, type StoreResult } from '../persistence/story-store.ts';
import { storyScript } from './agents/scripted-script.ts';
import { ledgerHistoryReader } from './scene-history.ts';
import { StoryBehaviour, type StoryBehaviourServices } from './story-behaviour.ts';

/**
 * Wires the production `StoryBehaviour` for an engine process: stories from the database
 * (the default story file loaded first), the LLM router from the environment (scripted with
 * the story-aware script when nothing is configured), the ONNX frame model when its
 * artifact loads (rule-based frames otherwise), and the session graph.
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
}): Promise<StoryBehaviourSetup> {
  const story = await storeStory(deps.db, deps.graph, deps.story ?? (await loadStoryFile(deps.storyPath ?? deps.config.storyPath)));
  const llm = LlmRouter.fromConfig(loadLlmConfig(deps.config.env), { logger: deps.logger, script: storyScript });
  const frames = await openFrameComputer(deps.config, deps.logger);
  const behaviour = new StoryBehaviour({
    stories: storySource(deps.db, { defaultStoryId: story.storyId }),
    llm,
    frames,
    graph: deps.graph,
    // Temporal story conditions read the session's durable ledger rows (only in scenes that use them).
    history: ledgerHistoryReader(deps.db),
    ...(deps.onStorykeeper ? { onStorykeeper: deps.onStorykeeper } : {}),
  });
  return { behaviour, story, frames, close: () => frames.close() };
}

/** The ONNX frame model (worker thread) when its artifact loads; the rule-based computer otherwise. */
export async function openFrameComputer(config: Pick<Config, 'frameModelPath'>, logger: Logger): Promise<FrameComputer> {
  try {
    const { OnnxFrameComputer } = await import('../inference/frame/onnx-frame-computer.ts');
    return await OnnxFrameComputer.start({ modelPath: config.frameModelPath, logger });
  } catch (error) {
    logger.warn({ err: error }, 'frame model unavailable; using the rule-based frames');
    return new RuleFrameComputer();
  }
}
