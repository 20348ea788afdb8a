import { describe, expect, it } from 'vitest';
import { FEATURE_DIM, FEATURE_LAYOUT, OUTPUT_DIM, OUTPUT_HEADS, OUTPUT_PARTS, type CharacterFeatures } from '../../src/inference/frame/character-schema.ts';
import { argmaxLast, decodePrediction, dominantEmotionIndex, historyEntryOf, pushHistory } from '../../src/inference/frame/decoder.ts';
import { compareUtf8, encodeCharacterFeatures, sortedAxes } from '../../src/inference/frame/encoder.ts';
import { CASE_A, CASE_A_NONZERO, CASE_A_OUTPUTS } from '../fixtures/peer-reference-case-a.ts';

// Spec: ../shared/design/frame-schema.md (storyteller-character/1). Expected values come from the spec's tables, not from the encoder.

const withEdge: CharacterFeatures = {
  ...CASE_A,
  edges: [
    {
      to: 'b',
      role: 'periphery',
      trust_reliability: { central: 0.6, variance: 0.1, low: 0.3, high: 0.8 },
      trust_competence: { central: 0.5, variance: 0.15, low: 0.2, high: 0.7 },
      trust_benevolence: { central: 0.7, variance: 0.1, low: 0.4, high: 0.9 },
      affection: { central: 0.6, variance: 0.2, low: 0.2, high: 0.9 },
      debt: { central: 0.3, variance: 0.1, low: 0, high: 0.5 },
    },
  ],
};

describe('storyteller-character/1 layout', () => {
  it('has 453 contiguous input floats and 42 outputs in four heads', () => {
    let next = 0;
    for (const region of Object.values(FEATURE_LAYOUT)) {
      expect(region.offset).toBe(next);
      next += region.length;
    }
    expect(next).toBe(FEATURE_DIM);
    expect(FEATURE_DIM).toBe(453);
    expect(OUTPUT_HEADS.reduce((n, h) => n + h.size, 0)).toBe(OUTPUT_DIM);
    // Loss parts tile the 42 outputs exactly.
    const covered = new Array<number>(OUTPUT_DIM).fill(0);
    for (const p of OUTPUT_PARTS) for (let i = p.offset; i < p.offset + p.length; i++) covered[i]! += 1;
    expect(covered.every((c) => c === 1)).toBe(true);
  });
});

describe('encoder (spec §1)', () => {
  it('reproduces reference case A bit-exactly', () => {
    const row = encodeCharacterFeatures(CASE_A);
    const expected = new Float32Array(FEATURE_DIM);
    for (const [i, v] of CASE_A_NONZERO) expected[i] = v;
    const mismatches = [...row.keys()].filter((i) => !Object.is(row[i], expected[i])).map((i) => `${i}: ${row[i]} ≠ ${expected[i]}`);
    expect(mismatches).toEqual([]);
    expect(Buffer.from(row.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it('passes the peer unit tests: edge, history, zero padding', () => {
    const plain = encodeCharacterFeatures(CASE_A);
    expect([...plain.subarray(263, 383)].every((v) => v === 0)).toBe(true);
    expect([...plain.subarray(405, 453)].every((v) => v === 0)).toBe(true);
    const e = encodeCharacterFeatures(withEdge);
    expect(e[263]).toBe(Math.fround(0.6));
    expect(e[263 + 16]).toBe(Math.fround(0.3)); // debt central
    expect(e[263 + 23]).toBe(1); // role periphery
    expect([...e.subarray(287, 383)].every((v) => v === 0)).toBe(true);
    const h = encodeCharacterFeatures({
      ...CASE_A,
      history: [
        { action: 'speak', register: 'conversational', awareness: 'articulate', valence: 0.5 },
        { action: 'examine', register: 'internal', awareness: 'preconscious', valence: -0.2 },
      ],
    });
    expect(h[405]).toBe(0);
    expect(h[406]).toBe(1);
    expect(h[405 + 7]).toBe(1);
    expect(h[405 + 10]).toBe(1);
    expect(h[420]).toBe(Math.fround(0.5));
    expect(h[421 + 3]).toBe(1);
    expect(h[421 + 9]).toBe(1);
    expect(h[421 + 12]).toBe(1);
    expect(h[436]).toBe(Math.fround(-0.2));
    expect([...h.subarray(437, 453)].every((v) => v === 0)).toBe(true);
  });

  it('keeps the first N of each list and writes values raw (no clamping)', () => {
    const many: CharacterFeatures = {
      ...CASE_A,
      axes: Array.from({ length: 20 }, (_, i) => ({ name: `axis_${String(i).padStart(2, '0')}`, central: 2.5, variance: 0, low: 0, high: 0, layer: 'topsoil' as const, provenance: 'generated' as const })),
      primaries: [...CASE_A.primaries, { id: 'extra', intensity: 0.9, awareness: 'articulate' }],
      edges: Array.from({ length: 7 }, () => withEdge.edges[0]!),
      history: Array.from({ length: 5 }, () => ({ action: 'wait' as const, register: 'whisper' as const, awareness: 'structural' as const, valence: 0 })),
      scene: { type: 'threshold', castSize: 7, tension: 3 },
    };
    const row = encodeCharacterFeatures(many);
    expect(row[15 * 13]).toBe(2.5);
    expect(row[15 * 13 + 4]).toBe(1);
    expect(row[15 * 13 + 10]).toBe(1);
    expect(row[386]).toBe(1);
    expect(row[387]).toBe(7);
    expect(row[388]).toBe(3);
    expect(row[263 + 4 * 24]).toBe(Math.fround(0.6));
    expect(row[405 + 2 * 16 + 4]).toBe(1);
    // A missing role is periphery.
    const { role: _role, ...noRole } = withEdge.edges[0]!;
    expect(encodeCharacterFeatures({ ...CASE_A, edges: [noRole] })[263 + 23]).toBe(1);
  });

  it('orders axes by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF5E (3 UTF-8 bytes EF BD 9E) vs U+1F600 (surrogates D83D…; 4 bytes F0 9F 98 80): UTF-16 puts the emoji first, UTF-8 the other.
    expect('\u{1F600}' < '\uFF5E').toBe(true);
    expect(compareUtf8('\uFF5E', '\u{1F600}')).toBeLessThan(0);
    const axis = (name: string) => ({ name, central: 0, variance: 0, low: 0, high: 0, layer: 'sediment' as const, provenance: 'authored' as const });
    expect(sortedAxes([axis('\u{1F600}'), axis('\uFF5E'), axis('Z'), axis('a')]).map((a) => a.name)).toEqual(['Z', 'a', '\uFF5E', '\u{1F600}']);
  });
});

describe('decoder (spec §2)', () => {
  it('decodes reference case A as the spec says', () => {
    const p = decodePrediction(Float32Array.from(CASE_A_OUTPUTS));
    expect(p.action.type).toBe('speak');
    expect(p.action.context).toBe('emotional_reaction');
    expect(p.action.confidence).toBeCloseTo(0.7317, 4);
    expect(p.action.valence).toBeCloseTo(0.193, 4);
    expect(p.speech).toMatchObject({ occurs: true, register: 'conversational' });
    expect(p.speech.confidence).toBeCloseTo(0.7423, 4);
    expect(p.thought).toEqual({ awareness: 'preconscious', dominantEmotionIndex: 7 });
    expect(p.emotionDeltas.map((d) => d.primaryIndex)).toEqual([0, 1, 2, 3, 5, 7]);
    expect(p.emotionDeltas.map((d) => Math.round(d.intensityChange * 1e4) / 1e4)).toEqual([0.0415, 0.1233, -0.044, 0.0716, 0.0118, 0.0399]);
    expect(p.emotionDeltas.every((d) => !d.awarenessShifts)).toBe(true);
  });

  it('passes the peer decode unit tests', () => {
    const o = new Float32Array(42);
    Object.assign(o, { 0: 0.9, 6: 0.85, 7: -1, 8: 0.6, 9: 0.8, 14: 0.8, 16: 0.9, 18: 0.7, 20: 0.5, 24: 0 });
    const p = decodePrediction(o);
    expect(p.action).toEqual({ type: 'perform', confidence: Math.fround(0.85), valence: Math.fround(0.6), context: 'shared_history' });
    expect(p.speech).toEqual({ occurs: true, register: 'conversational', confidence: 0 });
    expect(p.thought).toEqual({ awareness: 'articulate', dominantEmotionIndex: 0 });
    const f = new Float32Array(42);
    Object.assign(f, { 0: 1, 26: 0.2, 27: 0.005, 30: -0.15 });
    expect(decodePrediction(f).emotionDeltas.map((d) => d.primaryIndex)).toEqual([0, 4]);
    expect(dominantEmotionIndex(Math.fround(8.4))).toBe(7);
    expect(dominantEmotionIndex(3)).toBe(3);
  });

  it('breaks ties to the higher index, thresholds raw values, filters at float32 0.01', () => {
    const zeros = new Float32Array(42);
    const p = decodePrediction(zeros);
    expect(p.action.type).toBe('resist'); // all-zero slice → last label
    expect(p.action.context).toBe('world_response');
    expect(p.speech.register).toBe('internal');
    expect(p.thought.awareness).toBe('structural');
    expect(p.speech.occurs).toBe(false);
    expect(argmaxLast([1, NaN, 0], 0, 3)).toBe(2);
    expect(argmaxLast([3, 1, 3, 2], 0, 4)).toBe(2);
    const o = new Float32Array(42);
    o[14] = 0.5; // not > 0.5
    o[26] = Math.fround(0.01); // not > 0.01
    o[27] = 0.0101;
    o[35] = 0.51;
    o[34] = 0.9; // its delta is filtered out, so the flag is discarded
    const q = decodePrediction(o);
    expect(q.speech.occurs).toBe(false);
    expect(q.emotionDeltas).toEqual([{ primaryIndex: 1, intensityChange: Math.fround(0.0101), awarenessShifts: true }]);
    expect(dominantEmotionIndex(-2.5)).toBe(0);
    expect(dominantEmotionIndex(2.5)).toBe(3);
    expect(dominantEmotionIndex(NaN)).toBe(0);
    expect(dominantEmotionIndex(1e9)).toBe(7);
  });

  it('turns a prediction into a history entry the peer way', () => {
    const p = decodePrediction(Float32Array.from(CASE_A_OUTPUTS));
    const e = historyEntryOf(p);
    expect(e).toMatchObject({ action: 'speak', register: 'conversational', awareness: 'preconscious' });
    expect(e.valence).toBeCloseTo(0.0415 + 0.1233 - 0.044 + 0.0716 + 0.0118 + 0.0399, 3);
    expect(historyEntryOf({ ...p, speech: { ...p.speech, occurs: false, register: 'whisper' } }).register).toBe('conversational');
    const big = { ...p, emotionDeltas: [{ primaryIndex: 0, intensityChange: 0.9, awarenessShifts: false }, { primaryIndex: 1, intensityChange: 0.9, awarenessShifts: false }] };
    expect(historyEntryOf(big).valence).toBe(1);
    const hist = [1, 2, 3, 4].reduce((h, n) => pushHistory(h, { ...e, valence: n / 10 }), [] as ReturnType<typeof historyEntryOf>[]);
    expect(hist.map((x) => x.valence)).toEqual([0.4, 0.3, 0.2]);
  });
});
