import { FRAME_OUTPUTS, type FrameOutputName } from './contract.ts';
import { FEATURE_DIM } from './features.ts';
import { createRng } from './prng.ts';
import type { FrameDataset } from './training-data.ts';

/**
 * A small, dependency-free trainer for the frame model: one hidden ReLU layer
 * (453 → hidden) and four linear heads. Categorical heads (action, speech, thought) use
 * softmax cross-entropy; the emotion-shift head uses per-label sigmoid cross-entropy
 * (weighted 1/4 per label sum, so its 16 labels weigh about as much as one categorical head).
 * Optimiser: Adam on minibatches. Everything random (init, shuffling) comes from one seed,
 * and the arithmetic order is fixed, so the same seed gives bit-identical weights.
 */

export interface FrameHead {
  name: FrameOutputName;
  size: number;
  loss: 'softmax' | 'sigmoid';
  /** [hidden, size], row-major. */
  w: Float32Array;
  b: Float32Array;
}

export interface FrameMlpWeights {
  inputDim: number;
  hidden: number;
  /** [inputDim, hidden], row-major (so a Gemm with transB = 0 reads it as is). */
  w1: Float32Array;
  b1: Float32Array;
  heads: FrameHead[];
}

export interface TrainOptions {
  seed: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Decoupled L2 on weights (AdamW style); 0 disables. */
  weightDecay?: number;
  /** Called after every epoch (progress output in models:build). */
  onEpoch?: (epoch: number, meanLoss: number) => void;
}

const EMOTION_LOSS_WEIGHT = 0.25;

export function initWeights(seed: number, hidden: number, inputDim = FEATURE_DIM): FrameMlpWeights {
  const rng = createRng(seed);
  const he = (fanIn: number, n: number): Float32Array => {
    const a = new Float32Array(n);
    const sd = Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) a[i] = sd * rng.normal();
    return a;
  };
  return {
    inputDim,
    hidden,
    w1: he(inputDim, inputDim * hidden),
    b1: new Float32Array(hidden),
    heads: FRAME_OUTPUTS.map((o) => ({
      name: o.name,
      size: o.size,
      loss: o.name === 'emotion' ? 'sigmoid' : 'softmax',
      w: he(hidden, hidden * o.size).map((v) => v * 0.5),
      b: new Float32Array(o.size),
    })),
  };
}

/** Hidden activations of one row (sparse over the input: zero features are skipped). */
function hiddenOf(wts: FrameMlpWeights, x: Float32Array, xOff: number, h: Float32Array): void {
  const H = wts.hidden;
  h.set(wts.b1);
  for (let i = 0; i < wts.inputDim; i++) {
    const xi = x[xOff + i]!;
    if (xi === 0) continue;
    const base = i * H;
    for (let j = 0; j < H; j++) h[j]! += xi * wts.w1[base + j]!;
  }
  for (let j = 0; j < H; j++) if (h[j]! < 0) h[j] = 0;
}

function headLogits(head: FrameHead, h: Float32Array, H: number, out: Float32Array): void {
  out.set(head.b);
  for (let j = 0; j < H; j++) {
    const hj = h[j]!;
    if (hj === 0) continue;
    const base = j * head.size;
    for (let k = 0; k < head.size; k++) out[k]! += hj * head.w[base + k]!;
  }
}

/**
 * Plain-JS forward pass, the reference the ONNX export is tested against.
 *
 * @example
 * const out = forward(weights, encodeBatch(cast), cast.length); out.action // [n*14]
 */
export function forward(wts: FrameMlpWeights, features: Float32Array, batch: number): Record<FrameOutputName, Float32Array> {
  const h = new Float32Array(wts.hidden);
  const out = Object.fromEntries(wts.heads.map((hd) => [hd.name, new Float32Array(batch * hd.size)])) as Record<FrameOutputName, Float32Array>;
  for (let r = 0; r < batch; r++) {
    hiddenOf(wts, features, r * wts.inputDim, h);
    for (const hd of wts.heads) headLogits(hd, h, wts.hidden, out[hd.name].subarray(r * hd.size, (r + 1) * hd.size));
  }
  return out;
}

function labelsOf(ds: FrameDataset, name: FrameOutputName): Uint8Array {
  return name === 'action' ? ds.action : name === 'speech' ? ds.speech : name === 'thought' ? ds.thought : ds.emotion;
}

/** Writes dLoss/dlogits into `grad` and returns the row's loss for one head. */
function headGradient(head: FrameHead, logits: Float32Array, labels: Uint8Array, row: number, grad: Float32Array): number {
  if (head.loss === 'softmax') {
    const y = labels[row]!;
    let max = -Infinity;
    for (let k = 0; k < head.size; k++) max = Math.max(max, logits[k]!);
    let sum = 0;
    for (let k = 0; k < head.size; k++) {
      grad[k] = Math.exp(logits[k]! - max);
      sum += grad[k]!;
    }
    for (let k = 0; k < head.size; k++) grad[k]! /= sum;
    const loss = -Math.log(Math.max(grad[y]!, 1e-12));
    grad[y]! -= 1;
    return loss;
  }
  let loss = 0;
  for (let k = 0; k < head.size; k++) {
    const z = logits[k]!;
    const y = labels[row * head.size + k]!;
    const p = 1 / (1 + Math.exp(-z));
    loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    grad[k] = EMOTION_LOSS_WEIGHT * (p - y);
  }
  return EMOTION_LOSS_WEIGHT * loss;
}

class Adam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;
  constructor(
    private readonly param: Float32Array,
    private readonly decay: number,
  ) {
    this.m = new Float32Array(param.length);
    this.v = new Float32Array(param.length);
  }
  step(grad: Float32Array, lr: number, scale: number): void {
    const b1 = 0.9;
    const b2 = 0.999;
    this.t++;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const p = this.param;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i]! * scale;
      this.m[i] = b1 * this.m[i]! + (1 - b1) * g;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * g * g;
      p[i] = p[i]! - lr * ((this.m[i]! / c1) / (Math.sqrt(this.v[i]! / c2) + 1e-8) + this.decay * p[i]!);
    }
  }
}

/**
 * Trains a fresh model on `ds`. Reproducible: same data + options → same weights.
 *
 * @example
 * const weights = train(generateDataset({ seed: 1, samplesPerCell: 4 }), { seed: 7, hidden: 64, epochs: 12, batchSize: 64, learningRate: 3e-3 });
 */
export function train(ds: FrameDataset, options: TrainOptions): FrameMlpWeights {
  const wts = initWeights(options.seed, options.hidden);
  const H = wts.hidden;
  const D = wts.inputDim;
  const rng = createRng(options.seed ^ 0x5eed);
  const gw1 = new Float32Array(wts.w1.length);
  const gb1 = new Float32Array(H);
  const gHeads = wts.heads.map((hd) => ({ w: new Float32Array(hd.w.length), b: new Float32Array(hd.size) }));
  const decay = options.weightDecay ?? 0;
  const opt = {
    w1: new Adam(wts.w1, decay),
    b1: new Adam(wts.b1, 0),
    heads: wts.heads.map((hd) => ({ w: new Adam(hd.w, decay), b: new Adam(hd.b, 0) })),
  };
  const labels = wts.heads.map((hd) => labelsOf(ds, hd.name));
  const h = new Float32Array(H);
  const dh = new Float32Array(H);
  const logits = wts.heads.map((hd) => new Float32Array(hd.size));
  const dlogits = wts.heads.map((hd) => new Float32Array(hd.size));
  const order = Array.from({ length: ds.size }, (_, i) => i);

  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let epochLoss = 0;
    for (let start = 0; start < order.length; start += options.batchSize) {
      const end = Math.min(order.length, start + options.batchSize);
      gw1.fill(0);
      gb1.fill(0);
      for (const g of gHeads) {
        g.w.fill(0);
        g.b.fill(0);
      }
      for (let n = start; n < end; n++) {
        const row = order[n]!;
        const xOff = row * D;
        hiddenOf(wts, ds.features, xOff, h);
        dh.fill(0);
        wts.heads.forEach((hd, hi) => {
          headLogits(hd, h, H, logits[hi]!);
          epochLoss += headGradient(hd, logits[hi]!, labels[hi]!, row, dlogits[hi]!);
          const dl = dlogits[hi]!;
          const g = gHeads[hi]!;
          for (let k = 0; k < hd.size; k++) g.b[k]! += dl[k]!;
          for (let j = 0; j < H; j++) {
            const hj = h[j]!;
            const base = j * hd.size;
            let acc = 0;
            for (let k = 0; k < hd.size; k++) {
              if (hj !== 0) g.w[base + k]! += hj * dl[k]!;
              acc += hd.w[base + k]! * dl[k]!;
            }
            dh[j]! += acc;
          }
        });
        for (let j = 0; j < H; j++) if (h[j] === 0) dh[j] = 0; // ReLU gate
        for (let j = 0; j < H; j++) gb1[j]! += dh[j]!;
        for (let i = 0; i < D; i++) {
          const xi = ds.features[xOff + i]!;
          if (xi === 0) continue;
          const base = i * H;
          for (let j = 0; j < H; j++) gw1[base + j]! += xi * dh[j]!;
        }
      }
      const scale = 1 / (end - start);
      opt.w1.step(gw1, options.learningRate, scale);
      opt.b1.step(gb1, options.learningRate, scale);
      opt.heads.forEach((o, hi) => {
        o.w.step(gHeads[hi]!.w, options.learningRate, scale);
        o.b.step(gHeads[hi]!.b, options.learningRate, scale);
      });
    }
    options.onEpoch?.(epoch, epochLoss / ds.size);
  }
  return wts;
}

export interface HeadMetrics {
  /** Categorical heads: top-1 accuracy; emotion: mean per-label accuracy. */
  accuracy: number;
  /** Mean cross-entropy (emotion: mean per-label binary cross-entropy). */
  crossEntropy: number;
  baselineAccuracy: number;
  baselineCrossEntropy: number;
  /** What predicting with the rules' own label distribution reaches on the same rows (the ceiling). */
  ceilingAccuracy: number;
  ceilingCrossEntropy: number;
}

/**
 * Scores a model on held-out data against the trivial baseline: the training set's
 * class prior (predict the majority class; its cross-entropy uses the prior itself).
 */
export function evaluate(wts: FrameMlpWeights, train: FrameDataset, heldOut: FrameDataset): Record<FrameOutputName, HeadMetrics> {
  return evaluateLogits(forward(wts, heldOut.features, heldOut.size), train, heldOut);
}

/** Same as `evaluate`, for logits computed elsewhere (models:build scores the exported ONNX model's own outputs). */
export function evaluateLogits(out: Record<FrameOutputName, ArrayLike<number>>, train: FrameDataset, heldOut: FrameDataset): Record<FrameOutputName, HeadMetrics> {
  const result = {} as Record<FrameOutputName, HeadMetrics>;
  for (const hd of FRAME_OUTPUTS.map((o) => ({ name: o.name, size: o.size, loss: o.name === 'emotion' ? 'sigmoid' : 'softmax' }))) {
    const trainLabels = labelsOf(train, hd.name);
    const labels = labelsOf(heldOut, hd.name);
    const logits = out[hd.name];
    if (hd.loss === 'softmax') {
      const prior = new Float64Array(hd.size);
      for (const y of trainLabels) prior[y]! += 1 / trainLabels.length;
      const majority = prior.indexOf(Math.max(...prior));
      let correct = 0;
      let ce = 0;
      let baseCorrect = 0;
      let baseCe = 0;
      for (let r = 0; r < heldOut.size; r++) {
        const row = Array.from({ length: hd.size }, (_, k) => logits[r * hd.size + k]!);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        const y = labels[r]!;
        if (row.indexOf(max) === y) correct++;
        ce += lse - row[y]!;
        if (majority === y) baseCorrect++;
        baseCe -= Math.log(Math.max(prior[y]!, 1e-12));
      }
      result[hd.name] = {
        accuracy: correct / heldOut.size,
        crossEntropy: ce / heldOut.size,
        baselineAccuracy: baseCorrect / heldOut.size,
        baselineCrossEntropy: baseCe / heldOut.size,
        ceilingAccuracy: heldOut.ceiling[hd.name].accuracy,
        ceilingCrossEntropy: heldOut.ceiling[hd.name].crossEntropy,
      };
    } else {
      const prior = new Float64Array(hd.size);
      for (let i = 0; i < trainLabels.length; i++) prior[i % hd.size]! += trainLabels[i]! / train.size;
      let correct = 0;
      let bce = 0;
      let baseCorrect = 0;
      let baseBce = 0;
      for (let i = 0; i < labels.length; i++) {
        const k = i % hd.size;
        const z = logits[i]!;
        const y = labels[i]!;
        if ((z > 0 ? 1 : 0) === y) correct++;
        bce += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
        const p = Math.min(Math.max(prior[k]!, 1e-6), 1 - 1e-6);
        if ((p > 0.5 ? 1 : 0) === y) baseCorrect++;
        baseBce -= y ? Math.log(p) : Math.log(1 - p);
      }
      const n = labels.length;
      result[hd.name] = {
        accuracy: correct / n,
        crossEntropy: bce / n,
        baselineAccuracy: baseCorrect / n,
        baselineCrossEntropy: baseBce / n,
        ceilingAccuracy: heldOut.ceiling.emotion.accuracy,
        ceilingCrossEntropy: heldOut.ceiling.emotion.crossEntropy,
      };
    }
  }
  return result;
}
