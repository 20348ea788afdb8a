import {
  ACTION_CONTEXTS,
  ACTION_TYPES,
  AWARENESS_LEVELS,
  HISTORY_DEPTH,
  MAX_PRIMARIES,
  OUT,
  SPEECH_REGISTERS,
  type CharacterPrediction,
  type EmotionDelta,
  type HistoryEntry,
} from './character-schema.ts';

/**
 * `decode_outputs` of storyteller-character/1 (frame-schema.md §2, §5) over the flat
 * 42 floats (action, speech, thought, emotion concatenated): argmax with ties to the
 * higher index, no softmax or sigmoid, flags at raw > 0.5, raw confidences and valence,
 * the target slot ignored, the dominant-emotion rounding and clamp, the delta filter.
 */

/** Float32 0.01, the delta filter's threshold (strictly greater passes). */
const DELTA_THRESHOLD = Math.fround(0.01);

/**
 * Rust's `max_by` over a slice: the last of equal maxima wins, and NaN compares as equal
 * (so it lets a later element win as well).
 */
export function argmaxLast(v: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) {
    // Keep the current best only if it is strictly greater than the candidate.
    if (!(v[offset + best]! > v[offset + i]!)) best = i;
  }
  return best;
}

/** round half away from zero, saturating cast to u8, then min(7). */
export function dominantEmotionIndex(raw: number): number {
  if (Number.isNaN(raw)) return 0;
  const rounded = Math.sign(raw) * Math.round(Math.abs(raw));
  const u8 = rounded <= 0 ? 0 : rounded >= 255 ? 255 : rounded;
  return Math.min(MAX_PRIMARIES - 1, u8);
}

/**
 * Decodes one character's 42 outputs (`out` at `offset`).
 *
 * @example
 * const prediction = decodePrediction(outputs); // { action: { type: 'speak', … }, … }
 */
export function decodePrediction(out: ArrayLike<number>, offset = 0): CharacterPrediction {
  const v = (i: number): number => out[offset + i]!;
  const deltas: EmotionDelta[] = [];
  for (let i = 0; i < MAX_PRIMARIES; i++) {
    const d = v(OUT.deltas + i);
    if (Math.abs(d) > DELTA_THRESHOLD) deltas.push({ primaryIndex: i, intensityChange: d, awarenessShifts: v(OUT.shifts + i) > 0.5 });
  }
  return {
    action: {
      type: ACTION_TYPES[argmaxLast(out, offset + OUT.actionType, 6)]!,
      confidence: v(OUT.actionConfidence),
      valence: v(OUT.actionValence),
      context: ACTION_CONTEXTS[argmaxLast(out, offset + OUT.actionContext, 5)]!,
    },
    speech: {
      occurs: v(OUT.speechOccurs) > 0.5,
      register: SPEECH_REGISTERS[argmaxLast(out, offset + OUT.speechRegister, 4)]!,
      confidence: v(OUT.speechConfidence),
    },
    thought: {
      awareness: AWARENESS_LEVELS[argmaxLast(out, offset + OUT.awareness, 5)]!,
      dominantEmotionIndex: dominantEmotionIndex(v(OUT.dominantEmotion)),
    },
    emotionDeltas: deltas,
  };
}

/**
 * The history entry a prediction leaves (`HistoryEntry::from_prediction`): its action
 * type, the speech register if speech occurs (else conversational), the awareness, and
 * the sum of the emitted deltas clamped to [-1, 1].
 */
export function historyEntryOf(p: CharacterPrediction): HistoryEntry {
  let sum = 0;
  for (const d of p.emotionDeltas) sum += d.intensityChange;
  return {
    action: p.action.type,
    register: p.speech.occurs ? p.speech.register : 'conversational',
    awareness: p.thought.awareness,
    valence: Math.max(-1, Math.min(1, sum)),
  };
}

/** Pushes a new entry at the front of a history, keeping the newest three. */
export function pushHistory(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  return [entry, ...history].slice(0, HISTORY_DEPTH);
}
