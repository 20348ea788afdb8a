import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { editDistance } from '../../../src/actors/classifiers/lexicon.ts';

/** The textbook optimal-string-alignment distance, full table, no early exit: the oracle. */
function osa(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

describe('editDistance (typo matching of names)', () => {
  it('agrees with the full-table OSA distance up to the limit, and says "over" past it', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', 'e'), maxLength: 12 });
    fc.assert(
      fc.property(word, word, fc.integer({ min: 0, max: 3 }), (a, b, limit) => {
        const truth = osa(a, b);
        const got = editDistance(a, b, limit);
        if (truth <= limit) expect(got).toBe(truth);
        else expect(got).toBeGreaterThan(limit);
      }),
      { numRuns: 2_000 },
    );
  });

  it('a swap of two letters counts once; long names after short ones reuse grown buffers', () => {
    expect(editDistance('lantren', 'lantern', 2)).toBe(1);
    expect(editDistance('a'.repeat(100), `${'a'.repeat(99)}b`, 2)).toBe(1);
    expect(editDistance('ewan', 'ewan', 1)).toBe(0);
  });
});
