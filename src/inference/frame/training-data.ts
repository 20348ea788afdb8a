import {
  AWARENESS_LEVELS,
  EMOTIONAL_REGISTERS,
  EVENT_TYPES,
  FEATURE_DIM,
  OUT,
  OUTPUT_DIM,
  PLUTCHIK_WHEEL_ORDER,
  PROVENANCES,
  SCENE_TYPES,
  TEMPORAL_LAYERS,
  TOPOLOGICAL_ROLES,
  ACTION_TYPES,
  SPEECH_REGISTERS,
  type AwarenessLevel,
  type AxisValue,
  type CharacterFeatures,
  type EmotionalRegister,
  type EventType,
  type HistoryEntry,
  type SceneType,
} from './character-schema.ts';
import { encodeCharacterFeatures } from './encoder.ts';
import { createRng, type Rng } from './prng.ts';
import { confidenceOf, ruleOutputs, softmax } from './rules.ts';

/**
 * Combinatorial training data for the project's frame model (the seed's "combinatorial
 * matrices → scenario skeletons", without the LLM expansion), in the
 * storyteller-character/1 layout: every cell of
 * archetype × stance toward the actor × scene type × event type × emotional register
 * is a skeleton; each sample jitters one with the seeded RNG and is labelled from the
 * teacher rules (rules.ts) in the peer's label layout (`encode_labels`, frame-schema.md
 * §2.6): categorical labels sampled from the rule distribution, flags Bernoulli, scalars
 * with a little noise — so labels carry the rules' uncertainty.
 */

export const ARCHETYPES = ['stoic', 'volatile', 'warm', 'guarded', 'ambitious', 'grieving'] as const;
export const STANCES = ['stranger', 'ally', 'rival', 'indebted', 'betrayed'] as const;
export const CELL_COUNT = ARCHETYPES.length * STANCES.length * SCENE_TYPES.length * EVENT_TYPES.length * EMOTIONAL_REGISTERS.length;

/** The peer's 32-axis training vocabulary (frame-schema.md §1.1). */
export const AXIS_VOCABULARY = [
  'joy_wonder', 'sadness_grief', 'hope_anticipation', 'fear_wariness', 'anger', 'trust_emotional', 'longing_desire', 'contentment_satisfaction',
  'warmth_openness', 'empathy', 'protective_impulse', 'respect_for_autonomy', 'attachment_security', 'distance_management', 'duty_obligation', 'pride_dignity',
  'pattern_recognition', 'narrative_framing', 'intuitive_analytical', 'cautious_impulsive', 'self_awareness', 'practical_focus', 'creative_expression', 'creative_receptivity',
  'creative_capacity', 'dominant_deferential', 'gregarious_solitary', 'performative_private', 'expression_silence', 'loyalty', 'sacrifice_willingness', 'honesty_transparency',
] as const;

interface Template {
  drive: number;
  variance: number;
  awareness: Partial<Record<AwarenessLevel, number>>;
  emotions: Partial<Record<(typeof PLUTCHIK_WHEEL_ORDER)[number], number>>;
  self: number;
}

const TEMPLATES: Record<(typeof ARCHETYPES)[number], Template> = {
  stoic: { drive: 0.2, variance: 0.1, awareness: { articulate: 2, structural: 2, recognizable: 1 }, emotions: { trust: 0.3, anticipation: 0.3 }, self: 0.7 },
  volatile: { drive: 0.4, variance: 0.5, awareness: { preconscious: 3, recognizable: 1 }, emotions: { anger: 0.6, surprise: 0.4 }, self: 0.35 },
  warm: { drive: 0.1, variance: 0.2, awareness: { articulate: 2, recognizable: 2 }, emotions: { joy: 0.6, trust: 0.6 }, self: 0.6 },
  guarded: { drive: -0.3, variance: 0.2, awareness: { defended: 3, preconscious: 1 }, emotions: { fear: 0.5, disgust: 0.2 }, self: 0.4 },
  ambitious: { drive: 0.7, variance: 0.3, awareness: { articulate: 1, defended: 1, structural: 1 }, emotions: { anticipation: 0.6, anger: 0.2 }, self: 0.8 },
  grieving: { drive: -0.5, variance: 0.3, awareness: { preconscious: 2, defended: 2 }, emotions: { sadness: 0.7, fear: 0.2 }, self: 0.3 },
};

/** Centrals of the edge toward the actor: trust_reliability, trust_competence, trust_benevolence, affection, debt. */
const STANCE_EDGES: Record<(typeof STANCES)[number], readonly [number, number, number, number, number]> = {
  stranger: [0, 0, 0, 0, 0],
  ally: [0.6, 0.5, 0.6, 0.5, 0.1],
  rival: [-0.2, 0.5, -0.4, -0.4, 0],
  indebted: [0.3, 0.4, 0.3, 0.2, 0.6],
  betrayed: [-0.6, 0.2, -0.7, 0.2, -0.3],
};

export interface Cell {
  archetype: (typeof ARCHETYPES)[number];
  stance: (typeof STANCES)[number];
  sceneType: SceneType;
  eventType: EventType;
  register: EmotionalRegister;
}

export function allCells(): Cell[] {
  const cells: Cell[] = [];
  for (const archetype of ARCHETYPES)
    for (const stance of STANCES)
      for (const sceneType of SCENE_TYPES)
        for (const eventType of EVENT_TYPES) for (const register of EMOTIONAL_REGISTERS) cells.push({ archetype, stance, sceneType, eventType, register });
  return cells;
}

const clip = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

function pickWeighted<K extends string>(rng: Rng, weights: Partial<Record<K, number>>): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = rng.next() * total;
  for (const [k, w] of entries) {
    r -= w;
    if (r <= 0) return k;
  }
  return entries[entries.length - 1]![0];
}

/** The peer generator's substrate quadruple: variance 0.15, range ±0.225 around the central. */
function quad(central: number, rng: Rng): AxisValue {
  const c = clip(central, -1, 1);
  const variance = clip(0.15 + 0.03 * rng.normal(), 0, 1);
  return { central: c, variance, low: Math.max(c - 0.225, -1), high: Math.min(c + 0.225, 1) };
}

/** One jittered character for a cell. */
export function sampleFeatures(rng: Rng, cell: Cell, id: string): CharacterFeatures {
  const tpl = TEMPLATES[cell.archetype];
  const names = [...AXIS_VOCABULARY];
  for (let i = names.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  const axes = names.slice(0, 6 + rng.int(11)).map((name) => {
    const central = clip(tpl.drive + 0.45 * rng.normal(), -1, 1);
    const variance = clip(tpl.variance + 0.1 * rng.normal(), 0, 1);
    const spread = variance + 0.1 * rng.next();
    return {
      name,
      central,
      variance,
      low: clip(central - spread, -1, central),
      high: clip(central + spread, central, 1),
      layer: rng.pick(TEMPORAL_LAYERS),
      provenance: rng.next() < 0.6 ? ('authored' as const) : rng.pick(PROVENANCES),
    };
  });
  const primaries = PLUTCHIK_WHEEL_ORDER.map((id) => ({
    id,
    intensity: clip((tpl.emotions[id] ?? 0.1) + 0.2 * rng.normal(), 0, 1),
    awareness: rng.next() < 0.8 ? pickWeighted(rng, tpl.awareness) : rng.pick(AWARENESS_LEVELS),
  }));
  const j = (v: number): number => clip(v + 0.15 * rng.normal(), 0, 1);
  const selfEdge = { competence: j(tpl.self), intentions: j(0.6), reliability: j(tpl.self), affection: j(0.5), debt: j(0.1), historyWeight: j(0.5), projectionAccuracy: j(tpl.self) };
  const base = STANCE_EDGES[cell.stance];
  const edges: CharacterFeatures['edges'] = [];
  if (rng.next() < 0.85) {
    const c = base.map((v) => v + 0.2 * rng.normal());
    edges.push({
      to: 'actor',
      role: rng.next() < 0.5 ? 'hub' : rng.pick(TOPOLOGICAL_ROLES),
      trust_reliability: quad(c[0]!, rng),
      trust_competence: quad(c[1]!, rng),
      trust_benevolence: quad(c[2]!, rng),
      affection: quad(c[3]!, rng),
      debt: quad(c[4]!, rng),
    });
    for (let k = rng.int(3); k > 0; k--) {
      const o = STANCE_EDGES[rng.pick(STANCES)];
      edges.push({ to: `npc_${k}`, role: rng.pick(TOPOLOGICAL_ROLES), trust_reliability: quad(o[0], rng), trust_competence: quad(o[1], rng), trust_benevolence: quad(o[2], rng), affection: quad(o[3], rng), debt: quad(o[4], rng) });
    }
  }
  const history: HistoryEntry[] = [];
  for (let k = rng.int(4); k > 0; k--) {
    history.push({ action: rng.pick(ACTION_TYPES), register: rng.pick(SPEECH_REGISTERS), awareness: rng.pick(AWARENESS_LEVELS), valence: clip(0.3 * rng.normal(), -1, 1) });
  }
  return {
    characterId: id,
    axes,
    primaries,
    selfEdge,
    edges,
    scene: { type: cell.sceneType, castSize: 1 + rng.int(6), tension: clip((cell.register === 'aggressive' ? 0.6 : 0.4) + 0.25 * rng.normal(), 0, 1) },
    event: { type: cell.eventType, register: cell.register, confidence: rng.uniform(0.5, 0.95), targetCount: rng.next() < 0.6 ? 1 : rng.int(3) },
    history,
  };
}

function sampleFrom(rng: Rng, ps: readonly number[]): number {
  let r = rng.next();
  for (let i = 0; i < ps.length; i++) {
    r -= ps[i]!;
    if (r <= 0) return i;
  }
  return ps.length - 1;
}

/**
 * The label vector (encode_labels' layout) for one character, sampled from the rules.
 * Exported for tests; `generateDataset` calls it for every row.
 */
export function sampleLabels(rng: Rng, f: CharacterFeatures, out: Float32Array, offset: number): void {
  const o = ruleOutputs(f);
  const oneHot = (at: number, scores: readonly number[]): number[] => {
    const ps = softmax(scores);
    out[offset + at + sampleFrom(rng, ps)] = 1;
    return ps;
  };
  const actionPs = oneHot(OUT.actionType, o.actionType);
  out[offset + OUT.actionConfidence] = confidenceOf(actionPs);
  out[offset + OUT.actionTarget] = -1;
  out[offset + OUT.actionValence] = clip(o.valence + 0.05 * rng.normal(), -1, 1);
  oneHot(OUT.actionContext, o.actionContext);
  out[offset + OUT.speechOccurs] = rng.next() < o.speechOccurs ? 1 : 0;
  const registerPs = oneHot(OUT.speechRegister, o.speechRegister);
  out[offset + OUT.speechConfidence] = confidenceOf(registerPs);
  oneHot(OUT.awareness, o.awareness);
  out[offset + OUT.dominantEmotion] = o.dominantIndex;
  for (let i = 0; i < 8; i++) {
    out[offset + OUT.deltas + i] = o.deltas[i] !== 0 ? o.deltas[i]! + 0.01 * rng.normal() : 0;
    out[offset + OUT.shifts + i] = rng.next() < o.shifts[i]! ? 1 : 0;
  }
}

/** Row-major features [size, 453] and labels [size, 42]. */
export interface FrameDataset {
  size: number;
  features: Float32Array;
  labels: Float32Array;
}

export interface GenerateOptions {
  seed: number;
  samplesPerCell: number;
}

/**
 * Generates `samplesPerCell` samples for every cell of the matrix.
 *
 * @example
 * const train = generateDataset({ seed: 1, samplesPerCell: 3 }); // 3 × 5,880 rows
 */
export function generateDataset(options: GenerateOptions): FrameDataset {
  const rng = createRng(options.seed);
  const cells = allCells();
  const size = cells.length * options.samplesPerCell;
  const ds: FrameDataset = { size, features: new Float32Array(size * FEATURE_DIM), labels: new Float32Array(size * OUTPUT_DIM) };
  let row = 0;
  for (const cell of cells) {
    for (let k = 0; k < options.samplesPerCell; k++, row++) {
      const f = sampleFeatures(rng, cell, `c${row}`);
      encodeCharacterFeatures(f, ds.features, row * FEATURE_DIM);
      sampleLabels(rng, f, ds.labels, row * OUTPUT_DIM);
    }
  }
  return ds;
}

/** Human-readable description of the generator, written into the manifest. */
export function describeGenerator(): Record<string, unknown> {
  return {
    method: 'combinatorial scenario skeletons, seeded jitter, labels from the teacher rules (src/inference/frame/rules.ts) in the encode_labels layout',
    matrix: { archetypes: ARCHETYPES, stances: STANCES, sceneTypes: SCENE_TYPES, eventTypes: EVENT_TYPES, registers: EMOTIONAL_REGISTERS },
    cells: CELL_COUNT,
    primaryOrder: 'plutchik wheel (joy, trust, fear, surprise, sadness, disgust, anger, anticipation)',
    axisVocabulary: AXIS_VOCABULARY.length,
  };
}
