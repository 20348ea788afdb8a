/**
 * The one ordering of ids every graph store uses: by Unicode code point, which is
 * PostgreSQL's `COLLATE "C"` on UTF-8 (byte order). JavaScript's default string order
 * compares UTF-16 code units and differs for characters above U+FFFF, so it is not used.
 *
 * @example
 * ['b', 'a', 'ä'].sort(compareIds) // ['a', 'b', 'ä']
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    // Step over the low surrogate of a pair (both strings share it here).
    if (ca > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Lexicographic order of id sequences (shorter prefix first). */
export function compareIdSequences(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareIds(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
