import { FEATURE_DIM, HEAD_WEIGHTS, OUTPUT_DIM, OUTPUT_HEADS, OUTPUT_PARTS, type OutputHeadName, type OutputPart } from './character-schema.ts';
import { argmaxLast, dominantEmotionIndex } from './decoder.ts';
import { createRng } from './prng.ts';
import type { FrameDataset } from './training-data.ts';

/**
 * A small, dependency-free trainer for the frame model: one hidden ReLU layer
 * (453 → hidden) and four linear heads (action 14, speech 6, thought 6, emotion 16), with
 * the peer's loss structure per head (frame-schema.md §2.6): cross-entropy on the
 * categorical blocks (target = argmax of the one-hot label), mean squared error on the
 * scalars, BCE-with-logits on the flags; a head's loss is the sum of its parts, the total
 * weighs the heads 0.35 / 0.20 / 0.20 / 0.25. Optimiser: Adam on minibatches. Everything
 * random (init, shuffling) comes from one seed and the arithmetic order is fixed, so the
 * same seed gives bit-identical weights.
 */

export interface FrameHead {
  name: OutputHeadName;
  size: number;
  /** Offset of the head in the flat 42 outputs. */
  offset: number;
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
    heads: OUTPUT_HEADS.map((o) => ({
      name: o.name,
      size: o.size,
      offset: o.offset,
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

/** Number of trainable parameters. */
export function parameterCount(wts: FrameMlpWeights): number {
  return wts.w1.length + wts.b1.length + wts.heads.reduce((n, h) => n + h.w.length + h.b.length, 0);
}

/**
 * Plain-JS forward pass, the reference the ONNX export is tested against: `[batch, 42]`
 * flat outputs (heads concatenated, as the runtime decodes them).
 *
 * @example
 * const out = forward(weights, encodeBatch(cast), cast.length); // Float32Array(n * 42)
 */
export function forward(wts: FrameMlpWeights, features: Float32Array, batch: number): Float32Array {
  const h = new Float32Array(wts.hidden);
  const out = new Float32Array(batch * OUTPUT_DIM);
  for (let r = 0; r < batch; r++) {
    hiddenOf(wts, features, r * wts.inputDim, h);
    for (const hd of wts.heads) headLogits(hd, h, wts.hidden, out.subarray(r * OUTPUT_DIM + hd.offset, r * OUTPUT_DIM + hd.offset + hd.size));
  }
  return out;
}

/** Index of the one-hot label's 1 (first maximum). */
function labelClass(labels: Float32Array, at: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (labels[at + i]! > labels[at + best]!) best = i;
  return best;
}

/** Writes dLoss/dz for one part into `grad` (flat 42) and returns the part's loss. */
function partGradient(part: OutputPart, z: Float32Array, labels: Float32Array, lOff: number, grad: Float32Array, weight: number): number {
  const { offset: o, length: n } = part;
  if (part.kind === 'ce') {
    const y = labelClass(labels, lOff + o, n);
    let max = -Infinity;
    for (let k = 0; k < n; k++) max = Math.max(max, z[o + k]!);
    let sum = 0;
    for (let k = 0; k < n; k++) sum += Math.exp(z[o + k]! - max);
    for (let k = 0; k < n; k++) grad[o + k] = (weight * Math.exp(z[o + k]! - max)) / sum - (k === y ? weight : 0);
    return weight * (max + Math.log(sum) - z[o + y]!);
  }
  let loss = 0;
  for (let k = 0; k < n; k++) {
    const zk = z[o + k]!;
    const y = labels[lOff + o + k]!;
    if (part.kind === 'mse') {
      loss += (zk - y) ** 2 / n;
      grad[o + k] = (weight * 2 * (zk - y)) / n;
    } else {
      loss += (Math.max(zk, 0) - zk * y + Math.log1p(Math.exp(-Math.abs(zk)))) / n;
      grad[o + k] = (weight * (1 / (1 + Math.exp(-zk)) - y)) / n;
    }
  }
  return weight * loss;
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
  const h = new Float32Array(H);
  const dh = new Float32Array(H);
  const z = new Float32Array(OUTPUT_DIM);
  const dz = new Float32Array(OUTPUT_DIM);
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
        for (const hd of wts.heads) headLogits(hd, h, H, z.subarray(hd.offset, hd.offset + hd.size));
        for (const part of OUTPUT_PARTS) epochLoss += partGradient(part, z, ds.labels, row * OUTPUT_DIM, dz, HEAD_WEIGHTS[part.head]);
        wts.heads.forEach((hd, hi) => {
          const dl = dz.subarray(hd.offset, hd.offset + hd.size);
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

/** One output part on held-out rows against its trivial baseline. */
export interface PartMetrics {
  head: OutputHeadName;
  kind: OutputPart['kind'];
  /** ce/bce: accuracy as the runtime decodes (argmax, ties high; raw > 0.5); mse: mean squared error. */
  metric: 'accuracy' | 'mse';
  value: number;
  /** ce/bce: the training set's majority class; mse: predicting the training mean. */
  baseline: number;
}

/** Scores a model on held-out data (see `evaluateOutputs`). */
export function evaluate(wts: FrameMlpWeights, train: FrameDataset, heldOut: FrameDataset): Record<string, PartMetrics> {
  return evaluateOutputs(forward(wts, heldOut.features, heldOut.size), train, heldOut);
}

/**
 * Per-part held-out metrics for outputs computed anywhere (models:build scores the
 * exported ONNX model's own outputs), plus `dominant_emotion_index`: the decoded index's
 * accuracy against the majority index.
 */
export function evaluateOutputs(out: Float32Array, train: FrameDataset, heldOut: FrameDataset): Record<string, PartMetrics> {
  const result: Record<string, PartMetrics> = {};
  const n = heldOut.size;
  const L = OUTPUT_DIM;
  for (const part of OUTPUT_PARTS) {
    const { offset: o, length: len } = part;
    if (part.kind === 'ce') {
      const counts = new Array<number>(len).fill(0);
      for (let r = 0; r < train.size; r++) counts[labelClass(train.labels, r * L + o, len)]! += 1;
      const majority = counts.indexOf(Math.max(...counts));
      let correct = 0;
      let base = 0;
      for (let r = 0; r < n; r++) {
        const y = labelClass(heldOut.labels, r * L + o, len);
        if (argmaxLast(out, r * L + o, len) === y) correct++;
        if (majority === y) base++;
      }
      result[part.name] = { head: part.head, kind: 'ce', metric: 'accuracy', value: correct / n, baseline: base / n };
    } else if (part.kind === 'bce') {
      let correct = 0;
      let base = 0;
      for (let k = 0; k < len; k++) {
        let ones = 0;
        for (let r = 0; r < train.size; r++) ones += train.labels[r * L + o + k]!;
        const majority = ones * 2 > train.size ? 1 : 0;
        for (let r = 0; r < n; r++) {
          const y = heldOut.labels[r * L + o + k]!;
          if ((out[r * L + o + k]! > 0.5 ? 1 : 0) === y) correct++;
          if (majority === y) base++;
        }
      }
      result[part.name] = { head: part.head, kind: 'bce', metric: 'accuracy', value: correct / (n * len), baseline: base / (n * len) };
    } else {
      let se = 0;
      let baseSe = 0;
      for (let k = 0; k < len; k++) {
        let mean = 0;
        for (let r = 0; r < train.size; r++) mean += train.labels[r * L + o + k]! / train.size;
        for (let r = 0; r < n; r++) {
          const y = heldOut.labels[r * L + o + k]!;
          se += (out[r * L + o + k]! - y) ** 2;
          baseSe += (mean - y) ** 2;
        }
      }
      result[part.name] = { head: part.head, kind: 'mse', metric: 'mse', value: se / (n * len), baseline: baseSe / (n * len) };
    }
  }
  // The dominant emotion as the runtime decodes it (rounded, clamped index).
  const counts = new Array<number>(8).fill(0);
  for (let r = 0; r < train.size; r++) counts[Math.round(train.labels[r * L + 25]!)]! += 1;
  const majority = counts.indexOf(Math.max(...counts));
  let correct = 0;
  let base = 0;
  for (let r = 0; r < n; r++) {
    const y = Math.round(heldOut.labels[r * L + 25]!);
    const raw = out[r * L + 25]!;
    if (dominantEmotionIndex(raw) === y) correct++;
    if (majority === y) base++;
  }
  result.dominant_emotion_index = { head: 'thought', kind: 'mse', metric: 'accuracy', value: correct / n, baseline: base / n };
  return result;
}

/** Whether a part beats its baseline (the target slot, always −1, has nothing to beat). */
export function beatsBaseline(name: string, m: PartMetrics): boolean {
  if (name === 'action_target') return true;
  return m.metric === 'accuracy' ? m.value > m.baseline : m.value < m.baseline;
}
