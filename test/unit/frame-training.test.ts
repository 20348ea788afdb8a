import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FEATURE_DIM, OUT, OUTPUT_DIM } from '../../src/inference/frame/character-schema.ts';
import { exportFrameOnnx } from '../../src/inference/frame/onnx-export.ts';
import { createRng } from '../../src/inference/frame/prng.ts';
import { beatsBaseline, evaluate, parameterCount, train, type TrainOptions } from '../../src/inference/frame/trainer.ts';
import { allCells, CELL_COUNT, generateDataset, sampleFeatures, sampleLabels } from '../../src/inference/frame/training-data.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const tiny: TrainOptions = { seed: 3, hidden: 8, epochs: 1, batchSize: 64, learningRate: 3e-3 };

describe('frame training (storyteller-character/1 labels)', () => {
  const data = generateDataset({ seed: 5, samplesPerCell: 1 });

  it('generates one row per matrix cell and sample, reproducibly from the seed', () => {
    expect(CELL_COUNT).toBe(6 * 5 * 4 * 7 * 7);
    expect(data.size).toBe(CELL_COUNT);
    expect(data.features.length).toBe(CELL_COUNT * FEATURE_DIM);
    expect(data.labels.length).toBe(CELL_COUNT * OUTPUT_DIM);
    const again = generateDataset({ seed: 5, samplesPerCell: 1 });
    expect(sha(new Uint8Array(again.features.buffer))).toBe(sha(new Uint8Array(data.features.buffer)));
    expect(sha(new Uint8Array(again.labels.buffer))).toBe(sha(new Uint8Array(data.labels.buffer)));
    const other = generateDataset({ seed: 6, samplesPerCell: 1 });
    expect(sha(new Uint8Array(other.features.buffer))).not.toBe(sha(new Uint8Array(data.features.buffer)));
  });

  it('writes labels in the encode_labels layout: one-hots, target −1, 0/1 flags, an index for the dominant emotion', () => {
    const rng = createRng(1);
    for (const cell of allCells().slice(0, 200)) {
      const f = sampleFeatures(rng, cell, 'x');
      const l = new Float32Array(OUTPUT_DIM);
      sampleLabels(rng, f, l, 0);
      const sum = (o: number, n: number) => [...l.subarray(o, o + n)].reduce((a, b) => a + b, 0);
      expect([sum(OUT.actionType, 6), sum(OUT.actionContext, 5), sum(OUT.speechRegister, 4), sum(OUT.awareness, 5)]).toEqual([1, 1, 1, 1]);
      expect(l[OUT.actionTarget]).toBe(-1);
      expect(l[OUT.actionConfidence]).toBeGreaterThanOrEqual(0.5);
      expect(l[OUT.actionConfidence]).toBeLessThanOrEqual(0.9 + 1e-6);
      expect([0, 1]).toContain(l[OUT.speechOccurs]);
      for (let i = 0; i < 8; i++) expect([0, 1]).toContain(l[OUT.shifts + i]);
      // The dominant index is the highest-intensity primary's slot (independent recomputation).
      const intensities = f.primaries.map((p) => p.intensity);
      expect(intensities[l[OUT.dominantEmotion]!]).toBe(Math.max(...intensities));
      expect(f.event.register === 'neutral' ? [...l.subarray(OUT.deltas, OUT.deltas + 8)].every((v) => v === 0) : true).toBe(true);
    }
  });

  it('trains to identical weights (and identical ONNX bytes) from the same seed, different ones from another', () => {
    const a = train(data, tiny);
    const b = train(data, tiny);
    const c = train(data, { ...tiny, seed: 4 });
    const bytes = (w: typeof a) => exportFrameOnnx(w).model;
    expect(sha(bytes(a))).toBe(sha(bytes(b)));
    expect(Array.from(a.w1)).toEqual(Array.from(b.w1));
    expect(sha(bytes(c))).not.toBe(sha(bytes(a)));
    expect(parameterCount(a)).toBe(453 * 8 + 8 + 8 * 42 + 42);
  });

  it('learns something: after a short run the categorical blocks and the scalars beat their baselines on held-out rows', () => {
    const heldOut = generateDataset({ seed: 9, samplesPerCell: 1 });
    const w = train(data, { ...tiny, hidden: 16, epochs: 3 });
    const m = evaluate(w, data, heldOut);
    for (const part of ['action_type', 'speech_occurs', 'speech_register', 'awareness', 'action_valence']) {
      expect(beatsBaseline(part, m[part]!), part).toBe(true);
    }
    expect(m.action_type!.value).toBeLessThanOrEqual(1);
  });
});
