import { decodeContextOf, decodeFrame } from './decode.ts';
import { DEFAULT_PLAYER_ID, type CharacterFrame, type FrameComputer, type FrameInput } from './features.ts';
import { ruleScores } from './rules.ts';

/**
 * A deterministic FrameComputer without ONNX: the teacher rules (rules.ts) give the
 * logits directly. Same output shape and text as the model-backed computer, no worker,
 * no native code, so pure unit tests (and tests of the layers above) can use it.
 *
 * @example
 * const frames = await new RuleFrameComputer().computeFrames(cast);
 */
export class RuleFrameComputer implements FrameComputer {
  constructor(private readonly playerId: string = DEFAULT_PLAYER_ID) {}

  async computeFrames(inputs: FrameInput[]): Promise<CharacterFrame[]> {
    return inputs.map((input) => {
      const s = ruleScores(input, this.playerId);
      const { text, tokenCount } = decodeFrame(s, decodeContextOf(input, this.playerId));
      return { characterId: input.characterId, action: s.action, speech: s.speech, thought: s.thought, emotion: s.emotion, text, tokenCount };
    });
  }

  async close(): Promise<void> {}
}
