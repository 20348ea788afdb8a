/**
 * `npm run models:build` — the frame model's training → deployment flow (seed "ML Pipeline"),
 * in the storyteller-character/1 layout (src/inference/frame/character-schema.ts):
 *
 *   1. generate training data combinatorially from the documented rules (seeded)
 *   2. train the MLP with the peer's per-head losses (src/inference/frame/trainer.ts; seeded, reproducible)
 *   3. export ONNX (irVersion 7, opset 13) with onnx-proto
 *   4. load the exported file in onnxruntime-node, check the contract, score every output
 *      part on held-out data against its baseline (majority class / training mean) — the quality gate
 *   5. write models/frame/<version>/{model.onnx, manifest.json} (sha256, schema) and point models/frame/current at it
 *
 * Options: --version <v> (default below), --seed <n>, --out <dir> (default models/frame),
 * --epochs <n>, --samples-per-cell <n>, --hidden <n>, --no-current (do not move the pointer).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_DIM, FEATURE_LAYOUT, FRAME_SCHEMA_NAME, HEAD_WEIGHTS, OUTPUT_DIM, OUTPUT_HEADS, OUTPUT_PARTS } from '../src/inference/frame/character-schema.ts';
import { FRAME_CONTRACT, FRAME_INPUT_NAME } from '../src/inference/frame/contract.ts';
import { loadOnnxRuntime, openFrameSession } from '../src/inference/frame/frame-model-loader.ts';
import { frameManifestSchema, type FrameManifest } from '../src/inference/frame/manifest.ts';
import { exportFrameOnnx } from '../src/inference/frame/onnx-export.ts';
import { beatsBaseline, evaluateOutputs, forward, parameterCount, train } from '../src/inference/frame/trainer.ts';
import { describeGenerator, generateDataset } from '../src/inference/frame/training-data.ts';

const DEFAULTS = {
  version: '2.0.0',
  seed: 20261203,
  samplesPerCell: 4,
  validationSamplesPerCell: 1,
  hidden: 64,
  epochs: 20,
  batchSize: 64,
  learningRate: 2e-3,
  weightDecay: 1e-4,
};

const { values: args } = parseArgs({
  options: {
    version: { type: 'string', default: DEFAULTS.version },
    seed: { type: 'string', default: String(DEFAULTS.seed) },
    out: { type: 'string', default: 'models/frame' },
    epochs: { type: 'string', default: String(DEFAULTS.epochs) },
    hidden: { type: 'string', default: String(DEFAULTS.hidden) },
    'samples-per-cell': { type: 'string', default: String(DEFAULTS.samplesPerCell) },
    'no-current': { type: 'boolean', default: false },
  },
});

const seed = Number(args.seed);
const epochs = Number(args.epochs);
const hidden = Number(args.hidden);
const samplesPerCell = Number(args['samples-per-cell']);
const version = args.version!;
if (!/^[A-Za-z0-9._-]+$/.test(version)) throw new Error(`--version must be a plain directory name, got ${version}`);

const t0 = performance.now();
const log = (msg: string): void => console.log(`[models:build ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

log(`generating data (seed ${seed}, ${samplesPerCell} per cell)`);
const trainSet = generateDataset({ seed, samplesPerCell });
const validationSeed = seed + 1;
const heldOut = generateDataset({ seed: validationSeed, samplesPerCell: DEFAULTS.validationSamplesPerCell });
log(`train ${trainSet.size} rows, held-out ${heldOut.size} rows`);

const trainStart = performance.now();
const weights = train(trainSet, {
  seed,
  hidden,
  epochs,
  batchSize: DEFAULTS.batchSize,
  learningRate: DEFAULTS.learningRate,
  weightDecay: DEFAULTS.weightDecay,
  onEpoch: (e, loss) => log(`epoch ${String(e + 1).padStart(2)}/${epochs} loss ${loss.toFixed(4)}`),
});
const trainMs = performance.now() - trainStart;
const parameters = parameterCount(weights);

const dir = join(args.out!, version);
await mkdir(dir, { recursive: true });
const { model } = exportFrameOnnx(weights, { metadata: { name: 'storyteller-frame-model', version, schema: FRAME_SCHEMA_NAME } });
const modelPath = join(dir, 'model.onnx');
await writeFile(modelPath, model);
const sha256 = createHash('sha256').update(model).digest('hex');
log(`wrote ${modelPath} (${model.length} bytes, ${parameters} parameters, sha256 ${sha256.slice(0, 12)}…)`);

// Validate the artifact itself: onnxruntime, contract check, held-out metrics from its own outputs.
const ort = await loadOnnxRuntime();
const session = await openFrameSession({ modelPath, source: modelPath });
const run = await session.run({ [FRAME_INPUT_NAME]: new ort.Tensor('float32', heldOut.features, [heldOut.size, FEATURE_DIM]) });
await session.release();
const outputs = new Float32Array(heldOut.size * OUTPUT_DIM);
for (const head of OUTPUT_HEADS) {
  const data = run[head.name]!.data as Float32Array;
  for (let r = 0; r < heldOut.size; r++) outputs.set(data.subarray(r * head.size, (r + 1) * head.size), r * OUTPUT_DIM + head.offset);
}
const reference = forward(weights, heldOut.features, heldOut.size);
let maxAbsDiff = 0;
outputs.forEach((v, i) => (maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - reference[i]!))));
if (maxAbsDiff > 1e-3) throw new Error(`ONNX outputs differ from the trainer's forward pass by ${maxAbsDiff}`);
const parts = evaluateOutputs(outputs, trainSet, heldOut);

console.log('\npart                    head     metric    held-out  baseline');
for (const [name, m] of Object.entries(parts)) {
  console.log(`${name.padEnd(23)} ${m.head.padEnd(8)} ${m.metric.padEnd(9)} ${m.value.toFixed(4).padStart(8)}  ${m.baseline.toFixed(4).padStart(8)}${beatsBaseline(name, m) ? '' : '  ✘'}`);
}
console.log('');
const failing = Object.entries(parts).filter(([name, m]) => !beatsBaseline(name, m));
if (failing.length > 0) throw new Error(`quality gate: ${failing.map(([n]) => n).join(', ')} do not beat their baselines`);

const manifest: FrameManifest = frameManifestSchema.parse({
  name: 'storyteller-frame-model',
  version,
  model: 'model.onnx',
  sha256,
  schema: FRAME_SCHEMA_NAME,
  origin: 'built',
  contract: FRAME_CONTRACT,
  parameters,
  architecture: {
    kind: 'mlp',
    layers: [`Gemm ${FEATURE_DIM}→${hidden}`, 'Relu', ...OUTPUT_HEADS.map((o) => `Gemm ${hidden}→${o.size} (${o.name})`)],
    onnx: { irVersion: 7, opset: 13, producer: 'models/build.ts via onnx-proto' },
    featureLayout: FEATURE_LAYOUT,
    outputs: 'raw pre-activation values, decoded per storyteller-character/1 (argmax, raw > 0.5 flags, regression scalars)',
  },
  training: {
    seed,
    samples: trainSet.size,
    samplesPerCell,
    data: describeGenerator(),
    trainer: {
      file: 'src/inference/frame/trainer.ts',
      optimizer: 'adam',
      learningRate: DEFAULTS.learningRate,
      weightDecay: DEFAULTS.weightDecay,
      epochs,
      batchSize: DEFAULTS.batchSize,
      hidden,
      loss: 'per head: CE on categorical blocks, MSE on scalars, BCE-with-logits on flags; heads weighted',
      headWeights: HEAD_WEIGHTS,
      parts: OUTPUT_PARTS.map((p) => `${p.name} ${p.kind} [${p.offset}..${p.offset + p.length - 1}]`),
    },
    trainSeconds: Math.round(trainMs / 100) / 10,
  },
  validation: {
    samples: heldOut.size,
    seed: validationSeed,
    baseline: 'categorical blocks and flags: the training set majority class (accuracy as the runtime decodes); scalars: the training mean (MSE)',
    onnxVsTrainerMaxAbsDiff: maxAbsDiff,
    parts,
  },
});
await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
log(`wrote ${join(dir, 'manifest.json')}`);
if (!args['no-current']) {
  await writeFile(join(args.out!, 'current'), `${version}\n`);
  log(`${join(args.out!, 'current')} → ${version}`);
}
