import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_DIM, FRAME_SCHEMA_NAME, OUTPUT_DIM } from '../../../src/inference/frame/character-schema.ts';
import { FRAME_OUTPUTS } from '../../../src/inference/frame/contract.ts';
import { decodePrediction } from '../../../src/inference/frame/decoder.ts';
import { encodeBatch } from '../../../src/inference/frame/encoder.ts';
import type { FrameInput } from '../../../src/inference/frame/features.ts';
import { frameText } from '../../../src/inference/frame/frame-text.ts';
import { loadOnnxRuntime, openFrameSession, resolveFrameModel } from '../../../src/inference/frame/frame-model-loader.ts';
import { OnnxFrameComputer } from '../../../src/inference/frame/onnx-frame-computer.ts';
import { openFrameComputer } from '../../../src/inference/frame/open-frame-computer.ts';
import { RuleFrameComputer } from '../../../src/inference/frame/rule-frame-computer.ts';
import { createRng } from '../../../src/inference/frame/prng.ts';
import { allCells, sampleFeatures } from '../../../src/inference/frame/training-data.ts';

// The production path: the committed model in a worker thread, requests coalesced into batches.

const COMMITTED = 'models/frame/current';

function cast(n: number, seed: number, prefix = 'c'): FrameInput[] {
  const rng = createRng(seed);
  const cells = allCells();
  return Array.from({ length: n }, (_, i) => sampleFeatures(rng, cells[rng.int(cells.length)]!, `${prefix}${i}`));
}

describe('worker-backed frame computer', () => {
  let computer: OnnxFrameComputer;
  const registry = new Registry();
  beforeAll(async () => {
    computer = await OnnxFrameComputer.start({ modelPath: COMMITTED, maxBatch: 64, registry });
  });
  afterAll(async () => {
    await computer.close();
  });

  it('computes a scene-entry batch in the worker: same outputs as an in-thread session, decoded prediction and text per character', async () => {
    const inputs = cast(12, 21);
    const frames = await computer.computeFrames(inputs);
    expect(frames.map((f) => f.characterId)).toEqual(inputs.map((i) => i.characterId));

    const ort = await loadOnnxRuntime();
    const session = await openFrameSession(await resolveFrameModel(COMMITTED));
    try {
      const out = await session.run({ features: new ort.Tensor('float32', encodeBatch(inputs), [inputs.length, FEATURE_DIM]) });
      frames.forEach((f, r) => {
        expect(f.outputs).toHaveLength(OUTPUT_DIM);
        expect(f.schema).toBe(FRAME_SCHEMA_NAME);
        for (const o of FRAME_OUTPUTS) {
          const expected = Array.from((out[o.name]!.data as Float32Array).subarray(r * o.size, (r + 1) * o.size));
          const actual = Array.from(f.outputs.subarray(o.offset, o.offset + o.size));
          actual.forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 5));
        }
        expect(f.prediction).toEqual(decodePrediction(f.outputs));
        expect(f.text).toBe(frameText(inputs[r]!, f.prediction).text);
        expect(f.tokenCount).toBeGreaterThan(60);
        expect(f.tokenCount).toBeLessThanOrEqual(400);
      });
    } finally {
      await session.release();
    }
  });

  it('coalesces single-character requests from many sessions that arrive together into one batch', async () => {
    const before = { ...computer.stats };
    const sessions = Array.from({ length: 10 }, (_, s) => cast(1, 100 + s, `session${s}-`)[0]!);
    const frames = await Promise.all(sessions.map((input) => computer.computeFrames([input])));
    expect(frames.map((f) => f[0]!.characterId)).toEqual(sessions.map((s) => s.characterId));
    expect(computer.stats.batches - before.batches).toBe(1);
    expect(computer.stats.rows - before.rows).toBe(10);
    expect(computer.stats.requests - before.requests).toBe(10);
  });

  it('queues requests that arrive while a batch runs and sends them together next', async () => {
    const before = { ...computer.stats };
    const first = computer.computeFrames(cast(3, 7, 'a'));
    // Let the first batch go out (the flush runs on the next check phase), then queue more while it runs.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const later = [computer.computeFrames(cast(1, 8, 'b')), computer.computeFrames(cast(2, 9, 'c')), computer.computeFrames(cast(1, 10, 'd'))];
    const results = await Promise.all([first, ...later]);
    expect(results.map((r) => r.length)).toEqual([3, 1, 2, 1]);
    expect(computer.stats.batches - before.batches).toBe(2);
    expect(computer.stats.maxBatchRows).toBeGreaterThanOrEqual(4);
  });

  it('answers the same character identically whether alone or inside a batch', async () => {
    const inputs = cast(6, 33);
    const together = await computer.computeFrames(inputs);
    const alone = await computer.computeFrames([inputs[4]!]);
    expect(alone[0]!.text).toBe(together[4]!.text);
    Array.from(alone[0]!.outputs).forEach((v, k) => expect(v).toBeCloseTo(together[4]!.outputs[k]!, 5));
    expect(alone[0]!.prediction).toEqual(together[4]!.prediction);
  });

  it('records batch metrics in the given registry', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/storyteller_frame_batch_rows_count \d+/);
    expect(text).toMatch(/storyteller_frame_requests_total \d+/);
  });
});

describe('frame computer limits and shutdown', () => {
  it('splits work at maxBatch without splitting a request, and rejects requests after close', async () => {
    const computer = await OnnxFrameComputer.start({ modelPath: COMMITTED, maxBatch: 4 });
    try {
      const results = await Promise.all([computer.computeFrames(cast(3, 1)), computer.computeFrames(cast(3, 2)), computer.computeFrames(cast(6, 3))]);
      expect(results.map((r) => r.length)).toEqual([3, 3, 6]);
      expect(computer.stats.batches).toBe(3);
      expect(computer.stats.maxBatchRows).toBe(6); // a request larger than maxBatch goes alone
      expect(await computer.computeFrames([])).toEqual([]);
    } finally {
      await computer.close();
    }
    await expect(computer.computeFrames(cast(1, 4))).rejects.toMatchObject({ code: 'ENGINE_SHUTTING_DOWN' });
  });

  it('replaces a worker that dies; after maxRestarts deaths it gives up with FRAME_MODEL_INVALID', async () => {
    const computer = await OnnxFrameComputer.start({ modelPath: COMMITTED, maxRestarts: 1 });
    try {
      await computer.terminateWorker(); // as a crash would
      const frames = await computer.computeFrames(cast(3, 5)); // waits for the new worker
      expect(frames.map((f) => f.tokenCount > 0)).toEqual([true, true, true]);
      expect(computer.stats.restarts).toBe(1);
      await computer.terminateWorker();
      await expect(computer.computeFrames(cast(1, 6))).rejects.toMatchObject({ code: 'FRAME_MODEL_INVALID' });
    } finally {
      await computer.close();
    }
  });

  it('opens the computer from configuration: the ONNX model by path, the rules for "rules"', async () => {
    const onnx = await openFrameComputer({ frameModelPath: COMMITTED });
    try {
      expect(onnx).toBeInstanceOf(OnnxFrameComputer);
      expect((await onnx.computeFrames(cast(1, 1)))[0]!.outputs).toHaveLength(42);
    } finally {
      await onnx.close();
    }
    expect(await openFrameComputer({ frameModelPath: 'rules' })).toBeInstanceOf(RuleFrameComputer);
  });
});
