import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FEATURE_DIM } from '../../src/inference/frame/features.ts';
import { exportFrameOnnx } from '../../src/inference/frame/onnx-export.ts';
import { evaluate, train, type TrainOptions } from '../../src/inference/frame/trainer.ts';
import { CELL_COUNT, generateDataset } from '../../src/inference/frame/training-data.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const tiny: TrainOptions = { seed: 3, hidden: 8, epochs: 1, batchSize: 64, learningRate: 3e-3 };

describe('frame training', () => {
  const data = generateDataset({ seed: 5, samplesPerCell: 1 });

  it('generates one row per matrix cell and sample, reproducibly from the seed', () => {
    expect(data.size).toBe(CELL_COUNT);
    expect(CELL_COUNT).toBe(6 * 5 * 4 * 7 * 3);
    expect(data.features.length).toBe(CELL_COUNT * FEATURE_DIM);
    const again = generateDataset({ seed: 5, samplesPerCell: 1 });
    expect(sha(new Uint8Array(again.features.buffer))).toBe(sha(new Uint8Array(data.features.buffer)));
    expect(Array.from(again.action)).toEqual(Array.from(data.action));
    const other = generateDataset({ seed: 6, samplesPerCell: 1 });
    expect(sha(new Uint8Array(other.features.buffer))).not.toBe(sha(new Uint8Array(data.features.buffer)));
  });

  it('trains to identical weights (and identical ONNX bytes) from the same seed, different ones from another', () => {
    const a = train(data, tiny);
    const b = train(data, tiny);
    const c = train(data, { ...tiny, seed: 4 });
    const bytes = (w: typeof a) => exportFrameOnnx(w).model;
    expect(sha(bytes(a))).toBe(sha(bytes(b)));
    expect(Array.from(a.w1)).toEqual(Array.from(b.w1));
    expect(sha(bytes(c))).not.toBe(sha(bytes(a)));
  });

  it('learns something: after a short run every categorical head beats the class-prior baseline on held-out rows', () => {
    const heldOut = generateDataset({ seed: 9, samplesPerCell: 1 });
    const w = train(data, { ...tiny, hidden: 16, epochs: 3 });
    const m = evaluate(w, data, heldOut);
    for (const head of ['action', 'speech', 'thought'] as const) {
      expect(m[head].accuracy).toBeGreaterThan(m[head].baselineAccuracy);
      expect(m[head].crossEntropy).toBeLessThan(m[head].baselineCrossEntropy);
      expect(m[head].accuracy).toBeLessThanOrEqual(1);
    }
  });
});
