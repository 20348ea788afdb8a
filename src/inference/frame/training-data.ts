import { encodeFrameInput, FEATURE_DIM, PLAYER_EVENT_KINDS, SCENE_TYPES, type AwarenessLevel, type Emotion, type FrameAxis, type FrameInput, type FramePlayerEvent, type RelationalEdgeValues } from './features.ts';
import { createRng, type Rng } from './prng.ts';
import { ruleScores } from './rules.ts';
import { ACTION_CLASSES, EMOTION_SHIFT_CLASSES, SPEECH_CLASSES, THOUGHT_CLASSES } from './contract.ts';

/**
 * Combinatorial training data for the frame model (the seed's "combinatorial matrices →
 * scenario skeletons", without the LLM expansion): every cell of
 * archetype × stance toward the player × scene type × player event kind × tone
 * is a scenario skeleton; each sample jitters one skeleton with the seeded RNG and is
 * labelled by sampling from the teacher rules (rules.ts), so labels carry the rules'
 * uncertainty rather than a hard argmax.
 */

export const ARCHETYPES = ['stoic', 'volatile', 'warm', 'guarded', 'ambitious', 'grieving'] as const;
export const STANCES = ['stranger', 'ally', 'rival', 'indebted', 'betrayed'] as const;
export const EVENT_KINDS = [...PLAYER_EVENT_KINDS, 'none'] as const;
export const TONES = ['hostile', 'neutral', 'warm'] as const;

/** Softmax temperature inverse used when sampling categorical labels from the rule scores. */
export const LABEL_SHARPNESS = 3;
/** Same for the Bernoulli emotion-shift labels. */
export const SHIFT_SHARPNESS = 3;

export const CELL_COUNT = ARCHETYPES.length * STANCES.length * SCENE_TYPES.length * EVENT_KINDS.length * TONES.length;

const AXIS_NAMES = ['duty', 'pride', 'grief', 'curiosity', 'loyalty', 'ambition', 'faith', 'guilt', 'solitude', 'control', 'honesty', 'hope', 'memory', 'belonging', 'the sea', 'kinship'];

interface ArchetypeTemplate {
  drive: number;
  variance: number;
  awareness: Partial<Record<AwarenessLevel, number>>;
  emotions: Partial<Record<Emotion, number>>;
  selfCompetence: number;
}

const TEMPLATES: Record<(typeof ARCHETYPES)[number], ArchetypeTemplate> = {
  stoic: { drive: 0.2, variance: 0.1, awareness: { articulate: 2, structural: 2, recognizable: 1 }, emotions: { trust: 0.2, anticipation: 0.2 }, selfCompetence: 0.6 },
  volatile: { drive: 0.4, variance: 0.6, awareness: { preconscious: 3, recognizable: 1 }, emotions: { anger: 0.6, surprise: 0.4 }, selfCompetence: 0.1 },
  warm: { drive: 0.1, variance: 0.25, awareness: { articulate: 2, recognizable: 2 }, emotions: { joy: 0.6, trust: 0.5 }, selfCompetence: 0.3 },
  guarded: { drive: -0.3, variance: 0.2, awareness: { defended: 3, preconscious: 1 }, emotions: { fear: 0.5, disgust: 0.2 }, selfCompetence: 0 },
  ambitious: { drive: 0.7, variance: 0.3, awareness: { articulate: 1, defended: 1, structural: 1 }, emotions: { anticipation: 0.6, anger: 0.2 }, selfCompetence: 0.7 },
  grieving: { drive: -0.5, variance: 0.35, awareness: { preconscious: 2, defended: 2 }, emotions: { sadness: 0.7, fear: 0.2 }, selfCompetence: -0.3 },
};

const STANCE_EDGES: Record<(typeof STANCES)[number], RelationalEdgeValues> = {
  stranger: { trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0, debt: 0 },
  ally: { trust_reliability: 0.6, trust_competence: 0.5, trust_benevolence: 0.6, affection: 0.5, debt: 0.1 },
  rival: { trust_reliability: -0.2, trust_competence: 0.5, trust_benevolence: -0.4, affection: -0.4, debt: 0 },
  indebted: { trust_reliability: 0.3, trust_competence: 0.4, trust_benevolence: 0.3, affection: 0.2, debt: 0.7 },
  betrayed: { trust_reliability: -0.6, trust_competence: 0.2, trust_benevolence: -0.7, affection: 0.2, debt: -0.3 },
};

const TONE_VALUES: Record<(typeof TONES)[number], { hostility: number; warmth: number }> = {
  hostile: { hostility: 0.75, warmth: 0.05 },
  neutral: { hostility: 0.1, warmth: 0.15 },
  warm: { hostility: 0.05, warmth: 0.75 },
};

export interface Cell {
  archetype: (typeof ARCHETYPES)[number];
  stance: (typeof STANCES)[number];
  sceneType: (typeof SCENE_TYPES)[number];
  eventKind: (typeof EVENT_KINDS)[number];
  tone: (typeof TONES)[number];
}

/** Every cell of the matrix, in a fixed order. */
export function allCells(): Cell[] {
  const cells: Cell[] = [];
  for (const archetype of ARCHETYPES)
    for (const stance of STANCES)
      for (const sceneType of SCENE_TYPES)
        for (const eventKind of EVENT_KINDS)
          for (const tone of TONES) cells.push({ archetype, stance, sceneType, eventKind, tone });
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

function jitterEdge(rng: Rng, base: RelationalEdgeValues, sd: number): RelationalEdgeValues {
  const j = (v: number): number => clip(v + sd * rng.normal(), -1, 1);
  return {
    trust_reliability: j(base.trust_reliability),
    trust_competence: j(base.trust_competence),
    trust_benevolence: j(base.trust_benevolence),
    affection: j(base.affection),
    debt: j(base.debt),
  };
}

function randomEvent(rng: Rng, kind: FramePlayerEvent['kind'], tone: (typeof TONES)[number], axes: FrameAxis[]): FramePlayerEvent {
  const t = TONE_VALUES[tone];
  const keywords: string[] = [];
  const nk = rng.int(4);
  for (let i = 0; i < nk; i++) keywords.push(rng.next() < 0.5 && axes.length > 0 ? rng.pick(axes).name : rng.pick(['weather', 'lamp', 'boat', 'letter', 'storm', 'key']));
  return {
    kind,
    addressedToMe: rng.next() < (kind === 'speech' || kind === 'question' ? 0.7 : 0.35),
    hostility: clip(t.hostility + 0.15 * rng.normal(), 0, 1),
    warmth: clip(t.warmth + 0.15 * rng.normal(), 0, 1),
    mentionsMe: rng.next() < 0.5,
    topicKeywords: keywords,
  };
}

/** One jittered character for a cell. */
export function sampleInput(rng: Rng, cell: Cell, id: string): FrameInput {
  const tpl = TEMPLATES[cell.archetype];
  const nAxes = 4 + rng.int(13);
  const names = [...AXIS_NAMES];
  for (let i = names.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  names.length = nAxes;
  const axes: FrameAxis[] = names.map((name) => {
    const central = clip(tpl.drive + 0.45 * rng.normal(), -1, 1);
    const variance = clip(tpl.variance + 0.1 * rng.normal(), 0, 1);
    const spread = variance + 0.1 * rng.next();
    return {
      name,
      central,
      variance,
      low: clip(central - spread, -1, 1),
      high: clip(central + spread, -1, 1),
      layer: rng.pick(['topsoil', 'sediment', 'bedrock', 'primordial'] as const),
      ...(rng.next() < 0.85 ? { awareness: pickWeighted(rng, tpl.awareness) } : {}),
    };
  });
  const emotions: Partial<Record<Emotion, number>> = {};
  for (const [e, v] of Object.entries(tpl.emotions) as Array<[Emotion, number]>) emotions[e] = clip(v + 0.2 * rng.normal(), 0, 1);
  const extra = rng.pick(['joy', 'trust', 'fear', 'surprise', 'sadness', 'disgust', 'anger', 'anticipation'] as const);
  emotions[extra] = clip((emotions[extra] ?? 0) + 0.4 * rng.next(), 0, 1);

  const edges: FrameInput['edges'] = [{ to: 'player', ...jitterEdge(rng, STANCE_EDGES[cell.stance], 0.2) }];
  const others = rng.int(5);
  for (let i = 0; i < others; i++) edges.push({ to: `npc-${i}`, ...jitterEdge(rng, STANCE_EDGES[rng.pick(STANCES)], 0.3) });

  const input: FrameInput = {
    characterId: id,
    axes,
    emotions,
    edges,
    scene: {
      type: cell.sceneType,
      mass: rng.next(),
      castSize: 1 + rng.int(8),
      tension: clip((cell.tone === 'hostile' ? 0.6 : 0.3) + 0.25 * rng.normal(), 0, 1),
      turn: rng.int(25),
      exitPressure: rng.next() < 0.3 ? rng.uniform(0.5, 1) : rng.uniform(0, 0.4),
    },
  };
  if (rng.next() < 0.8) input.selfEdge = jitterEdge(rng, { trust_reliability: 0.2, trust_competence: tpl.selfCompetence, trust_benevolence: 0.2, affection: 0.1, debt: 0 }, 0.2);
  if (cell.eventKind !== 'none') input.playerEvent = randomEvent(rng, cell.eventKind, cell.tone, axes);
  const nHistory = rng.int(4);
  if (nHistory > 0) {
    input.history = [];
    for (let i = 0; i < nHistory; i++) input.history.push(randomEvent(rng, rng.pick(PLAYER_EVENT_KINDS), rng.next() < 0.6 ? cell.tone : rng.pick(TONES), axes));
  }
  return input;
}

function labelDistribution(logits: readonly number[], sharpness: number): number[] {
  const max = Math.max(...logits);
  const ps = logits.map((l) => Math.exp(sharpness * (l - max)));
  const total = ps.reduce((s, p) => s + p, 0);
  return ps.map((p) => p / total);
}

function sampleFrom(rng: Rng, ps: readonly number[]): number {
  let r = rng.next();
  for (let i = 0; i < ps.length; i++) {
    r -= ps[i]!;
    if (r <= 0) return i;
  }
  return ps.length - 1;
}

const entropy = (ps: readonly number[]): number => -ps.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);

/** A generated data set: row-major features and the labels of the four heads. */
export interface FrameDataset {
  size: number;
  features: Float32Array; // [size, 453]
  action: Uint8Array; // class index
  speech: Uint8Array;
  thought: Uint8Array;
  emotion: Uint8Array; // [size, 16] of 0/1
  /**
   * What a perfect learner of the rules could reach on this data (the labels are sampled,
   * so nothing reaches 100 %): mean expected accuracy and cross-entropy of predicting with
   * the rules' own label distribution, per head.
   */
  ceiling: Record<'action' | 'speech' | 'thought' | 'emotion', { accuracy: number; crossEntropy: number }>;
}

export interface GenerateOptions {
  seed: number;
  samplesPerCell: number;
}

/**
 * Generates `samplesPerCell` samples for every cell of the matrix.
 *
 * @example
 * const train = generateDataset({ seed: 1, samplesPerCell: 4 }); // 4 × 2520 rows
 */
export function generateDataset(options: GenerateOptions): FrameDataset {
  const rng = createRng(options.seed);
  const cells = allCells();
  const size = cells.length * options.samplesPerCell;
  const ds: FrameDataset = {
    size,
    features: new Float32Array(size * FEATURE_DIM),
    action: new Uint8Array(size),
    speech: new Uint8Array(size),
    thought: new Uint8Array(size),
    emotion: new Uint8Array(size * EMOTION_SHIFT_CLASSES.length),
    ceiling: { action: { accuracy: 0, crossEntropy: 0 }, speech: { accuracy: 0, crossEntropy: 0 }, thought: { accuracy: 0, crossEntropy: 0 }, emotion: { accuracy: 0, crossEntropy: 0 } },
  };
  const nShift = EMOTION_SHIFT_CLASSES.length;
  let row = 0;
  for (const cell of cells) {
    for (let k = 0; k < options.samplesPerCell; k++, row++) {
      const input = sampleInput(rng, cell, `c${row}`);
      encodeFrameInput(input, {}, ds.features, row * FEATURE_DIM);
      const s = ruleScores(input);
      for (const head of ['action', 'speech', 'thought'] as const) {
        const ps = labelDistribution(s[head], LABEL_SHARPNESS);
        ds[head][row] = sampleFrom(rng, ps);
        ds.ceiling[head].accuracy += Math.max(...ps) / size;
        ds.ceiling[head].crossEntropy += entropy(ps) / size;
      }
      s.emotion.forEach((l, j) => {
        const p = 1 / (1 + Math.exp(-SHIFT_SHARPNESS * l));
        ds.emotion[row * nShift + j] = rng.next() < p ? 1 : 0;
        ds.ceiling.emotion.accuracy += Math.max(p, 1 - p) / (size * nShift);
        ds.ceiling.emotion.crossEntropy += entropy([p, 1 - p]) / (size * nShift);
      });
    }
  }
  return ds;
}

/** Human-readable description of the generator, written into the manifest. */
export function describeGenerator(): Record<string, unknown> {
  return {
    method: 'combinatorial scenario skeletons, seeded jitter, labels sampled from the teacher rules (src/inference/frame/rules.ts)',
    matrix: { archetypes: ARCHETYPES, stances: STANCES, sceneTypes: SCENE_TYPES, eventKinds: EVENT_KINDS, tones: TONES },
    cells: CELL_COUNT,
    labelSharpness: LABEL_SHARPNESS,
    shiftSharpness: SHIFT_SHARPNESS,
    heads: { action: ACTION_CLASSES.length, speech: SPEECH_CLASSES.length, thought: THOUGHT_CLASSES.length, emotion: EMOTION_SHIFT_CLASSES.length },
  };
}
