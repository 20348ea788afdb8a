/**
 * `npm run models:build` — the frame model's training → deployment flow (seed "ML Pipeline"):
 *
 *   1. generate training data combinatorially from the documented rules (seeded)
 *   2. train the MLP (src/inference/frame/trainer.ts; seeded, reproducible)
 *   3. export ONNX (irVersion 7, opset 13) with onnx-proto
 *   4. load the exported file in onnxruntime-node, check the contract, score it on
 *      held-out generated data against the class-prior baseline (quality gate)
 *   5. write models/frame/<version>/{model.onnx, manifest.json} and point models/frame/current at it
 *
 * Options: --version <v> (default below), --seed <n>, --out <dir> (default models/frame),
 * --epochs <n>, --samples-per-cell <n>, --no-current (do not move the pointer).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ACTION_CLASSES, EMOTION_SHIFT_CLASSES, FRAME_CONTRACT, FRAME_INPUT_NAME, FRAME_OUTPUTS, SPEECH_CLASSES, THOUGHT_CLASSES, type FrameOutputName } from '../src/inference/frame/contract.ts';
import { FEATURE_DIM, FEATURE_LAYOUT } from '../src/inference/frame/features.ts';
import { loadOnnxRuntime, openFrameSession } from '../src/inference/frame/frame-model-loader.ts';
import { frameManifestSchema, type FrameManifest } from '../src/inference/frame/manifest.ts';
import { exportFrameOnnx } from '../src/inference/frame/onnx-export.ts';
import { evaluateLogits, forward, train } from '../src/inference/frame/trainer.ts';
import { describeGenerator, generateDataset } from '../src/inference/frame/training-data.ts';

const DEFAULTS = {
  version: '1.0.0',
  seed: 20261201,
  samplesPerCell: 8,
  validationSamplesPerCell: 1,
  hidden: 64,
  epochs: 15,
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
    'samples-per-cell': { type: 'string', default: String(DEFAULTS.samplesPerCell) },
    'no-current': { type: 'boolean', default: false },
  },
});

const seed = Number(args.seed);
const epochs = Number(args.epochs);
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
  hidden: DEFAULTS.hidden,
  epochs,
  batchSize: DEFAULTS.batchSize,
  learningRate: DEFAULTS.learningRate,
  weightDecay: DEFAULTS.weightDecay,
  onEpoch: (e, loss) => log(`epoch ${String(e + 1).padStart(2)}/${epochs} loss ${loss.toFixed(4)}`),
});
const trainMs = performance.now() - trainStart;

const dir = join(args.out!, version);
await mkdir(dir, { recursive: true });
const { model } = exportFrameOnnx(weights, { metadata: { name: 'storyteller-frame-model', version } });
const modelPath = join(dir, 'model.onnx');
await writeFile(modelPath, model);
const sha256 = createHash('sha256').update(model).digest('hex');
log(`wrote ${modelPath} (${model.length} bytes, sha256 ${sha256.slice(0, 12)}…)`);

// Validate the artifact itself: onnxruntime, contract check, held-out metrics from its outputs.
const ort = await loadOnnxRuntime();
const session = await openFrameSession({ modelPath, manifest: null, sha256, source: modelPath });
const out = await session.run({ [FRAME_INPUT_NAME]: new ort.Tensor('float32', heldOut.features, [heldOut.size, FEATURE_DIM]) });
const logits = Object.fromEntries(FRAME_OUTPUTS.map((o) => [o.name, out[o.name]!.data as Float32Array])) as Record<FrameOutputName, Float32Array>;
await session.release();
const reference = forward(weights, heldOut.features, heldOut.size);
let maxAbsDiff = 0;
for (const o of FRAME_OUTPUTS) logits[o.name].forEach((v, i) => (maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - reference[o.name][i]!))));
if (maxAbsDiff > 1e-3) throw new Error(`ONNX outputs differ from the trainer's forward pass by ${maxAbsDiff}`);
const heads = evaluateLogits(logits, trainSet, heldOut);

console.log('\nhead      accuracy  baseline  ceiling  cross-entropy  baseline  ceiling');
for (const [name, m] of Object.entries(heads)) {
  const f = (v: number, w: number): string => v.toFixed(3).padStart(w);
  console.log(`${name.padEnd(9)} ${f(m.accuracy, 8)}  ${f(m.baselineAccuracy, 8)}  ${f(m.ceilingAccuracy, 7)}  ${f(m.crossEntropy, 13)}  ${f(m.baselineCrossEntropy, 8)}  ${f(m.ceilingCrossEntropy, 7)}`);
}
console.log('');
const failing = Object.entries(heads).filter(([, m]) => !(m.accuracy > m.baselineAccuracy && m.crossEntropy < m.baselineCrossEntropy));
if (failing.length > 0) throw new Error(`quality gate: heads ${failing.map(([n]) => n).join(', ')} do not beat the class-prior baseline`);

const manifest: FrameManifest = frameManifestSchema.parse({
  name: 'storyteller-frame-model',
  version,
  model: 'model.onnx',
  sha256,
  contract: FRAME_CONTRACT,
  classes: { action: ACTION_CLASSES, speech: SPEECH_CLASSES, thought: THOUGHT_CLASSES, emotion: EMOTION_SHIFT_CLASSES },
  architecture: {
    kind: 'mlp',
    layers: [`Gemm ${FEATURE_DIM}→${DEFAULTS.hidden}`, 'Relu', ...FRAME_OUTPUTS.map((o) => `Gemm ${DEFAULTS.hidden}→${o.size} (${o.name})`)],
    onnx: { irVersion: 7, opset: 13, producer: 'models/build.ts via onnx-proto' },
    featureLayout: FEATURE_LAYOUT,
    outputs: 'raw logits; action/speech/thought softmax, emotion per-label sigmoid (rise/fall per emotion)',
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
      hidden: DEFAULTS.hidden,
      loss: 'softmax cross-entropy (action, speech, thought) + 0.25 × per-label sigmoid cross-entropy (emotion)',
    },
    trainSeconds: Math.round(trainMs / 100) / 10,
  },
  validation: {
    samples: heldOut.size,
    seed: validationSeed,
    baseline: 'class prior of the training set (majority class for accuracy, prior probabilities for cross-entropy)',
    ceiling: "the rules' own label distribution on the held-out rows (labels are sampled, so this is the best any model can expect)",
    onnxVsTrainerMaxAbsDiff: maxAbsDiff,
    heads,
  },
});
await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
log(`wrote ${join(dir, 'manifest.json')}`);
if (!args['no-current']) {
  await writeFile(join(args.out!, 'current'), `${version}\n`);
  log(`${join(args.out!, 'current')} → ${version}`);
}
