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

/** The axes in encoding order (ascending UTF-8 bytes of the name), first 16. */
export function sortedAxes(axes: readonly TensorAxis[]): TensorAxis[] {
  // For ASCII names a code-unit comparison is the byte order and needs no encoding.
  const ascii = axes.every((a) => isAscii(a.name));
  const sorted = [...axes].sort(ascii ? (p, q) => (p.name < q.name ? -1 : p.name > q.name ? 1 : 0) : (p, q) => compareUtf8(p.name, q.name));
  return sorted.length > MAX_AXES ? sorted.slice(0, MAX_AXES) : sorted;
}

function indexIn(list: readonly string[], value: string, what: string): number {
  const i = list.indexOf(value);
  if (i < 0) throw new TypeError(`unknown ${what} '${value}'`);
  return i;
}

function writeAxisValue(out: Float32Array, o: number, v: AxisValue): void {
  out[o] = v.central;
  out[o + 1] = v.variance;
  out[o + 2] = v.low;
  out[o + 3] = v.high;
}

/**
 * Encodes one character into a fresh row, or into `out` at `offset` (a batch buffer).
 *
 * @example
 * const row = encodeCharacterFeatures(features); // Float32Array(453)
 */
export function encodeCharacterFeatures(f: CharacterFeatures, out?: Float32Array, offset = 0): Float32Array {
  const row = out ? out.subarray(offset, offset + FEATURE_DIM) : new Float32Array(FEATURE_DIM);
  if (out) row.fill(0);

  const axes = sortedAxes(f.axes);
  for (let k = 0; k < axes.length; k++) {
    const a = axes[k]!;
    const o = FEATURE_LAYOUT.tensor.offset + k * AXIS_WIDTH;
    writeAxisValue(row, o, a);
    row[o + 4 + indexIn(TEMPORAL_LAYERS, a.layer, 'temporal layer')] = 1;
    row[o + 8 + indexIn(PROVENANCES, a.provenance, 'provenance')] = 1;
  }

  const np = Math.min(f.primaries.length, MAX_PRIMARIES);
  for (let j = 0; j < np; j++) {
    const p = f.primaries[j]!;
    const o = FEATURE_LAYOUT.emotional_state.offset + j * PRIMARY_WIDTH;
    row[o] = p.intensity;
    row[o + 1 + indexIn(AWARENESS_LEVELS, p.awareness, 'awareness level')] = 1;
  }

  const s = f.selfEdge;
  const so = FEATURE_LAYOUT.self_edge.offset;
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
    const o = FEATURE_LAYOUT.relational_edges.offset + e * EDGE_WIDTH;
    for (let d = 0; d < SUBSTRATE_DIMENSIONS.length; d++) writeAxisValue(row, o + 4 * d, edge[SUBSTRATE_DIMENSIONS[d]!]);
    row[o + 20 + indexIn(TOPOLOGICAL_ROLES, edge.role ?? 'periphery', 'topological role')] = 1;
  }

  const sc = FEATURE_LAYOUT.scene_context.offset;
  row[sc + indexIn(SCENE_TYPES, f.scene.type, 'scene type')] = 1;
  row[sc + 4] = f.scene.castSize;
  row[sc + 5] = f.scene.tension;

  const ev = FEATURE_LAYOUT.player_event.offset;
  row[ev + indexIn(EVENT_TYPES, f.event.type, 'event type')] = 1;
  row[ev + 7 + indexIn(EMOTIONAL_REGISTERS, f.event.register, 'emotional register')] = 1;
  row[ev + 14] = f.event.confidence;
  row[ev + 15] = f.event.targetCount;

  const nh = Math.min(f.history.length, HISTORY_DEPTH);
  for (let h = 0; h < nh; h++) {
    const entry = f.history[h]!;
    const o = FEATURE_LAYOUT.history.offset + h * HISTORY_WIDTH;
    row[o + indexIn(ACTION_TYPES, entry.action, 'action type')] = 1;
    row[o + 6 + indexIn(SPEECH_REGISTERS, entry.register, 'speech register')] = 1;
    row[o + 10 + indexIn(AWARENESS_LEVELS, entry.awareness, 'awareness level')] = 1;
    row[o + 15] = entry.valence;
  }
  return row;
}

/** Encodes a cast into one row-major `[n, 453]` buffer. */
export function encodeBatch(inputs: readonly CharacterFeatures[]): Float32Array {
  const out = new Float32Array(inputs.length * FEATURE_DIM);
  for (let i = 0; i < inputs.length; i++) encodeCharacterFeatures(inputs[i]!, out, i * FEATURE_DIM);
  return out;
}
