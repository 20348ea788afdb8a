import { compareIds } from './id-order.ts';

/** Hop limit of the seed's social-distance query (`[:RELATES_TO*1..4]`). */
export const MAX_RELATIONAL_HOPS = 4;

/**
 * Undirected RELATES_TO neighbours of a set of characters, as (character, neighbour)
 * pairs — one query per call. Each store supplies it (SQL: a UNION over both edge
 * directions; AGE: `MATCH (a)-[:RELATES_TO]-(b)`).
 */
export type NeighbourLookup = (ids: readonly string[]) => Promise<ReadonlyArray<readonly [string, string]>>;

/**
 * Shortest relational path by bidirectional breadth-first search: at most
 * `maxHops` neighbour queries in all (each side expands whole levels, the smaller
 * frontier first), instead of enumerating every 1..4-hop path as Cypher's
 * variable-length match would. Among equally short paths the smallest id sequence wins,
 * so every store gives the same answer.
 *
 * @returns the character ids from `from` to `to`, or null (same id, or no path within maxHops)
 * @example
 * await findShortestRelationalPath('mara', 'elin', lookup) // ['mara', 'tomas', 'elin']
 */
export async function findShortestRelationalPath(
  from: string,
  to: string,
  neighbours: NeighbourLookup,
  maxHops: number = MAX_RELATIONAL_HOPS,
): Promise<string[] | null> {
  if (from === to) return null;
  // Neighbour sets of expanded nodes. The graph is undirected, so adjacency between two
  // nodes is known as soon as either of them was expanded.
  const adjacency = new Map<string, Set<string>>();
  const sides = {
    forward: { dist: new Map([[from, 0]]), levels: [[from]] as string[][] },
    backward: { dist: new Map([[to, 0]]), levels: [[to]] as string[][] },
  };
  while (sides.forward.levels.length - 1 + sides.backward.levels.length - 1 < maxHops) {
    const fFrontier = sides.forward.levels.at(-1)!;
    const bFrontier = sides.backward.levels.at(-1)!;
    // Smaller frontier first; on a tie, the side with fewer levels (keeps the two balls even).
    const expandForward =
      fFrontier.length < bFrontier.length ||
      (fFrontier.length === bFrontier.length && sides.forward.levels.length <= sides.backward.levels.length);
    const side = expandForward ? sides.forward : sides.backward;
    const other = expandForward ? sides.backward : sides.forward;
    const frontier = expandForward ? fFrontier : bFrontier;
    if (frontier.length === 0) return null;
    const level = side.levels.length; // distance of the nodes discovered now
    for (const id of frontier) adjacency.set(id, new Set());
    const next: string[] = [];
    for (const [a, b] of await neighbours(frontier)) {
      if (a === b) continue;
      adjacency.get(a)?.add(b);
      if (!side.dist.has(b)) {
        side.dist.set(b, level);
        next.push(b);
      }
    }
    side.levels.push(next);
    let best = Infinity;
    for (const id of next) {
      const d = other.dist.get(id);
      if (d !== undefined) best = Math.min(best, level + d);
    }
    if (best !== Infinity) return smallestShortestPath(sides.forward.levels, sides.backward.levels, sides.backward.dist, adjacency, best);
  }
  return null;
}

function smallestShortestPath(
  forwardLevels: string[][],
  backwardLevels: string[][],
  backwardDist: Map<string, number>,
  adjacency: Map<string, Set<string>>,
  length: number,
): string[] {
  const adjacent = (a: string, b: string) => adjacency.get(a)?.has(b) === true || adjacency.get(b)?.has(a) === true;
  const kF = forwardLevels.length - 1;
  // onPath[p]: the nodes at position p of some shortest path.
  const onPath: Set<string>[] = new Array(length + 1);
  onPath[kF] = new Set(forwardLevels[kF]!.filter((id) => backwardDist.get(id) === length - kF));
  for (let p = kF - 1; p >= 0; p--) {
    const after = onPath[p + 1]!;
    onPath[p] = new Set(forwardLevels[p]!.filter((id) => [...after].some((m) => adjacent(id, m))));
  }
  for (let p = kF + 1; p <= length; p++) {
    const before = onPath[p - 1]!;
    onPath[p] = new Set((backwardLevels[length - p] ?? []).filter((id) => [...before].some((m) => adjacent(id, m))));
  }
  const path = [forwardLevels[0]![0]!];
  for (let p = 1; p <= length; p++) {
    const current = path[p - 1]!;
    const candidates = [...onPath[p]!].filter((id) => adjacent(current, id)).sort(compareIds);
    path.push(candidates[0]!);
  }
  return path;
}
