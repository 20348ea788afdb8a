import { describe, expect, it } from 'vitest';
import type { CharacterFeatures, CharacterPrediction } from '../../src/inference/frame/character-schema.ts';
import { decodePrediction } from '../../src/inference/frame/decoder.ts';
import { estimateTokens, frameText, MAX_FRAME_TOKENS, moreConscious, primaryName, valenceWord } from '../../src/inference/frame/frame-text.ts';
import { createRng } from '../../src/inference/frame/prng.ts';
import { RuleFrameComputer } from '../../src/inference/frame/rule-frame-computer.ts';
import { ruleOutputVector } from '../../src/inference/frame/rules.ts';
import { allCells, sampleFeatures } from '../../src/inference/frame/training-data.ts';
import { CASE_A, CASE_A_OUTPUTS } from '../fixtures/peer-reference-case-a.ts';

function cast(n: number, seed: number): CharacterFeatures[] {
  const rng = createRng(seed);
  const cells = allCells();
  return Array.from({ length: n }, (_, i) => sampleFeatures(rng, cells[rng.int(cells.length)]!, `character_${i}`));
}

describe('frame text (built from the decoded prediction)', () => {
  it('states every decoded field of reference case A, names primaries through the list, and the conflict', () => {
    const p = decodePrediction(Float32Array.from(CASE_A_OUTPUTS));
    const { text, tokenCount } = frameText(CASE_A, p, 'Ada');
    expect(text).toContain('Action: speak (confidence 0.73): Ada speaks, with restraint (valence +0.19), prompted by its own feelings in the moment.');
    expect(text).toContain('Speech: yes, conversational (confidence 0.74)');
    expect(text).toContain('Awareness: preconscious');
    // Index 7 in Case A's list (wheel order) is anticipation, intensity 0.7.
    expect(text).toContain('Dominant emotion: anticipation (now 0.70).');
    expect(text).toContain('Emotional shifts: joy +0.04; trust +0.12; fear -0.04; surprise +0.07; disgust +0.01; anticipation +0.04.');
    expect(text).toContain('Inner conflict: joy rising while fear recedes.');
    expect(text).toContain('Drivers: empathy (sediment, +0.70); grief (bedrock, +0.50).');
    expect(text).toContain("Situation: the player's speech (tender), gravitational scene, tension 0.60, 2 present.");
    expect(tokenCount).toBe(estimateTokens(text));
  });

  it('follows the prediction: no speech, awareness shifts surfacing one level, an out-of-range index, valence words', () => {
    const p: CharacterPrediction = {
      action: { type: 'resist', confidence: 0.8, valence: -0.6, context: 'world_response' },
      speech: { occurs: false, register: 'whisper', confidence: 0.5 },
      thought: { awareness: 'defended', dominantEmotionIndex: 2 },
      emotionDeltas: [{ primaryIndex: 6, intensityChange: 0.2, awarenessShifts: true }],
    };
    const text = frameText({ ...CASE_A, primaries: CASE_A.primaries.slice(0, 2) }, p).text;
    expect(text).toContain('Action: resist (confidence 0.80)');
    expect(text).toContain('with tension');
    expect(text).toContain('Speech: unlikely; if pressed, whisper');
    expect(text).toContain('Dominant emotion: unknown_2.');
    expect(text).toContain('unknown_6 +0.20, surfacing to preconscious');
    expect(moreConscious('articulate')).toBe('articulate');
    expect(moreConscious('structural')).toBe('defended');
    expect(primaryName(CASE_A, 1)).toBe('trust');
    expect([valenceWord(0.31), valenceWord(-0.31), valenceWord(0.3)]).toEqual(['with warmth', 'with tension', 'with restraint']);
  });

  it('stays inside the token budget for generated characters, and the rule computer decodes its own outputs', async () => {
    const inputs = cast(300, 11);
    const frames = await new RuleFrameComputer().computeFrames(inputs);
    frames.forEach((f, i) => {
      expect(f.tokenCount).toBe(estimateTokens(f.text));
      expect(f.tokenCount).toBeGreaterThan(60);
      expect(f.tokenCount).toBeLessThanOrEqual(MAX_FRAME_TOKENS);
      expect(f.prediction).toEqual(decodePrediction(ruleOutputVector(inputs[i]!)));
    });
  });

  it('estimates tokens: letter runs per 6, digit runs per 3, each other symbol one', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('fear rising 0.74')).toBe(5);
    expect(estimateTokens('probabilities')).toBe(3);
    expect(estimateTokens('a, b; c.')).toBe(6);
    expect(estimateTokens('12345678')).toBe(3);
  });
});
