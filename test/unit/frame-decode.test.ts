import { describe, expect, it } from 'vitest';
import { ACTION_CLASSES, SPEECH_CLASSES, THOUGHT_CLASSES } from '../../src/inference/frame/contract.ts';
import { decodeContextOf, decodeFrame, estimateTokens } from '../../src/inference/frame/decode.ts';
import { createRng } from '../../src/inference/frame/prng.ts';
import { RuleFrameComputer } from '../../src/inference/frame/rule-frame-computer.ts';
import { allCells, sampleInput } from '../../src/inference/frame/training-data.ts';
import type { FrameInput } from '../../src/inference/frame/features.ts';

function cast(n: number, seed: number): FrameInput[] {
  const rng = createRng(seed);
  const cells = allCells();
  return Array.from({ length: n }, (_, i) => sampleInput(rng, cells[rng.int(cells.length)]!, `character-${i}`));
}

const keeper: FrameInput = {
  characterId: 'keeper',
  axes: [
    { name: 'duty', central: 0.9, variance: 0.1, low: 0.6, high: 1, layer: 'bedrock', awareness: 'articulate' },
    { name: 'guilt', central: -0.6, variance: 0.3, low: -1, high: 0, layer: 'sediment', awareness: 'defended' },
  ],
  emotions: { fear: 0.6, sadness: 0.3 },
  edges: [{ to: 'player', trust_reliability: -0.4, trust_competence: 0.1, trust_benevolence: -0.5, affection: -0.2, debt: 0 }],
  scene: { type: 'gate', mass: 0.7, castSize: 2, tension: 0.6, turn: 4, exitPressure: 0.2 },
  playerEvent: { kind: 'question', addressedToMe: true, hostility: 0.7, warmth: 0, mentionsMe: true, topicKeywords: ['guilt'] },
};

describe('frame decode', () => {
  it('keeps every frame text within 200–400 estimated tokens and reports that count', async () => {
    const frames = await new RuleFrameComputer().computeFrames(cast(300, 11));
    for (const f of frames) {
      expect(f.tokenCount).toBe(estimateTokens(f.text));
      expect(f.tokenCount).toBeGreaterThanOrEqual(200);
      expect(f.tokenCount).toBeLessThanOrEqual(400);
    }
  });

  it('names the dominant action, the speech register, the awareness level, emotional shifts and the player stance', async () => {
    const [frame] = await new RuleFrameComputer().computeFrames([keeper]);
    const probs = (logits: ArrayLike<number>) => {
      const e = Array.from(logits, (v) => Math.exp(v));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const top = <T extends string>(classes: readonly T[], logits: ArrayLike<number>): T => {
      const p = probs(logits);
      return classes[p.indexOf(Math.max(...p))]!;
    };
    const text = frame!.text;
    expect(text).toContain(`Dominant: ${top(ACTION_CLASSES, frame!.action)}`);
    expect(text).toContain(`Speak ${top(SPEECH_CLASSES, frame!.speech)}`);
    expect(text).toContain(`Awareness: ${top(THOUGHT_CLASSES, frame!.thought)}`);
    expect(text).toMatch(/Emotional shifts: \w+ (rising|falling) 0\.\d\d/);
    expect(text).toContain('Drivers: duty (bedrock, +0.90, articulate); guilt (sediment, -0.60, defended).');
    expect(text).toContain('Toward the player: trust -0.27');
    expect(text).toContain('a question aimed at keeper, hostile');
  });

  it('is deterministic and reflects the logits it is given', () => {
    const ctx = decodeContextOf(keeper);
    const heads = (winner: number) => ({
      action: ACTION_CLASSES.map((_, i) => (i === winner ? 5 : 0)),
      speech: [0, 0, 0, 0, 4, 0],
      thought: [0, 0, 0, 0, 0, 4],
      emotion: Array.from({ length: 16 }, (_, i) => (i === 12 ? 3 : -3)), // anger+
    });
    const a = decodeFrame(heads(0), ctx);
    expect(decodeFrame(heads(0), ctx)).toEqual(a);
    expect(a.text).toContain('Dominant: approach');
    expect(a.text).toContain('Speak warm');
    expect(a.text).toContain('Awareness: absorbed');
    expect(a.text).toContain('anger rising 0.95');
    expect(decodeFrame(heads(13), ctx).text).toContain('Dominant: wait');
  });

  it('estimates tokens: letter runs per 6, digit runs per 3, each other symbol one', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('fear rising 0.74')).toBe(5);
    expect(estimateTokens('probabilities')).toBe(3);
    expect(estimateTokens('a, b; c.')).toBe(6);
    expect(estimateTokens('12345678')).toBe(3);
  });
});
