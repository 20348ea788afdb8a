import {
  ACTION_TYPES,
  AWARENESS_LEVELS,
  AXIS_WIDTH,
  EDGE_WIDTH,
  EMOTIONAL_REGISTERS,
  EVENT_TYPES,
  FEATURE_DIM,
  FEATURE_LAYOUT,
  HISTORY_DEPTH,
  HISTORY_WIDTH,
  MAX_AXES,
  MAX_EDGES,
  MAX_PRIMARIES,
  PRIMARY_WIDTH,
  PROVENANCES,
  SCENE_TYPES,
  SPEECH_REGISTERS,
  SUBSTRATE_DIMENSIONS,
  TEMPORAL_LAYERS,
  TOPOLOGICAL_ROLES,
  type AxisValue,
  type CharacterFeatures,
  type TensorAxis,
} from './character-schema.ts';

/**
 * `encode_features` of storyteller-character/1 (frame-schema.md §1, §5): a zero-filled
 * Float32Array(453); every float written raw (no clamping, no normalisation); slots
 * filled from 0 in list order, first N kept; padding stays all zeros (one-hots included).
 * Tensor axes are the one exception to list order: ascending UTF-8 byte order of the name.
 */

const utf8 = new TextEncoder();

/** Rust's `String` ordering: byte-wise comparison of the UTF-8 encodings. */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
};

/** Code-unit order equals UTF-8 byte order for ASCII names (the common case; no encoding needed). */
const compareAscii = (p: TensorAxis, q: TensorAxis): number => (p.name < q.name ? -1 : p.name > q.name ? 1 : 0);

/** The axes in encoding order (ascending UTF-8 bytes of the name), first 16. */
export function sortedAxes(axes: readonly TensorAxis[]): readonly TensorAxis[] {
  let ascii = true;
  let ordered = true;
  for (let i = 0; i < axes.length; i++) {
    if (ascii && !isAscii(axes[i]!.name)) ascii = false;
    if (i > 0 && axes[i - 1]!.name >= axes[i]!.name) ordered = false;
  }
  // Already in order (the runtime sorts story axes once): no copy.
  const sorted = ascii && ordered ? axes : [...axes].sort(ascii ? compareAscii : (p, q) => compareUtf8(p.name, q.name));
  return sorted.length > MAX_AXES ? sorted.slice(0, MAX_AXES) : sorted;
}

/** Enum value → declaration index, as a lookup table (the encoder runs for every character of every batch). */
function indexOf<T extends string>(list: readonly T[], what: string): (value: T) => number {
  const table = new Map<string, number>(list.map((v, i) => [v, i]));
  return (value) => {
    const i = table.get(value);
    if (i === undefined) throw new TypeError(`unknown ${what} '${value}'`);
    return i;
  };
}
const layerIndex = indexOf(TEMPORAL_LAYERS, 'temporal layer');
const provenanceIndex = indexOf(PROVENANCES, 'provenance');
const awarenessIndex = indexOf(AWARENESS_LEVELS, 'awareness level');
const roleIndex = indexOf(TOPOLOGICAL_ROLES, 'topological role');
const sceneIndex = indexOf(SCENE_TYPES, 'scene type');
const eventIndex = indexOf(EVENT_TYPES, 'event type');
const registerIndex = indexOf(EMOTIONAL_REGISTERS, 'emotional register');
const actionIndex = indexOf(ACTION_TYPES, 'action type');
const speechIndex = indexOf(SPEECH_REGISTERS, 'speech register');

function writeAxisValue(out: Float32Array, o: number, v: AxisValue): void {
  out[o] = v.central;
  out[o + 1] = v.variance;
  out[o + 2] = v.low;
  out[o + 3] = v.high;
}

/**
 * The 208-float tensor region of an axes list. A character's tensor does not change during
 * a scene and the runtime hands over the same (cached) axes array every turn, so the block is
 * computed once per array: treat a CharacterFeatures' `axes` as immutable.
 */
const tensorBlocks = new WeakMap<readonly TensorAxis[], Float32Array>();
function tensorBlock(list: readonly TensorAxis[]): Float32Array {
  const cached = tensorBlocks.get(list);
  if (cached) return cached;
  const block = new Float32Array(FEATURE_LAYOUT.tensor.length);
  const axes = sortedAxes(list);
  for (let k = 0; k < axes.length; k++) {
    const a = axes[k]!;
    const o = k * AXIS_WIDTH;
    writeAxisValue(block, o, a);
    block[o + 4 + layerIndex(a.layer)] = 1;
    block[o + 8 + provenanceIndex(a.provenance)] = 1;
  }
  tensorBlocks.set(list, block);
  return block;
}

/**
 * Encodes one character into a fresh row, or into `out` at `offset` (a batch buffer).
 *
 * @example
 * const row = encodeCharacterFeatures(features); // Float32Array(453)
 */
export function encodeCharacterFeatures(f: CharacterFeatures, out?: Float32Array, offset = 0): Float32Array {
  const row = out ?? new Float32Array(FEATURE_DIM);
  const b = out ? offset : 0;
  if (out) row.fill(0, b, b + FEATURE_DIM);

  row.set(tensorBlock(f.axes), b + FEATURE_LAYOUT.tensor.offset);

  const np = Math.min(f.primaries.length, MAX_PRIMARIES);
  for (let j = 0; j < np; j++) {
    const p = f.primaries[j]!;
    const o = b + FEATURE_LAYOUT.emotional_state.offset + j * PRIMARY_WIDTH;
    row[o] = p.intensity;
    row[o + 1 + awarenessIndex(p.awareness)] = 1;
  }

  const s = f.selfEdge;
  const so = b + FEATURE_LAYOUT.self_edge.offset;
  row[so] = s.competence;
  row[so + 1] = s.intentions;
  row[so + 2] = s.reliability;
  row[so + 3] = s.affection;
  row[so + 4] = s.debt;
  row[so + 5] = s.historyWeight;
  row[so + 6] = s.projectionAccuracy;

  const ne = Math.min(f.edges.length, MAX_EDGES);
  for (let e = 0; e < ne; e++) {
    const edge = f.edges[e]!;
    const o = b + FEATURE_LAYOUT.relational_edges.offset + e * EDGE_WIDTH;
    for (let d = 0; d < SUBSTRATE_DIMENSIONS.length; d++) writeAxisValue(row, o + 4 * d, edge[SUBSTRATE_DIMENSIONS[d]!]);
    row[o + 20 + roleIndex(edge.role ?? 'periphery')] = 1;
  }

  const sc = b + FEATURE_LAYOUT.scene_context.offset;
  row[sc + sceneIndex(f.scene.type)] = 1;
  row[sc + 4] = f.scene.castSize;
  row[sc + 5] = f.scene.tension;

  const ev = b + FEATURE_LAYOUT.player_event.offset;
  row[ev + eventIndex(f.event.type)] = 1;
  row[ev + 7 + registerIndex(f.event.register)] = 1;
  row[ev + 14] = f.event.confidence;
  row[ev + 15] = f.event.targetCount;

  const nh = Math.min(f.history.length, HISTORY_DEPTH);
  for (let h = 0; h < nh; h++) {
    const entry = f.history[h]!;
    const o = b + FEATURE_LAYOUT.history.offset + h * HISTORY_WIDTH;
    row[o + actionIndex(entry.action)] = 1;
    row[o + 6 + speechIndex(entry.register)] = 1;
    row[o + 10 + awarenessIndex(entry.awareness)] = 1;
    row[o + 15] = entry.valence;
  }
  return out ? row.subarray(b, b + FEATURE_DIM) : row;
}

/** Encodes a cast into one row-major `[n, 453]` buffer. */
export function encodeBatch(inputs: readonly CharacterFeatures[]): Float32Array {
  const out = new Float32Array(inputs.length * FEATURE_DIM);
  for (let i = 0; i < inputs.length; i++) encodeCharacterFeatures(inputs[i]!, out, i * FEATURE_DIM);
  return out;
}
