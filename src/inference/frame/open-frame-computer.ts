import type { Registry } from 'prom-client';
import type { Logger } from '../../logger.ts';
import type { FrameComputer } from './features.ts';
import { OnnxFrameComputer } from './onnx-frame-computer.ts';
import { RuleFrameComputer } from './rule-frame-computer.ts';

/** Value of STORYTELLER_FRAME_MODEL that selects the rule-based computer (no ONNX, no worker). */
export const RULES_FRAME_MODEL = 'rules';

/**
 * The engine's frame computer from configuration: the worker-backed ONNX model at
 * `frameModelPath` (verified at start-up: a wrong contract, a bad hash or an undeclared or
 * unimplemented schema stops start-up), or, when the path is `rules`, the deterministic
 * rule-based computer.
 *
 * @example
 * const frames = await openFrameComputer(config, { logger, registry });
 * const behaviour = new StoryBehaviour({ ...services, frames });
 */
export async function openFrameComputer(
  config: { frameModelPath: string; frameSchema?: string | null },
  deps: { logger?: Logger; registry?: Registry; maxBatch?: number } = {},
): Promise<FrameComputer> {
  if (config.frameModelPath === RULES_FRAME_MODEL) return new RuleFrameComputer();
  return OnnxFrameComputer.start({
    modelPath: config.frameModelPath,
    declaredSchema: config.frameSchema ?? null,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.registry ? { registry: deps.registry } : {}),
    ...(deps.maxBatch ? { maxBatch: deps.maxBatch } : {}),
  });
}
