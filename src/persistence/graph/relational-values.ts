import {
  RELATIONAL_ATTRIBUTES,
  RELATIONAL_MAX,
  RELATIONAL_MIN,
  TENSION_DEBT_ABOVE,
  TENSION_TRUST_COMPETENCE_BELOW,
  type EdgeUpdate,
  type RelationalValues,
} from './graph-store.ts';

export const ZERO_RELATION: Readonly<RelationalValues> = Object.freeze({
  trust_reliability: 0,
  trust_competence: 0,
  trust_benevolence: 0,
  affection: 0,
  debt: 0,
});

export function clampRelational(value: number): number {
  // + 0 turns -0 into 0: JSON (both stores' write path) cannot carry -0.
  return Math.min(RELATIONAL_MAX, Math.max(RELATIONAL_MIN, value)) + 0;
}

export function clampValues(values: RelationalValues): RelationalValues {
  const out = { ...values };
  for (const a of RELATIONAL_ATTRIBUTES) out[a] = clampRelational(values[a]);
  return out;
}

/**
 * One scene-exit update applied to an edge's current values (both stores compute it
 * here, so their answers are identical to the last bit): set, then delta, then clamp.
 *
 * @example
 * applyEdgeUpdate(ZERO_RELATION, { from: 'a', to: 'b', set: { debt: 0.9 }, deltas: { debt: 0.3 } }).debt // 1
 */
export function applyEdgeUpdate(current: Readonly<RelationalValues>, update: EdgeUpdate): RelationalValues {
  const next = { ...current };
  for (const a of RELATIONAL_ATTRIBUTES) {
    let v = update.set?.[a] ?? next[a];
    const d = update.deltas?.[a];
    if (d !== undefined) v += d;
    next[a] = clampRelational(v);
  }
  return next;
}

/** The seed's tension predicate (used by tenseScenesAhead and tensionWithSnapshots). */
export function isTense(v: Pick<RelationalValues, 'trust_competence' | 'debt'>): boolean {
  return v.trust_competence < TENSION_TRUST_COMPETENCE_BELOW || v.debt > TENSION_DEBT_ABOVE;
}

export function pickValues(source: Record<string, unknown>): RelationalValues {
  const out = { ...ZERO_RELATION };
  for (const a of RELATIONAL_ATTRIBUTES) out[a] = Number(source[a]);
  return out;
}
