import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_DIM, FRAME_SCHEMA_NAME, OUT, OUTPUT_DIM, OUTPUT_HEADS, type CharacterFeatures } from '../../../src/inference/frame/character-schema.ts';
import { adoptFrameModel } from '../../../src/inference/frame/adopt.ts';
import { argmaxLast } from '../../../src/inference/frame/decoder.ts';
import { encodeBatch } from '../../../src/inference/frame/encoder.ts';
import { loadOnnxRuntime, openFrameSession, resolveFrameModel } from '../../../src/inference/frame/frame-model-loader.ts';
import { exportFrameOnnx } from '../../../src/inference/frame/onnx-export.ts';
import { OnnxFrameComputer } from '../../../src/inference/frame/onnx-frame-computer.ts';
import { createRng } from '../../../src/inference/frame/prng.ts';
import { ruleOutputs } from '../../../src/inference/frame/rules.ts';
import { forward, initWeights, type FrameMlpWeights } from '../../../src/inference/frame/trainer.ts';
import { allCells, sampleFeatures } from '../../../src/inference/frame/training-data.ts';

// Real onnxruntime-node on the committed artifact (models/frame/current) and on models
// written here with the same exporter: wrong contracts, undeclared schemas, adoption,
// external data, tampered manifests.

const COMMITTED = 'models/frame/current';
const SCHEMA = { declaredSchema: FRAME_SCHEMA_NAME };

function cast(n: number, seed: number): CharacterFeatures[] {
  const rng = createRng(seed);
  const cells = allCells();
  return Array.from({ length: n }, (_, i) => sampleFeatures(rng, cells[rng.int(cells.length)]!, `c${i}`));
}

/** The session's four outputs concatenated per row, [batch, 42]. */
async function runSession(session: InferenceSession, features: Float32Array, batch: number): Promise<Float32Array> {
  const ort = await loadOnnxRuntime();
  const out = await session.run({ features: new ort.Tensor('float32', features, [batch, FEATURE_DIM]) });
  const flat = new Float32Array(batch * OUTPUT_DIM);
  for (const h of OUTPUT_HEADS) {
    const data = out[h.name]!.data as Float32Array;
    for (let r = 0; r < batch; r++) flat.set(data.subarray(r * h.size, (r + 1) * h.size), r * OUTPUT_DIM + h.offset);
  }
  return flat;
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

  it('resolves the committed artifact through the pointer, verifies its manifest and schema, and the session has the contract', async () => {
    const model = await resolveFrameModel(COMMITTED);
    expect(model.manifest?.version).toBe((await readFile(COMMITTED, 'utf8')).trim());
    expect(model.schema).toBe(FRAME_SCHEMA_NAME);
    expect(model.sha256).toBe(model.manifest?.sha256);
    const session = await openFrameSession(model);
    try {
      expect(session.inputNames).toEqual(['features']);
      expect(session.outputNames).toEqual(['action', 'speech', 'thought', 'emotion']);
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
        expect(maxAbsDiff(batch.subarray(r * OUTPUT_DIM, (r + 1) * OUTPUT_DIM), single)).toBeLessThan(1e-5);
      }
    } finally {
      await session.release();
    }
  });

  it('refuses a bare .onnx without a schema declaration (FRAME_MODEL_SCHEMA_UNKNOWN, naming what to do) and loads it with one', async () => {
    const weights = initWeights(2, 12);
    const exported = exportFrameOnnx(weights, { externalData: 'external.onnx.data' });
    await writeFile(join(dir, 'external.onnx'), exported.model);
    await writeFile(join(dir, 'external.onnx.data'), exported.externalData!);
    expect(exported.model.length).toBeLessThan(2000); // the weights really are outside the model file
    const path = join(dir, 'external.onnx');
    await expect(OnnxFrameComputer.start({ modelPath: path })).rejects.toMatchObject({
      code: 'FRAME_MODEL_SCHEMA_UNKNOWN',
      message: expect.stringContaining(`STORYTELLER_FRAME_SCHEMA=${FRAME_SCHEMA_NAME} or run \`storyteller model adopt ${path} --schema ${FRAME_SCHEMA_NAME}\``),
    });
    await expect(resolveFrameModel(path, { declaredSchema: 'storyteller-character/2' })).rejects.toMatchObject({ code: 'FRAME_MODEL_SCHEMA_UNSUPPORTED' });
    const inputs = cast(5, 4);
    const expected = forward(weights, encodeBatch(inputs), inputs.length);
    const computer = await OnnxFrameComputer.start({ modelPath: path, ...SCHEMA });
    try {
      expect(computer.model.manifest).toBeNull();
      expect(computer.model.schema).toBe(FRAME_SCHEMA_NAME);
      const frames = await computer.computeFrames(inputs);
      frames.forEach((f, r) => expect(maxAbsDiff(f.outputs, expected.subarray(r * OUTPUT_DIM, (r + 1) * OUTPUT_DIM))).toBeLessThan(1e-4));
    } finally {
      await computer.close();
    }
  });

  it('`model adopt` writes a manifest beside a foreign model (sha256 of model and external data, schema); it then loads undeclared', async () => {
    const sub = join(dir, 'adopt');
    await mkdir(sub, { recursive: true });
    await cp(join(dir, 'external.onnx'), join(sub, 'character_predictor.onnx'));
    // The exported model names its side file 'external.onnx.data'; keep that name, and add the peer's `<file>.data` too.
    await cp(join(dir, 'external.onnx.data'), join(sub, 'external.onnx.data'));
    await cp(join(dir, 'external.onnx.data'), join(sub, 'character_predictor.onnx.data'));
    const file = join(sub, 'character_predictor.onnx');
    await expect(adoptFrameModel(file, { schema: 'peer/9' })).rejects.toMatchObject({ code: 'FRAME_MODEL_SCHEMA_UNSUPPORTED' });
    const { manifest, manifestPath } = await adoptFrameModel(file, { schema: FRAME_SCHEMA_NAME, now: new Date('2026-12-03T00:00:00Z') });
    expect(manifest).toMatchObject({ model: 'character_predictor.onnx', schema: FRAME_SCHEMA_NAME, origin: 'adopted', externalData: { file: 'character_predictor.onnx.data' } });
    expect(manifestPath).toBe(join(sub, 'manifest.json'));
    await expect(adoptFrameModel(file, { schema: FRAME_SCHEMA_NAME })).rejects.toMatchObject({ code: 'FRAME_MODEL_INVALID', message: expect.stringContaining('--force') });
    for (const path of [file, sub]) {
      const model = await resolveFrameModel(path);
      expect(model.schema).toBe(FRAME_SCHEMA_NAME);
      expect(model.manifest?.origin).toBe('adopted');
    }
    const computer = await OnnxFrameComputer.start({ modelPath: file });
    await computer.close();
    // A manifest naming a schema we do not implement stops start-up too.
    const text = await readFile(manifestPath, 'utf8');
    await writeFile(manifestPath, text.replace(FRAME_SCHEMA_NAME, 'storyteller-character/2'));
    await expect(OnnxFrameComputer.start({ modelPath: file })).rejects.toMatchObject({ code: 'FRAME_MODEL_SCHEMA_UNSUPPORTED' });
    // One from before schemas (no `schema` field) says FRAME_MODEL_SCHEMA_UNKNOWN.
    const { schema: _schema, ...old } = JSON.parse(text) as Record<string, unknown>;
    await writeFile(manifestPath, JSON.stringify(old));
    await expect(resolveFrameModel(sub)).rejects.toMatchObject({ code: 'FRAME_MODEL_SCHEMA_UNKNOWN' });
  });

  it('rejects a model with the wrong contract at start-up (FRAME_MODEL_CONTRACT), through the worker and in adopt', async () => {
    const weights = initWeights(1, 8);
    const narrow: FrameMlpWeights = { ...weights, heads: weights.heads.map((h) => (h.name === 'action' ? { ...h, size: 13, w: h.w.subarray(0, 8 * 13), b: h.b.subarray(0, 13) } : h)) };
    await writeFile(join(dir, 'narrow.onnx'), exportFrameOnnx(narrow).model);
    await expect(OnnxFrameComputer.start({ modelPath: join(dir, 'narrow.onnx'), ...SCHEMA })).rejects.toMatchObject({
      code: 'FRAME_MODEL_CONTRACT',
      message: expect.stringContaining("output 'action' must have shape [batch, 14]"),
    });
    await writeFile(join(dir, 'renamed.onnx'), exportFrameOnnx(weights, { inputName: 'x' }).model);
    await expect(OnnxFrameComputer.start({ modelPath: join(dir, 'renamed.onnx'), ...SCHEMA })).rejects.toMatchObject({ code: 'FRAME_MODEL_CONTRACT' });
    await expect(adoptFrameModel(join(dir, 'renamed.onnx'), { schema: FRAME_SCHEMA_NAME })).rejects.toMatchObject({ code: 'FRAME_MODEL_CONTRACT' });
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
    const model = await resolveFrameModel(join(dir, 'ptr'), SCHEMA);
    expect(model.modelPath).toBe(join(dir, 'external.onnx'));
    await writeFile(join(dir, 'bad-ptr'), '/etc/passwd\n');
    await expect(resolveFrameModel(join(dir, 'bad-ptr'), SCHEMA)).rejects.toMatchObject({ code: 'FRAME_MODEL_INVALID' });
  });

  it('the committed model follows the rules it was trained on (fresh characters, not the training data)', async () => {
    const session = await openFrameSession(await resolveFrameModel(COMMITTED));
    try {
      const inputs = cast(400, 77);
      const out = await runSession(session, encodeBatch(inputs), inputs.length);
      const ruleArgmax = (xs: readonly number[]) => xs.indexOf(Math.max(...xs));
      const agreement = (offset: number, n: number, rule: (f: CharacterFeatures) => number[]): number =>
        inputs.filter((f, r) => argmaxLast(out, r * OUTPUT_DIM + offset, n) === ruleArgmax(rule(f))).length / inputs.length;
      // Majority-class baselines are about 0.23 (action type), 0.28 (register), 0.24 (awareness).
      expect(agreement(OUT.actionType, 6, (f) => ruleOutputs(f).actionType)).toBeGreaterThan(0.6);
      expect(agreement(OUT.speechRegister, 4, (f) => ruleOutputs(f).speechRegister)).toBeGreaterThan(0.5);
      expect(agreement(OUT.awareness, 5, (f) => ruleOutputs(f).awareness)).toBeGreaterThan(0.5);

      // Same characters, the player's act aggressive vs tender: anger and trust move the rules' way (wheel slots 6 and 1).
      const withRegister = (register: 'aggressive' | 'tender'): CharacterFeatures[] => inputs.map((f) => ({ ...f, event: { type: 'speech', register, confidence: 0.9, targetCount: 1 } }));
      const hostile = await runSession(session, encodeBatch(withRegister('aggressive')), inputs.length);
      const warm = await runSession(session, encodeBatch(withRegister('tender')), inputs.length);
      const mean = (o: Float32Array, k: number): number => inputs.reduce((s, _, r) => s + o[r * OUTPUT_DIM + k]!, 0) / inputs.length;
      expect(mean(hostile, OUT.deltas + 6)).toBeGreaterThan(mean(warm, OUT.deltas + 6) + 0.1); // anger rises
      expect(mean(warm, OUT.deltas + 1)).toBeGreaterThan(mean(hostile, OUT.deltas + 1) + 0.1); // trust rises
      expect(mean(warm, OUT.actionValence)).toBeGreaterThan(mean(hostile, OUT.actionValence) + 0.3);
      const resists = (o: Float32Array) => inputs.filter((_, r) => argmaxLast(o, r * OUTPUT_DIM, 6) === 5).length;
      expect(resists(hostile)).toBeGreaterThan(2 * resists(warm));
    } finally {
      await session.release();
    }
  });
});
