import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareIds, compareIdSequences } from '../../../src/persistence/graph/id-order.ts';

describe('compareIds', () => {
  it('orders by code point, like PostgreSQL COLLATE "C" on UTF-8 (byte order)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        expect(Math.sign(compareIds(a, b))).toBe(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('differs from JavaScript code-unit order above U+FFFF', () => {
    const astral = '𝔐'; // U+1D510, a surrogate pair in UTF-16
    const bmpHigh = '\uFF21'; // U+FF21
    expect([astral, bmpHigh].sort()).toEqual([astral, bmpHigh]); // code units: D835 < FF21
    expect([astral, bmpHigh].sort(compareIds)).toEqual([bmpHigh, astral]); // code points: FF21 < 1D510
    expect(['b', 'Z', 'a', 'ä', 'aa'].sort(compareIds)).toEqual(['Z', 'a', 'aa', 'b', 'ä']);
  });

  it('orders id sequences lexicographically, prefixes first', () => {
    expect(compareIdSequences(['a', 'b'], ['a', 'c'])).toBeLessThan(0);
    expect(compareIdSequences(['a'], ['a', 'b'])).toBeLessThan(0);
    expect(compareIdSequences(['b'], ['a', 'z'])).toBeGreaterThan(0);
    expect(compareIdSequences(['a', 'b'], ['a', 'b'])).toBe(0);
  });
});
