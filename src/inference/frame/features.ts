/**
 * The frame model's input side: what a caller knows about one character at one moment
 * (`FrameInput`), and the encoder that turns it into the 453-float feature row the
 * model contract fixes. The exact layout is documented in docs/frame-model.md; the
 * offsets below are the single source of truth for it.
 *
 * Value conventions (the encoder clips to them):
 * - axis `central`, `low`, `high`: bipolar in [-1, 1]; `variance` in [0, 1];
 * - emotion intensities in [0, 1];
 * - relational edge values in [-1, 1] (0 = neutral; trust below 0 = distrust, debt above 0 = the source owes);
 * - scene `mass`, `tension`, `exitPressure` in [0, 1]; `castSize` and `turn` are counts;
 * - player event `hostility`, `warmth` in [0, 1].
 */

export const EMOTIONS = ['joy', 'trust', 'fear', 'surprise', 'sadness', 'disgust', 'anger', 'anticipation'] as const;
export type Emotion = (typeof EMOTIONS)[number];

export const AXIS_LAYERS = ['topsoil', 'sediment', 'bedrock', 'primordial'] as const;
export type AxisLayer = (typeof AXIS_LAYERS)[number];

export const AWARENESS_LEVELS = ['articulate', 'recognizable', 'preconscious', 'defended', 'structural'] as const;
export type AwarenessLevel = (typeof AWARENESS_LEVELS)[number];

export const SCENE_TYPES = ['gravitational', 'gate', 'connective', 'threshold'] as const;
export type SceneType = (typeof SCENE_TYPES)[number];

export const PLAYER_EVENT_KINDS = ['speech', 'action', 'examination', 'movement', 'question', 'meta'] as const;
export type PlayerEventKind = (typeof PLAYER_EVENT_KINDS)[number];

export const EDGE_VALUE_NAMES = ['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt'] as const;

/** A directed relational edge's values (domain.md "Relational edge"), each in [-1, 1]. */
export interface RelationalEdgeValues {
  trust_reliability: number;
  trust_competence: number;
  trust_benevolence: number;
  affection: number;
  debt: number;
}

/** One personality axis / value / capacity of the character tensor. */
export interface FrameAxis {
  name: string;
  central: number;
  variance: number;
  low: number;
  high: number;
  layer: AxisLayer;
  awareness?: AwarenessLevel;
}

/** What the player just did, as seen by this character. */
export interface FramePlayerEvent {
  kind: PlayerEventKind;
  addressedToMe: boolean;
  hostility: number;
  warmth: number;
  mentionsMe: boolean;
  topicKeywords?: string[];
}

export interface FrameScene {
  type: SceneType;
  mass: number;
  castSize: number;
  tension: number;
  turn: number;
  exitPressure: number;
}

/**
 * Everything the frame model sees about one character.
 *
 * @example
 * const input: FrameInput = {
 *   characterId: 'keeper',
 *   axes: [{ name: 'duty', central: 0.8, variance: 0.1, low: 0.5, high: 1, layer: 'bedrock', awareness: 'articulate' }],
 *   emotions: { fear: 0.4 },
 *   edges: [{ to: 'player', trust_reliability: 0.1, trust_competence: 0, trust_benevolence: 0.2, affection: 0, debt: 0 }],
 *   scene: { type: 'gate', mass: 0.6, castSize: 2, tension: 0.5, turn: 3, exitPressure: 0.2 },
 *   playerEvent: { kind: 'question', addressedToMe: true, hostility: 0, warmth: 0.5, mentionsMe: true },
 * };
 */
export interface FrameInput {
  characterId: string;
  /** First 16 used. */
  axes: FrameAxis[];
  /** Intensity 0..1; missing = 0. */
  emotions: Partial<Record<Emotion, number>>;
  /** How the character stands toward itself. */
  selfEdge?: Partial<RelationalEdgeValues>;
  /** First 5 used; the edge toward the player first. */
  edges: Array<{ to: string } & RelationalEdgeValues>;
  scene: FrameScene;
  playerEvent?: FramePlayerEvent;
  /** The last 3 player events, most recent first. */
  history?: FramePlayerEvent[];
}

/** The decoded output for one character. */
export interface CharacterFrame {
  characterId: string;
  /** Raw logits of the four heads, in the class order of contract.ts. */
  action: Float32Array | number[];
  speech: number[];
  thought: number[];
  emotion: number[];
  /** The compressed psychological frame handed to the character agent, ~200–400 tokens. */
  text: string;
  tokenCount: number;
}

/**
 * Computes frames for a cast. Scene entry sends the whole cast at once; a turn sends one character.
 *
 * @example
 * const [frame] = await computer.computeFrames([input]);
 * prompt.push(frame.text);
 */
export interface FrameComputer {
  computeFrames(inputs: FrameInput[]): Promise<CharacterFrame[]>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Layout. Region sizes are the contract's; the per-slot fields are ours (docs/frame-model.md).

export const MAX_AXES = 16;
export const AXIS_WIDTH = 13;
export const EMOTION_WIDTH = 6;
export const SELF_EDGE_WIDTH = 7;
export const MAX_EDGES = 5;
export const EDGE_WIDTH = 24;
export const SCENE_WIDTH = 6;
export const EVENT_WIDTH = 16;
export const HISTORY_LENGTH = 3;

export const FEATURE_LAYOUT = {
  axes: { offset: 0, length: MAX_AXES * AXIS_WIDTH },
  emotions: { offset: 208, length: EMOTIONS.length * EMOTION_WIDTH },
  selfEdge: { offset: 256, length: SELF_EDGE_WIDTH },
  edges: { offset: 263, length: MAX_EDGES * EDGE_WIDTH },
  scene: { offset: 383, length: SCENE_WIDTH },
  playerEvent: { offset: 389, length: EVENT_WIDTH },
  history: { offset: 405, length: HISTORY_LENGTH * EVENT_WIDTH },
} as const;

export const FEATURE_DIM = 453;

/** Id the encoder treats as the player when flagging the edge toward the player. */
export const DEFAULT_PLAYER_ID = 'player';

export interface EncodeOptions {
  playerId?: string;
}

const clip = (v: number, lo: number, hi: number): number => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : 0);
const unit = (v: number): number => clip(v, 0, 1);
const bipolar = (v: number): number => clip(v, -1, 1);

/** Scene type as one ordinal in [0, 1], ordered by how strongly the scene holds its cast. */
export const SCENE_TYPE_CODE: Readonly<Record<SceneType, number>> = {
  threshold: 0,
  connective: 1 / 3,
  gate: 2 / 3,
  gravitational: 1,
};

/** Band of a bipolar value: 0 below -1/3, 1 in between, 2 above 1/3. */
function band(v: number): 0 | 1 | 2 {
  if (v < -1 / 3) return 0;
  if (v > 1 / 3) return 2;
  return 1;
}

function encodeAxes(out: Float32Array, axes: readonly FrameAxis[]): void {
  const base = FEATURE_LAYOUT.axes.offset;
  const n = Math.min(axes.length, MAX_AXES);
  for (let i = 0; i < n; i++) {
    const a = axes[i]!;
    const o = base + i * AXIS_WIDTH;
    out[o] = bipolar(a.central);
    out[o + 1] = unit(a.variance);
    out[o + 2] = bipolar(a.low);
    out[o + 3] = bipolar(a.high);
    out[o + 4 + AXIS_LAYERS.indexOf(a.layer)] = 1; // 4..7 layer one-hot (always set: marks the slot as used)
    if (a.awareness) out[o + 8 + AWARENESS_LEVELS.indexOf(a.awareness)] = 1; // 8..12 awareness one-hot
  }
}

function encodeEmotions(out: Float32Array, emotions: FrameInput['emotions']): void {
  const base = FEATURE_LAYOUT.emotions.offset;
  let max = 0;
  for (const e of EMOTIONS) max = Math.max(max, unit(emotions[e] ?? 0));
  EMOTIONS.forEach((e, i) => {
    const v = unit(emotions[e] ?? 0);
    const o = base + i * EMOTION_WIDTH;
    out[o] = v;
    out[o + 1] = v > 0 ? 1 : 0;
    out[o + 2] = v > 0 && v <= 1 / 3 ? 1 : 0;
    out[o + 3] = v > 1 / 3 && v <= 2 / 3 ? 1 : 0;
    out[o + 4] = v > 2 / 3 ? 1 : 0;
    out[o + 5] = v > 0 && v === max ? 1 : 0; // dominant emotion (ties all flagged)
  });
}

/** Mean of the three trust components. */
export function meanTrust(e: Partial<RelationalEdgeValues>): number {
  return (bipolar(e.trust_reliability ?? 0) + bipolar(e.trust_competence ?? 0) + bipolar(e.trust_benevolence ?? 0)) / 3;
}

function encodeSelfEdge(out: Float32Array, self: FrameInput['selfEdge']): void {
  if (!self) return;
  const o = FEATURE_LAYOUT.selfEdge.offset;
  EDGE_VALUE_NAMES.forEach((k, i) => {
    out[o + i] = bipolar(self[k] ?? 0);
  });
  out[o + 5] = 1;
  out[o + 6] = meanTrust(self);
}

function encodeEdges(out: Float32Array, edges: FrameInput['edges'], playerId: string): void {
  const n = Math.min(edges.length, MAX_EDGES);
  for (let i = 0; i < n; i++) {
    const e = edges[i]!;
    const o = FEATURE_LAYOUT.edges.offset + i * EDGE_WIDTH;
    out[o] = 1;
    out[o + 1] = e.to === playerId ? 1 : 0;
    EDGE_VALUE_NAMES.forEach((k, j) => {
      const v = bipolar(e[k]);
      out[o + 2 + j] = v;
      out[o + 7 + j * 3 + band(v)] = 1; // 7..21: per value a low/neutral/high one-hot
    });
    const trust = meanTrust(e);
    out[o + 22] = trust;
    out[o + 23] = trust * bipolar(e.affection);
  }
}

function encodeScene(out: Float32Array, s: FrameScene): void {
  const o = FEATURE_LAYOUT.scene.offset;
  out[o] = SCENE_TYPE_CODE[s.type] ?? 0;
  out[o + 1] = unit(s.mass);
  out[o + 2] = unit(s.castSize / 10);
  out[o + 3] = unit(s.tension);
  out[o + 4] = unit(s.turn / 20);
  out[o + 5] = unit(s.exitPressure);
}

/** Whether any topic keyword names one of the character's axes (the player touched what it cares about). */
function touchesAxis(keywords: readonly string[] | undefined, axes: readonly FrameAxis[]): boolean {
  if (!keywords || keywords.length === 0) return false;
  const names = axes.slice(0, MAX_AXES).map((a) => a.name.toLowerCase());
  return keywords.some((k) => {
    const kw = k.toLowerCase();
    return kw.length > 0 && names.some((n) => n.includes(kw) || kw.includes(n));
  });
}

/** Writes one player event's 16 floats at `o` (used for the current event and each history slot). */
function encodeEvent(out: Float32Array, o: number, ev: FramePlayerEvent, axes: readonly FrameAxis[]): void {
  out[o + PLAYER_EVENT_KINDS.indexOf(ev.kind)] = 1; // 0..5 kind one-hot
  const hostility = unit(ev.hostility);
  const warmth = unit(ev.warmth);
  const addressed = ev.addressedToMe ? 1 : 0;
  out[o + 6] = 1;
  out[o + 7] = addressed;
  out[o + 8] = ev.mentionsMe ? 1 : 0;
  out[o + 9] = hostility;
  out[o + 10] = warmth;
  out[o + 11] = warmth - hostility;
  out[o + 12] = hostility * addressed;
  out[o + 13] = warmth * addressed;
  out[o + 14] = unit((ev.topicKeywords?.length ?? 0) / 5);
  out[o + 15] = touchesAxis(ev.topicKeywords, axes) ? 1 : 0;
}

/**
 * Encodes one character into a fresh 453-float row (or into `out` at `offset`).
 *
 * @example
 * const row = encodeFrameInput(input); // Float32Array(453)
 */
export function encodeFrameInput(input: FrameInput, options: EncodeOptions = {}, out?: Float32Array, offset = 0): Float32Array {
  const row = out ? out.subarray(offset, offset + FEATURE_DIM) : new Float32Array(FEATURE_DIM);
  if (out) row.fill(0);
  const playerId = options.playerId ?? DEFAULT_PLAYER_ID;
  encodeAxes(row, input.axes);
  encodeEmotions(row, input.emotions);
  encodeSelfEdge(row, input.selfEdge);
  encodeEdges(row, input.edges, playerId);
  encodeScene(row, input.scene);
  if (input.playerEvent) encodeEvent(row, FEATURE_LAYOUT.playerEvent.offset, input.playerEvent, input.axes);
  const history = input.history ?? [];
  for (let i = 0; i < Math.min(history.length, HISTORY_LENGTH); i++) {
    encodeEvent(row, FEATURE_LAYOUT.history.offset + i * EVENT_WIDTH, history[i]!, input.axes);
  }
  return row;
}

/** Encodes a cast into one row-major `[inputs.length, 453]` buffer. */
export function encodeBatch(inputs: readonly FrameInput[], options: EncodeOptions = {}): Float32Array {
  const out = new Float32Array(inputs.length * FEATURE_DIM);
  inputs.forEach((input, i) => encodeFrameInput(input, options, out, i * FEATURE_DIM));
  return out;
}
