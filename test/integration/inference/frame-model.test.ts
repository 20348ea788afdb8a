import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_OUTPUTS } from '../../../src/inference/frame/contract.ts';
import { encodeBatch, FEATURE_DIM, type FrameInput } from '../../../src/inference/frame/features.ts';
import { loadOnnxRuntime, openFrameSession, resolveFrameModel } from '../../../src/inference/frame/frame-model-loader.ts';
import { exportFrameOnnx } from '../../../src/inference/frame/onnx-export.ts';
import { OnnxFrameComputer } from '../../../src/inference/frame/onnx-frame-computer.ts';
import { createRng } from '../../../src/inference/frame/prng.ts';
import { forward, initWeights, type FrameMlpWeights } from '../../../src/inference/frame/trainer.ts';
import { allCells, sampleInput } from '../../../src/inference/frame/training-data.ts';
import { ruleScores } from '../../../src/inference/frame/rules.ts';

// Real onnxruntime-node on the committed artifact (models/frame/current) and on models
// written here with the same exporter: wrong contracts, external data, tampered manifests.

const COMMITTED = 'models/frame/current';

function cast(n: number, seed: number): FrameInput[] {
  const rng = createRng(seed);
  const cells = allCells();
  return Array.from({ length: n }, (_, i) => sampleInput(rng, cells[rng.int(cells.length)]!, `c${i}`));
}

async function runSession(session: InferenceSession, features: Float32Array, batch: number): Promise<Record<string, Float32Array>> {
  const ort = await loadOnnxRuntime();
  const out = await session.run({ features: new ort.Tensor('float32', features, [batch, FEATURE_DIM]) });
  return Object.fromEntries(FRAME_OUTPUTS.map((o) => [o.name, out[o.name]!.data as Float32Array]));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('frame model on onnxruntime-node', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frame-model-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the onnxruntime-node CPU binary shipped in the package', async () => {
    const ort = await loadOnnxRuntime();
    expect(ort.listSupportedBackends().map((b) => b.name)).toContain('cpu');
  });

  it('resolves the committed artifact through the pointer, verifies its manifest, and the session has the contract', async () => {
    const model = await resolveFrameModel(COMMITTED);
    expect(model.manifest?.version).toBe((await readFile(COMMITTED, 'utf8')).trim());
    expect(model.sha256).toBe(model.manifest?.sha256);
    const session = await openFrameSession(model);
    try {
      expect(session.inputNames).toEqual(['features']);
      expect(session.outputNames).toEqual(['action', 'speech', 'thought', 'emotion']);
      const meta = session.outputMetadata.map((m) => (m.isTensor ? [m.name, m.shape[1]] : [m.name]));
      expect(meta).toEqual([
        ['action', 14],
        ['speech', 6],
        ['thought', 6],
        ['emotion', 16],
      ]);
    } finally {
      await session.release();
    }
  });

  it('gives the same results for a batch as row by row', async () => {
    const session = await openFrameSession(await resolveFrameModel(COMMITTED));
    try {
      const inputs = cast(24, 3);
      const batch = await runSession(session, encodeBatch(inputs), inputs.length);
      for (let r = 0; r < inputs.length; r++) {
        const single = await runSession(session, encodeBatch([inputs[r]!]), 1);
        for (const o of FRAME_OUTPUTS) {
          expect(maxAbsDiff(batch[o.name]!.subarray(r * o.size, (r + 1) * o.size), single[o.name]!)).toBeLessThan(1e-5);
        }
      }
    } finally {
      await session.release();
    }
  });

  it('rejects a model with the wrong contract at start-up (FRAME_MODEL_CONTRACT), through the worker', async () => {
    const weights = initWeights(1, 8);
    const narrow: FrameMlpWeights = { ...weights, heads: weights.heads.map((h) => (h.name === 'action' ? { ...h, size: 13, w: h.w.subarray(0, 8 * 13), b: h.b.subarray(0, 13) } : h)) };
    await writeFile(join(dir, 'narrow.onnx'), exportFrameOnnx(narrow).model);
    await expect(OnnxFrameComputer.start({ modelPath: join(dir, 'narrow.onnx') })).rejects.toMatchObject({
      code: 'FRAME_MODEL_CONTRACT',
      message: expect.stringContaining("output 'action' must have shape [batch, 14]"),
    });
    await writeFile(join(dir, 'renamed.onnx'), exportFrameOnnx(weights, { inputName: 'x' }).model);
    await expect(OnnxFrameComputer.start({ modelPath: join(dir, 'renamed.onnx') })).rejects.toMatchObject({ code: 'FRAME_MODEL_CONTRACT' });
  });

  it('loads any ONNX file with the contract, including one whose weights live in a .onnx.data file beside it', async () => {
    const weights = initWeights(2, 12);
    const exported = exportFrameOnnx(weights, { externalData: 'external.onnx.data' });
    await writeFile(join(dir, 'external.onnx'), exported.model);
    await writeFile(join(dir, 'external.onnx.data'), exported.externalData!);
    expect(exported.model.length).toBeLessThan(2000); // the weights really are outside the model file
    const inputs = cast(5, 4);
    const expected = forward(weights, encodeBatch(inputs), inputs.length);
    const computer = await OnnxFrameComputer.start({ modelPath: join(dir, 'external.onnx') });
    try {
      expect(computer.model.manifest).toBeNull();
      const frames = await computer.computeFrames(inputs);
      frames.forEach((f, r) => {
        expect(maxAbsDiff(f.action, expected.action.subarray(r * 14, (r + 1) * 14))).toBeLessThan(1e-4);
        expect(maxAbsDiff(f.emotion, expected.emotion.subarray(r * 16, (r + 1) * 16))).toBeLessThan(1e-4);
      });
    } finally {
      await computer.close();
    }
  });

  it('rejects a model directory whose model does not match the manifest sha256 (FRAME_MODEL_INVALID)', async () => {
    const target = join(dir, 'tampered');
    const version = (await readFile(COMMITTED, 'utf8')).trim();
    await cp(join('models/frame', version), target, { recursive: true });
    const bytes = await readFile(join(target, 'model.onnx'));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // flipped bits in the last weight
    await writeFile(join(target, 'model.onnx'), bytes);
    await expect(resolveFrameModel(target)).rejects.toMatchObject({ code: 'FRAME_MODEL_INVALID', message: expect.stringContaining('sha256') });
    await expect(OnnxFrameComputer.start({ modelPath: target })).rejects.toMatchObject({ code: 'FRAME_MODEL_INVALID' });
  });

  it('rejects a manifest that declares another contract (FRAME_MODEL_CONTRACT) and a missing path (FRAME_MODEL_INVALID)', async () => {
    const target = join(dir, 'other-contract');
    const version = (await readFile(COMMITTED, 'utf8')).trim();
    await cp(join('models/frame', version), target, { recursive: true });
    const manifest = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8')) as { contract: { input: { shape: [string, number] } } };
    manifest.contract.input.shape = ['batch', 452];
    await writeFile(join(target, 'manifest.json'), JSON.stringify(manifest));
    await expect(resolveFrameModel(target)).rejects.toMatchObject({ code: 'FRAME_MODEL_CONTRACT' });
    await expect(resolveFrameModel(join(dir, 'nothing-here'))).rejects.toMatchObject({ code: 'FRAME_MODEL_INVALID' });
  });

  it('follows a pointer file to a directory or an .onnx file, relative to the pointer', async () => {
    await writeFile(join(dir, 'ptr'), 'external.onnx\n');
    const model = await resolveFrameModel(join(dir, 'ptr'));
    expect(model.modelPath).toBe(join(dir, 'external.onnx'));
    await writeFile(join(dir, 'bad-ptr'), '/etc/passwd\n');
    await expect(resolveFrameModel(join(dir, 'bad-ptr'))).rejects.toMatchObject({ code: 'FRAME_MODEL_INVALID' });
  });

  it('the committed model follows the rules it was trained on (fresh characters, not the training data)', async () => {
    const session = await openFrameSession(await resolveFrameModel(COMMITTED));
    try {
      const inputs = cast(400, 77);
      const out = await runSession(session, encodeBatch(inputs), inputs.length);
      const argmax = (a: ArrayLike<number>, o: number, n: number): number => {
        let best = 0;
        for (let k = 1; k < n; k++) if (a[o + k]! > a[o + best]!) best = k;
        return best;
      };
      const agreement = (head: 'action' | 'speech' | 'thought', n: number): number =>
        inputs.filter((x, r) => argmax(out[head]!, r * n, n) === argmax(ruleScores(x)[head], 0, n)).length / inputs.length;
      // Measured 0.72 / 0.67 / 0.84; the class-prior baseline is ≈ 0.17 / 0.22 / 0.28.
      expect(agreement('action', 14)).toBeGreaterThan(0.6);
      expect(agreement('speech', 6)).toBeGreaterThan(0.55);
      expect(agreement('thought', 6)).toBeGreaterThan(0.7);

      // Same characters, the player's words hostile vs warm: the shifts and tendencies move the rules' way.
      const withEvent = (hostility: number, warmth: number): FrameInput[] =>
        inputs.map((x) => ({ ...x, playerEvent: { kind: 'speech', addressedToMe: true, hostility, warmth, mentionsMe: true } }));
      const hostile = await runSession(session, encodeBatch(withEvent(0.9, 0)), inputs.length);
      const warm = await runSession(session, encodeBatch(withEvent(0, 0.9)), inputs.length);
      const mean = (o: Record<string, Float32Array>, head: string, width: number, k: number): number => {
        let sum = 0;
        for (let r = 0; r < inputs.length; r++) sum += 1 / (1 + Math.exp(-o[head]![r * width + k]!));
        return sum / inputs.length;
      };
      const count = (o: Record<string, Float32Array>, head: string, width: number, k: number): number =>
        inputs.filter((_, r) => argmax(o[head]!, r * width, width) === k).length;
      expect(mean(hostile, 'emotion', 16, 12)).toBeGreaterThan(mean(warm, 'emotion', 16, 12) + 0.3); // anger+
      expect(mean(warm, 'emotion', 16, 0)).toBeGreaterThan(mean(hostile, 'emotion', 16, 0) + 0.3); // joy+
      expect(count(hostile, 'action', 14, 2)).toBeGreaterThan(2 * count(warm, 'action', 14, 2)); // confront
      expect(count(warm, 'action', 14, 0)).toBeGreaterThan(2 * count(hostile, 'action', 14, 0)); // approach
    } finally {
      await session.release();
    }
  });
});
