import { AWARENESS_LEVELS, OUT, OUTPUT_DIM, type AwarenessLevel, type CharacterFeatures, type EmotionalRegister } from './character-schema.ts';

/**
 * The documented behaviour rules the project's frame model is trained to reproduce (the
 * "teacher"), written over storyteller-character/1 features. models:build labels
 * generated characters with them; `RuleFrameComputer` turns them straight into the 42
 * outputs, without ONNX. Every rule reads only what the encoder keeps, so a model can
 * learn it from the 453 floats. Primaries are read by slot in Plutchik wheel order — the
 * order the peer's emotion-delta labels use and the story format's default.
 * docs/frame-model.md ("Labelling rules") lists them in prose.
 */

/** Wheel-order slots. */
const JOY = 0;
const TRUST = 1;
const FEAR = 2;
const SURPRISE = 3;
const SADNESS = 4;
const ANGER = 6;
const ANTICIPATION = 7;

const LAYER_WEIGHT = { topsoil: 0.4, sediment: 0.7, bedrock: 1, primordial: 1 } as const;
const clip = (v: number, lo: number, hi: number): number => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : 0);
const HIDDEN_LEVELS: ReadonlySet<AwarenessLevel> = new Set(['preconscious', 'defended', 'structural']);

/** The peer's register → emotion-delta heuristic (wheel indices), as base magnitudes. */
const REGISTER_DELTAS: Record<EmotionalRegister, ReadonlyArray<readonly [number, number]>> = {
  aggressive: [[ANGER, 0.2], [TRUST, -0.15]],
  vulnerable: [[TRUST, 0.15], [FEAR, -0.1]],
  tender: [[JOY, 0.15], [TRUST, 0.12]],
  playful: [[JOY, 0.15], [SURPRISE, 0.1]],
  guarded: [[FEAR, 0.15], [JOY, -0.1]],
  inquisitive: [[SURPRISE, 0.1], [ANTICIPATION, 0.16]],
  neutral: [],
};

/** The summaries every rule is written in. */
export interface Summary {
  drive: number;
  volatility: number;
  deepShare: number;
  intensity: number[];
  maxIntensity: number;
  /** Intensity-weighted share of the primaries at each awareness level. */
  awareness: Record<AwarenessLevel, number>;
  hidden: number;
  selfTrust: number;
  projection: number;
  historyWeight: number;
  edge: { present: number; trust: number; affection: number; debt: number };
  hostile: number;
  warm: number;
  addressed: number;
  history: { present: number; lastWait: number; valence: number };
}

export function summarize(f: CharacterFeatures): Summary {
  const axes = f.axes.slice(0, 16);
  let w = 0;
  let drive = 0;
  let vol = 0;
  let deep = 0;
  for (const a of axes) {
    const lw = LAYER_WEIGHT[a.layer];
    w += lw;
    drive += lw * a.central;
    vol += a.variance + 0.5 * (a.high - a.low);
    if (a.layer === 'bedrock' || a.layer === 'primordial') deep++;
  }
  const intensity = Array.from({ length: 8 }, (_, i) => f.primaries[i]?.intensity ?? 0);
  const awareness: Record<AwarenessLevel, number> = { articulate: 0, recognizable: 0, preconscious: 0, defended: 0, structural: 0 };
  let total = 0;
  for (const p of f.primaries.slice(0, 8)) {
    awareness[p.awareness] += p.intensity;
    total += p.intensity;
  }
  for (const k of AWARENESS_LEVELS) awareness[k] = total > 0 ? awareness[k] / total : 0;
  const e = f.edges[0];
  const r = f.event.register;
  return {
    drive: w > 0 ? drive / w : 0,
    volatility: axes.length > 0 ? vol / axes.length : 0,
    deepShare: axes.length > 0 ? deep / axes.length : 0,
    intensity,
    maxIntensity: Math.max(...intensity),
    awareness,
    hidden: AWARENESS_LEVELS.filter((k) => HIDDEN_LEVELS.has(k)).reduce((s, k) => s + awareness[k], 0),
    selfTrust: (f.selfEdge.competence + f.selfEdge.intentions + f.selfEdge.reliability) / 3,
    projection: f.selfEdge.projectionAccuracy,
    historyWeight: f.selfEdge.historyWeight,
    edge: e
      ? { present: 1, trust: (e.trust_reliability.central + e.trust_competence.central + e.trust_benevolence.central) / 3, affection: e.affection.central, debt: e.debt.central }
      : { present: 0, trust: 0, affection: 0, debt: 0 },
    hostile: r === 'aggressive' ? 1 : r === 'guarded' ? 0.4 : 0,
    warm: r === 'tender' ? 1 : r === 'playful' ? 0.7 : r === 'vulnerable' ? 0.5 : 0,
    addressed: Math.min(1, f.event.targetCount),
    history: {
      present: f.history.length > 0 ? 1 : 0,
      lastWait: f.history[0]?.action === 'wait' ? 1 : 0,
      valence: f.history.length > 0 ? f.history.slice(0, 3).reduce((s, h) => s + h.valence, 0) / Math.min(3, f.history.length) : 0,
    },
  };
}

/** Rule scores: categorical blocks as scores, regressions as values, flags as probabilities. */
export interface RuleOutputs {
  actionType: number[];
  actionContext: number[];
  speechRegister: number[];
  awareness: number[];
  /** p(speech occurs). */
  speechOccurs: number;
  valence: number;
  dominantIndex: number;
  deltas: number[];
  /** p(awareness shift) per primary slot. */
  shifts: number[];
}

/** Softmax sharpness of the categorical labels (also the confidence rule's). */
export const LABEL_SHARPNESS = 3;

export function softmax(scores: readonly number[], sharpness = LABEL_SHARPNESS): number[] {
  const max = Math.max(...scores);
  const e = scores.map((s) => Math.exp(sharpness * (s - max)));
  const t = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / t);
}

/** Confidence label: 0.5 + 0.4 × the margin between the two most likely classes, in [0.5, 0.9]. */
export function confidenceOf(ps: readonly number[]): number {
  const sorted = [...ps].sort((a, b) => b - a);
  return 0.5 + 0.4 * ((sorted[0] ?? 0) - (sorted[1] ?? 0));
}

export function ruleOutputs(f: CharacterFeatures): RuleOutputs {
  const s = summarize(f);
  const t = f.event.type;
  const r = f.event.register;
  const I = s.intensity;
  const tension = f.scene.tension;
  const spoken = t === 'speech' || t === 'inquiry' ? 1 : 0;
  const sceneType = f.scene.type;

  const actionType = [
    0.8 * (t === 'action' || t === 'interaction' ? 1 : 0) + 0.4 * s.drive + 0.3 * s.warm * s.edge.trust + 0.3 * (sceneType === 'gate' ? 1 : 0),
    spoken * (0.5 + 0.5 * s.addressed) + 0.4 * s.edge.trust + 0.3 * s.warm + 0.2 * (r === 'inquisitive' ? 1 : 0) - 0.5 * s.hidden * s.hostile,
    0.9 * (t === 'movement' ? 1 : 0) + 0.6 * I[FEAR]! * (1 - s.edge.trust) + 0.3 * (sceneType === 'threshold' || sceneType === 'connective' ? 1 : 0) - 0.2 * (f.scene.castSize > 3 ? 1 : 0),
    0.9 * (t === 'observation' ? 1 : 0) + 0.4 * (r === 'inquisitive' ? 1 : 0) + 0.3 * I[SURPRISE]! + 0.3 * (1 - s.selfTrust) - 0.2,
    0.5 * (r === 'neutral' ? 1 : 0) - 0.4 * s.drive + 0.3 * I[SADNESS]! + 0.2 * (1 - tension) - 0.2 * s.addressed - 0.2 * s.history.lastWait + 0.3 * (t === 'emote' ? 1 : 0),
    s.hostile * (1 - s.edge.trust) + 0.6 * I[ANGER]! + 0.3 * s.drive * tension - 0.4 * s.edge.affection + 0.2 * (s.edge.debt < 0 ? 1 : 0),
  ];
  const actionContext = [
    0.8 * s.history.present * s.historyWeight + 0.4 * Math.abs(s.edge.trust) + 0.2 * (sceneType === 'gravitational' ? 1 : 0),
    0.5 * (t === 'observation' || t === 'movement' ? 1 : 0) + 0.4 * (sceneType === 'gravitational' || sceneType === 'gate' ? 1 : 0) + 0.2 * tension,
    s.maxIntensity + 0.5 * (r !== 'neutral' ? 1 : 0) - 0.3 * s.selfTrust,
    0.6 * (Math.abs(s.edge.affection) + Math.abs(s.edge.debt)) + 0.5 * (r === 'tender' || r === 'vulnerable' ? 1 : 0) + 0.3 * s.edge.present,
    0.8 * (t === 'action' ? 1 : 0) + 0.5 * (sceneType === 'gate' || sceneType === 'threshold' ? 1 : 0),
  ];
  const speakP = softmax(actionType)[1]!;
  const occursScore = 1.2 * spoken * (0.5 + 0.5 * s.addressed) + 0.8 * speakP + 0.3 * s.edge.trust - 0.6 * s.hidden - 0.4;
  const speechRegister = [
    0.6 * I[FEAR]! + 0.5 * s.edge.affection * (f.scene.castSize <= 2 ? 1 : 0) + 0.4 * (r === 'vulnerable' ? 1 : 0) + 0.3 * s.hidden,
    0.5 + 0.4 * s.edge.trust - 0.3 * tension,
    0.7 * I[ANGER]! + 0.4 * s.drive + 0.3 * tension * (f.scene.castSize >= 3 ? 1 : 0) + 0.5 * (r === 'aggressive' ? 1 : 0),
    0.8 * s.hidden + 0.4 * I[SADNESS]! - 0.4 * s.addressed,
  ];
  const awareness = [
    1.2 * s.awareness.articulate + 0.4 * s.projection,
    1.2 * s.awareness.recognizable + 0.2,
    1.2 * s.awareness.preconscious + 0.3 * I[SURPRISE]!,
    1.2 * s.awareness.defended + 0.5 * s.hostile * tension,
    1.2 * s.awareness.structural + 0.3 * s.deepShare,
  ];
  const valence = clip(0.6 * s.edge.trust + 0.5 * s.edge.affection + 0.5 * s.warm - 0.7 * s.hostile + 0.2 * (I[JOY]! - I[SADNESS]!) + 0.2 * s.history.valence, -1, 1);
  let dominantIndex = 0;
  for (let i = 1; i < 8; i++) if (I[i]! > I[dominantIndex]!) dominantIndex = i;

  const deltas = new Array<number>(8).fill(0);
  const shifts = new Array<number>(8).fill(0);
  const gain = (0.6 + 0.4 * f.event.confidence) * (1 + 0.5 * tension) * (s.addressed > 0 ? 1 : 0.6);
  for (const [slot, base] of REGISTER_DELTAS[r]) {
    if (slot >= f.primaries.length) continue;
    const d = base * gain;
    deltas[slot] = d;
    const aware = f.primaries[slot]!.awareness;
    if (d > 0.15 && aware !== 'articulate') shifts[slot] = 0.7;
  }
  return { actionType, actionContext, speechRegister, awareness, speechOccurs: 1 / (1 + Math.exp(-3 * occursScore)), valence, dominantIndex, deltas, shifts };
}

/**
 * The rules as the model's 42 raw outputs (what a perfect learner would emit):
 * categorical blocks as logits (sharpness × score), scalars as their expected values,
 * flags as the probability itself (the decoder thresholds raw values at 0.5).
 */
export function ruleOutputVector(f: CharacterFeatures, out = new Float32Array(OUTPUT_DIM), offset = 0): Float32Array {
  const o = ruleOutputs(f);
  const put = (at: number, xs: readonly number[], scale = 1): void => xs.forEach((x, i) => (out[offset + at + i] = scale * x));
  put(OUT.actionType, o.actionType, LABEL_SHARPNESS);
  out[offset + OUT.actionConfidence] = confidenceOf(softmax(o.actionType));
  out[offset + OUT.actionTarget] = -1;
  out[offset + OUT.actionValence] = o.valence;
  put(OUT.actionContext, o.actionContext, LABEL_SHARPNESS);
  out[offset + OUT.speechOccurs] = o.speechOccurs;
  put(OUT.speechRegister, o.speechRegister, LABEL_SHARPNESS);
  out[offset + OUT.speechConfidence] = confidenceOf(softmax(o.speechRegister));
  put(OUT.awareness, o.awareness, LABEL_SHARPNESS);
  out[offset + OUT.dominantEmotion] = o.dominantIndex;
  put(OUT.deltas, o.deltas);
  put(OUT.shifts, o.shifts);
  return out;
}
