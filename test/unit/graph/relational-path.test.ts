import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EdgeInput, VertexInput } from '../../../src/persistence/graph/graph-store.ts';
import { findShortestRelationalPath, type NeighbourLookup } from '../../../src/persistence/graph/relational-path.ts';
import { GraphOracle } from '../../support/graph-oracle.ts';

function lookupFor(edges: Array<[string, string]>, calls: string[][]): NeighbourLookup {
  return async (ids) => {
    calls.push([...ids]);
    const set = new Set(ids);
    const out: Array<[string, string]> = [];
    for (const [a, b] of edges) {
      if (set.has(a)) out.push([a, b]);
      if (set.has(b)) out.push([b, a]);
    }
    return out;
  };
}

const rel = (from: string, to: string): EdgeInput => ({ label: 'RELATES_TO', from, to, trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0, debt: 0 });

describe('findShortestRelationalPath', () => {
  it('matches a brute-force search on random graphs, with at most 4 neighbour queries', async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'];
    const edge = fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names));
    await fc.assert(
      fc.asyncProperty(fc.array(edge, { maxLength: 18 }), fc.constantFrom(...names), fc.constantFrom(...names), async (edges, from, to) => {
        const vertices: VertexInput[] = names.map((id) => ({ label: 'Character', id, name: id }));
        const oracle = new GraphOracle({ vertices, edges: edges.map(([a, b]) => rel(a, b)) });
        const calls: string[][] = [];
        const path = await findShortestRelationalPath(from, to, lookupFor(edges, calls));
        expect(path).toEqual(oracle.shortestRelationalPath(from, to)?.characterIds ?? null);
        expect(calls.length).toBeLessThanOrEqual(4);
      }),
      { numRuns: 400 },
    );
  });

  it('expands the smaller frontier: a hub on one side is never expanded when the other side meets it', async () => {
    // x — hub — y, and the hub has 50 other neighbours.
    const edges: Array<[string, string]> = [['x', 'hub'], ['hub', 'y'], ...Array.from({ length: 50 }, (_, i): [string, string] => ['hub', `n${i}`])];
    const calls: string[][] = [];
    expect(await findShortestRelationalPath('x', 'y', lookupFor(edges, calls))).toEqual(['x', 'hub', 'y']);
    expect(calls).toEqual([['x'], ['y']]);
  });

  it('prefers the smallest id sequence among equally short paths', async () => {
    const edges: Array<[string, string]> = [['s', 'm2'], ['s', 'm1'], ['m2', 't'], ['m1', 't'], ['s', 'a'], ['a', 'b'], ['b', 't']];
    expect(await findShortestRelationalPath('s', 't', lookupFor(edges, []))).toEqual(['s', 'm1', 't']);
    expect(await findShortestRelationalPath('t', 's', lookupFor(edges, []))).toEqual(['t', 'm1', 's']);
  });

  it('stops at the hop limit and on exhausted components', async () => {
    const chain: Array<[string, string]> = [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f']];
    expect(await findShortestRelationalPath('a', 'e', lookupFor(chain, []))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await findShortestRelationalPath('a', 'f', lookupFor(chain, []))).toBeNull();
    expect(await findShortestRelationalPath('a', 'c', lookupFor(chain, []), 1)).toBeNull();
    const calls: string[][] = [];
    expect(await findShortestRelationalPath('a', 'z', lookupFor([['a', 'b']], calls))).toBeNull();
    expect(calls).toEqual([['a'], ['z']]); // z has no neighbours: its side is exhausted, no path
    expect(await findShortestRelationalPath('a', 'a', lookupFor(chain, []))).toBeNull();
  });
});
