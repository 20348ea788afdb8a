import type { Registry } from 'prom-client';
import type { Logger } from '../../logger.ts';
import type { FrameComputer } from './features.ts';
import { OnnxFrameComputer } from './onnx-frame-computer.ts';
import { RuleFrameComputer } from './rule-frame-computer.ts';

/** Value of STORYTELLER_FRAME_MODEL that selects the rule-based computer (no ONNX, no worker). */
export const RULES_FRAME_MODEL = 'rules';

/**
 * The engine's frame computer from configuration: the worker-backed ONNX model at
 * `frameModelPath` (verified at start-up; a wrong contract or a bad hash stops start-up
 * with FRAME_MODEL_CONTRACT / FRAME_MODEL_INVALID), or, when the path is `rules`, the
 * deterministic rule-based computer.
 *
 * @example
 * const frames = await openFrameComputer(config, { logger, registry, playerId: PLAYER_ID });
 * const behaviour = new StoryBehaviour({ ...services, frames });
 */
export async function openFrameComputer(
  config: { frameModelPath: string },
  deps: { logger?: Logger; registry?: Registry; playerId?: string; maxBatch?: number } = {},
): Promise<FrameComputer> {
  if (config.frameModelPath === RULES_FRAME_MODEL) return new RuleFrameComputer(deps.playerId);
  return OnnxFrameComputer.start({
    modelPath: config.frameModelPath,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.registry ? { registry: deps.registry } : {}),
    ...(deps.playerId ? { playerId: deps.playerId } : {}),
    ...(deps.maxBatch ? { maxBatch: deps.maxBatch } : {}),
  });
}
