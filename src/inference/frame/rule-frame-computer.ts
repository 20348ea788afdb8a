import { FRAME_SCHEMA_NAME } from './character-schema.ts';
import { decodePrediction } from './decoder.ts';
import type { CharacterFrame, FrameComputer, FrameInput } from './features.ts';
import { frameText } from './frame-text.ts';
import { ruleOutputVector } from './rules.ts';

/**
 * A deterministic FrameComputer without ONNX: the teacher rules (rules.ts) give the 42
 * outputs directly, decoded like a model's. Same frame shape and text as the model-backed
 * computer, no worker, no native code, so pure unit tests (and tests of the layers above)
 * can use it; `STORYTELLER_FRAME_MODEL=rules` selects it.
 *
 * @example
 * const frames = await new RuleFrameComputer().computeFrames(cast);
 */
export class RuleFrameComputer implements FrameComputer {
  async computeFrames(inputs: FrameInput[]): Promise<CharacterFrame[]> {
    return inputs.map((input) => {
      const outputs = ruleOutputVector(input);
      const prediction = decodePrediction(outputs);
      const { text, tokenCount } = frameText(input, prediction, input.name);
      return { characterId: input.characterId, schema: FRAME_SCHEMA_NAME, outputs, prediction, text, tokenCount };
    });
  }

  async close(): Promise<void> {}
}
