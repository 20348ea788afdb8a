import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyPatch, applyPatchInPlace, canonicalText, diffJson, NO_CHANGE, patchSchema, PatchMismatch, stateHash, type Json } from '../../../src/persistence/checkpoint-delta.ts';

/** A JSON value as JSONB gives it back (keys reordered): the base a delta is computed against. */
const reorderKeys = (v: Json): Json => {
  if (Array.isArray(v)) return v.map(reorderKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, Json> = {};
    for (const k of Object.keys(v).reverse()) Object.defineProperty(out, k, { value: reorderKeys(v[k] as Json), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
};

/** A target that shares most of the base: edits at random paths (what consecutive checkpoints look like). */
const edited = (base: Json): fc.Arbitrary<Json> =>
  fc.tuple(fc.array(fc.tuple(fc.nat(), fc.nat(), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>), { maxLength: 6 })).map(([edits]) => {
    let v: Json = JSON.parse(JSON.stringify(base)) as Json;
    for (const [pick, op, value] of edits) {
      const edit = (node: Json, depth: number): Json => {
        if (Array.isArray(node)) {
          if (node.length === 0 || op % 4 === 0) return [...node.slice(0, pick % (node.length + 1)), value, ...node.slice(pick % (node.length + 1))];
          const i = pick % node.length;
          if (op % 4 === 1) return [...node.slice(0, i), ...node.slice(i + 1)];
          return node.map((x, j) => (j === i ? (depth < 3 ? edit(x, depth + 1) : value) : x));
        }
        if (node !== null && typeof node === 'object') {
          const keys = Object.keys(node);
          const out = { ...node };
          if (keys.length === 0 || op % 4 === 0) out[`k${pick % 7}`] = value;
          else if (op % 4 === 1) delete out[keys[pick % keys.length] as string];
          else out[keys[pick % keys.length] as string] = depth < 3 ? edit(node[keys[pick % keys.length] as string] as Json, depth + 1) : value;
          return out;
        }
        return value;
      };
      v = edit(v, 0);
    }
    return v;
  });

const pairs: fc.Arbitrary<[Json, Json]> = fc.oneof(
  fc.tuple(fc.jsonValue() as fc.Arbitrary<Json>, fc.jsonValue() as fc.Arbitrary<Json>),
  (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).chain((base) => fc.tuple(fc.constant(base), edited(base))),
);

/** Canonical, -0-free form: what both sides are after JSON. */
const viaJson = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json;

describe('checkpoint deltas (structural JSON patches)', () => {
  it('applying diff(base, target) to base gives target exactly, whatever the key order of the base', () => {
    fc.assert(
      fc.property(pairs, ([rawBase, rawTarget]) => {
        const base = reorderKeys(viaJson(rawBase));
        const target = viaJson(rawTarget);
        const patch = diffJson(base, target);
        // Through a JSON round trip, as stored, and validated as the restore validates it.
        // (null: equal — the checkpoint writer then stores NO_CHANGE, a patch of its state object.)
        const stored = patch === null ? null : patchSchema.parse(JSON.parse(JSON.stringify(patch)));
        const rebuilt = stored === null ? base : applyPatch(base, stored);
        expect(rebuilt).toEqual(target);
        expect(canonicalText(rebuilt)).toBe(canonicalText(target));
        expect(stateHash(rebuilt)).toBe(stateHash(target));
        expect(patch === null).toBe(canonicalText(base) === canonicalText(target));
      }),
      { numRuns: 400, seed: 20261204 },
    );
  });

  it('a chain of patches (each parsed afresh, as restore does) applied in place gives the last state; applyPatch changes nothing it is given', () => {
    const chain = (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).chain((s0) =>
      edited({ state: s0 }).chain((s1) => edited(s1).chain((s2) => edited(s2).map((s3) => [{ state: s0 }, s1, s2, s3].map(viaJson)))),
    );
    fc.assert(
      fc.property(chain, (states) => {
        const texts = states.slice(1).map((s, i) => JSON.stringify(diffJson(states[i] as Json, s) ?? NO_CHANGE));
        const parsed = () => texts.map((t) => patchSchema.parse(JSON.parse(t)));
        let inPlace: Json = reorderKeys(states[0] as Json);
        for (const p of parsed()) inPlace = applyPatchInPlace(inPlace, p);
        let copying: Json = states[0] as Json;
        const before = canonicalText(copying);
        const patches = parsed();
        const patchesBefore = patches.map((p) => canonicalText(p as unknown as Json));
        for (const p of patches) copying = applyPatch(copying, p);
        expect(patches.map((p) => canonicalText(p as unknown as Json))).toEqual(patchesBefore);
        expect(canonicalText(inPlace)).toBe(canonicalText(states[3] as Json));
        expect(canonicalText(copying)).toBe(canonicalText(states[3] as Json));
        expect(canonicalText(states[0] as Json)).toBe(before); // applyPatch changed nothing it was given
      }),
      { numRuns: 300, seed: 20261205 },
    );
  });

  it('NO_CHANGE keeps an object as it is', () => {
    const base = JSON.parse('{"b":[1,{"c":null}],"a":"x"}') as Json;
    expect(applyPatch(base, patchSchema.parse(JSON.parse(JSON.stringify(NO_CHANGE))))).toEqual(base);
  });

  it('keys such as __proto__ are plain data on both sides', () => {
    const base = JSON.parse('{"__proto__":{"a":1},"b":[1,2,3]}') as Json;
    const target = JSON.parse('{"__proto__":{"a":2},"b":[1,3],"constructor":0}') as Json;
    const rebuilt = applyPatch(base, diffJson(base, target)!);
    expect(canonicalText(rebuilt)).toBe(canonicalText(target));
    expect(Object.getPrototypeOf(rebuilt)).toBe(Object.prototype);
  });

  it('a small change to a large sorted array costs a small patch', () => {
    const base = Array.from({ length: 2000 }, (_, i) => ({ predicate: 'holds', args: ['p', `item${String(i).padStart(4, '0')}`], since: i }));
    const target = [...base.slice(0, 700), { predicate: 'holds', args: ['p', 'new'], since: 9999 }, ...base.slice(701)];
    const patch = diffJson(base, target)!;
    expect(JSON.stringify(patch).length).toBeLessThan(200);
    expect(applyPatch(base, patch)).toEqual(target);
  });

  it('a patch that does not fit its base is refused, not half-applied', () => {
    expect(() => applyPatch([1, 2], { a: [[1, 5]] })).toThrow(PatchMismatch);
    expect(() => applyPatch({ a: 1 }, { o: {}, d: ['b'] })).toThrow(PatchMismatch);
    expect(() => applyPatch({ a: 1 }, { o: { b: { o: {} } } })).toThrow(PatchMismatch);
    expect(() => applyPatch([1], { o: {} })).toThrow(PatchMismatch);
    expect(() => applyPatch({}, { a: [] })).toThrow(PatchMismatch);
    expect(patchSchema.safeParse({ a: [[-1, 2]] }).success).toBe(false);
    expect(patchSchema.safeParse({ x: 1 }).success).toBe(false);
    for (const bad of [null, [], {}, { r: 1, o: {} }, { o: { k: 5 } }, { o: {}, d: [1] }, { a: [{ v: 1 }] }, { a: [[1]] }, { a: [[0.5, 1]] }, { a: [{ v: [], w: 1 }] }]) {
      expect(patchSchema.safeParse(bad).success).toBe(false);
    }
    expect(patchSchema.safeParse({ o: { k: { a: [[0, 2], { v: [null, { x: 1 }] }] }, j: { r: null } }, d: ['z'] }).success).toBe(true);
  });
});
