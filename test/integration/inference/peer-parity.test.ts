import { describe, expect, it } from 'vitest';
import { FEATURE_DIM, FRAME_SCHEMA_NAME, OUTPUT_DIM, type CharacterPrediction } from '../../../src/inference/frame/character-schema.ts';
import { decodePrediction } from '../../../src/inference/frame/decoder.ts';
import { encodeCharacterFeatures } from '../../../src/inference/frame/encoder.ts';
import { OnnxFrameComputer } from '../../../src/inference/frame/onnx-frame-computer.ts';
import { CASE_A, CASE_A_NONZERO, CASE_A_OUTPUTS } from '../../fixtures/peer-reference-case-a.ts';

/**
 * Parity with the storyteller project (tasker-systems/storyteller) on the spec's reference
 * case A (../shared/design/frame-schema.md §3): our features are bit-exact and our decoding
 * of the peer model's outputs is the spec's — always. That the peer's own model, run
 * through our loader and worker, gives those outputs within 1e-5 needs the model, which
 * is not committed: that test runs only where STORYTELLER_PEER_FRAME_MODEL names
 * `character_predictor.onnx` (with its `.onnx.data` beside it), and otherwise is reported
 * as not run — skipped by name, with a line on stderr.
 */

const PEER_MODEL = process.env.STORYTELLER_PEER_FRAME_MODEL;

/** The spec's decoded prediction for case A, written out by hand from §3. */
const EXPECTED: CharacterPrediction = {
  action: { type: 'speak', confidence: Math.fround(0.731659), valence: Math.fround(0.193016), context: 'emotional_reaction' },
  speech: { occurs: true, register: 'conversational', confidence: Math.fround(0.742315) },
  thought: { awareness: 'preconscious', dominantEmotionIndex: 7 },
  emotionDeltas: [
    { primaryIndex: 0, intensityChange: Math.fround(0.041458), awarenessShifts: false },
    { primaryIndex: 1, intensityChange: Math.fround(0.12327), awarenessShifts: false },
    { primaryIndex: 2, intensityChange: Math.fround(-0.044003), awarenessShifts: false },
    { primaryIndex: 3, intensityChange: Math.fround(0.071604), awarenessShifts: false },
    { primaryIndex: 5, intensityChange: Math.fround(0.011764), awarenessShifts: false },
    { primaryIndex: 7, intensityChange: Math.fround(0.03994), awarenessShifts: false },
  ],
};

/** Same decisions; scalars within the spec's 1e-5 (its outputs are rounded to 6 decimals). */
function expectPrediction(actual: CharacterPrediction): void {
  const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-5);
  expect({ ...actual.action, confidence: 0, valence: 0 }).toEqual({ ...EXPECTED.action, confidence: 0, valence: 0 });
  close(actual.action.confidence, EXPECTED.action.confidence);
  close(actual.action.valence, EXPECTED.action.valence);
  expect({ ...actual.speech, confidence: 0 }).toEqual({ ...EXPECTED.speech, confidence: 0 });
  close(actual.speech.confidence, EXPECTED.speech.confidence);
  expect(actual.thought).toEqual(EXPECTED.thought);
  expect(actual.emotionDeltas.map((d) => [d.primaryIndex, d.awarenessShifts])).toEqual(EXPECTED.emotionDeltas.map((d) => [d.primaryIndex, d.awarenessShifts]));
  actual.emotionDeltas.forEach((d, i) => close(d.intensityChange, EXPECTED.emotionDeltas[i]!.intensityChange));
}

describe(`peer parity (${FRAME_SCHEMA_NAME}, reference case A)`, () => {
  it('features are bit-exact', () => {
    const expected = new Float32Array(FEATURE_DIM);
    for (const [i, v] of CASE_A_NONZERO) expected[i] = v;
    expect(Buffer.from(encodeCharacterFeatures(CASE_A).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it("the peer model's outputs decode to the spec's prediction", () => {
    expectPrediction(decodePrediction(Float32Array.from(CASE_A_OUTPUTS)));
  });

  if (!PEER_MODEL) {
    process.stderr.write('peer parity: outputs-within-1e-5 NOT RUN — set STORYTELLER_PEER_FRAME_MODEL to the peer\'s character_predictor.onnx\n');
  }

  it.skipIf(!PEER_MODEL)('NOT RUN unless STORYTELLER_PEER_FRAME_MODEL is set: the peer model through our loader and worker gives the outputs within 1e-5', async () => {
    const computer = await OnnxFrameComputer.start({ modelPath: PEER_MODEL!, declaredSchema: FRAME_SCHEMA_NAME });
    try {
      const [frame] = await computer.computeFrames([CASE_A]);
      expect(frame!.outputs).toHaveLength(OUTPUT_DIM);
      const worst = Math.max(...Array.from(frame!.outputs, (v, i) => Math.abs(v - CASE_A_OUTPUTS[i]!)));
      expect(worst).toBeLessThan(1e-5);
      expectPrediction(frame!.prediction);
    } finally {
      await computer.close();
    }
  });
});
