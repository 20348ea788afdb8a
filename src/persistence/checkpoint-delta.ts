import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * Structural JSON deltas for incremental checkpoints (docs/checkpoints.md).
 *
 * A patch turns a base JSON value into a target one:
 *   { r: value }                  replace with `value`
 *   { o: { key: patch }, d: [k] } object: these keys patched (or added), these deleted, the rest kept
 *   { a: [[start, count] | { v: [values] }] }
 *                                  array: rebuilt from runs copied out of the base and literal values
 * An unchanged value has no patch (`null` from `diffJson`). Applying is exact by
 * construction: the array runs are explicit, so a poor match only costs size, never
 * correctness. Keys are compared in canonical (sorted) form because JSONB reorders them.
 *
 * @example
 *   const patch = diffJson(base, target);             // null when equal
 *   deepEqual(applyPatch(base, patch ?? NO_CHANGE), target) // always
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export type Patch = { r: Json } | { o: Record<string, Patch>; d?: string[] } | { a: ArrayOp[] };
export type ArrayOp = [number, number] | { v: Json[] };

/** The patch of an unchanged value. */
export const NO_CHANGE: Patch = { o: {} };

/**
 * The shape of a patch, checked by hand: zod's recursive unions cost about as much as
 * parsing the patch text again, per link of a chain. Literal values (`r`, `v`) were read
 * back by JSON.parse, so they are JSON by construction; their meaning is validated once
 * the state is rebuilt (the truth set by `truthSetSchema`, the other parts as JSON).
 */
function isPatch(v: unknown): v is Patch {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const o = v as Record<string, unknown>;
  if (keys.length === 1 && keys[0] === 'r') return o.r !== undefined;
  if (keys.length === 1 && keys[0] === 'a') {
    if (!Array.isArray(o.a)) return false;
    for (const op of o.a as unknown[]) {
      if (Array.isArray(op)) {
        if (op.length !== 2 || !Number.isSafeInteger(op[0]) || !Number.isSafeInteger(op[1]) || (op[0] as number) < 0 || (op[1] as number) < 0) return false;
      } else if (op === null || typeof op !== 'object' || Object.keys(op).length !== 1 || !Array.isArray((op as { v?: unknown }).v)) {
        return false;
      }
    }
    return true;
  }
  if (keys.every((k) => k === 'o' || k === 'd') && keys.includes('o')) {
    const patched = o.o;
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) return false;
    if (o.d !== undefined && !(Array.isArray(o.d) && o.d.every((k) => typeof k === 'string'))) return false;
    return Object.values(patched).every(isPatch);
  }
  return false;
}

/** zod schema of a patch read back from the database. */
export const patchSchema: z.ZodType<Patch> = z.custom<Patch>(isPatch, 'not a checkpoint patch');

export class PatchMismatch extends Error {}

const isObject = (v: Json): v is { [k: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
/** Own-property assignment that is safe for keys such as "__proto__". */
const put = (o: Record<string, unknown>, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

/** JSON text with every object's keys sorted: equal values give equal text whatever their key order. */
export function canonicalText(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalText).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(v[k] as Json)}`).join(',')}}`;
}

/** sha256 of the canonical text: what a delta checkpoint must rebuild (checked on restore). */
export function stateHash(v: Json): string {
  return createHash('sha256').update(canonicalText(v)).digest('base64url');
}

/** The patch from `base` to `target`, or null when they are equal. */
export function diffJson(base: Json, target: Json): Patch | null {
  if (isObject(base) && isObject(target)) return diffObject(base, target);
  if (Array.isArray(base) && Array.isArray(target)) return diffArray(base, target);
  return base === target ? null : { r: target };
}

function diffObject(base: { [k: string]: Json }, target: { [k: string]: Json }): Patch | null {
  const o: Record<string, Patch> = {};
  const d: string[] = [];
  let changed = false;
  for (const k of Object.keys(target)) {
    const t = target[k] as Json;
    const p = has(base, k) ? diffJson(base[k] as Json, t) : { r: t };
    if (p) {
      put(o, k, p);
      changed = true;
    }
  }
  for (const k of Object.keys(base)) {
    if (!has(target, k)) {
      d.push(k);
      changed = true;
    }
  }
  if (!changed) return null;
  return d.length > 0 ? { o, d } : { o };
}

function diffArray(base: Json[], target: Json[]): Patch | null {
  const baseKeys = base.map(canonicalText);
  const targetKeys = target.map(canonicalText);
  if (baseKeys.length === targetKeys.length && baseKeys.every((k, i) => k === targetKeys[i])) return null;
  // Where each element occurs in the base (ascending), to copy runs from.
  const where = new Map<string, number[]>();
  baseKeys.forEach((k, i) => {
    const list = where.get(k);
    if (list) list.push(i);
    else where.set(k, [i]);
  });
  const ops: ArrayOp[] = [];
  let cursor = 0; // the base index that continues the current copy run
  for (let j = 0; j < target.length; j++) {
    const key = targetKeys[j] as string;
    const last = ops[ops.length - 1];
    if (Array.isArray(last) && cursor < baseKeys.length && baseKeys[cursor] === key) {
      last[1] += 1;
      cursor += 1;
      continue;
    }
    const list = where.get(key);
    if (list) {
      // Prefer an occurrence ahead of the cursor (inserts and removals in a sorted array).
      const at = list.find((i) => i >= cursor) ?? (list[0] as number);
      ops.push([at, 1]);
      cursor = at + 1;
      continue;
    }
    if (last && !Array.isArray(last)) last.v.push(target[j] as Json);
    else ops.push({ v: [target[j] as Json] });
  }
  const patch: Patch = { a: ops };
  // A rewrite that is mostly new values is smaller as a plain replacement.
  return JSON.stringify(patch).length < JSON.stringify(target).length ? patch : { r: target };
}

/**
 * Applies a patch to a base value (neither is modified).
 * @throws PatchMismatch when the patch does not fit the base (a corrupt or foreign delta).
 */
export function applyPatch(base: Json, patch: Patch): Json {
  return apply(base, patch, false);
}

/**
 * Applies a patch by changing the base's objects where they stand (O(changes), not O(size)):
 * for a chain of patches on a state this process owns outright (fresh from JSON.parse).
 * Patches never descend into array elements, so a reference an array run shares is never changed.
 * @throws PatchMismatch as applyPatch — the base is then partly patched and must be dropped.
 */
export function applyPatchInPlace(base: Json, patch: Patch): Json {
  return apply(base, patch, true);
}

function apply(base: Json, patch: Patch, inPlace: boolean): Json {
  if ('r' in patch) return patch.r;
  if ('o' in patch) {
    if (!isObject(base)) throw new PatchMismatch('object patch on a non-object');
    // Spread defines own properties (a "__proto__" key stays data); assignment is safe for every other key.
    const out: Record<string, Json> = inPlace ? base : { ...base };
    for (const k of patch.d ?? []) {
      if (!has(base, k)) throw new PatchMismatch(`deleted key ${JSON.stringify(k)} is not in the base`);
      delete out[k];
    }
    for (const k of Object.keys(patch.o)) {
      const p = patch.o[k] as Patch;
      const present = has(base, k);
      if (!('r' in p) && !present) throw new PatchMismatch(`patched key ${JSON.stringify(k)} is not in the base`);
      const value = apply(present ? (base[k] as Json) : null, p, inPlace);
      if (k === '__proto__') put(out, k, value);
      else out[k] = value;
    }
    return out;
  }
  if (!Array.isArray(base)) throw new PatchMismatch('array patch on a non-array');
  const out: Json[] = [];
  for (const op of patch.a) {
    if (Array.isArray(op)) {
      const [start, count] = op;
      if (start + count > base.length) throw new PatchMismatch(`run ${start}+${count} is outside the base (${base.length})`);
      for (let i = start; i < start + count; i++) out.push(base[i] as Json);
    } else {
      for (const v of op.v) out.push(v);
    }
  }
  return out;
}
