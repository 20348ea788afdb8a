import type { EdgeInput, RelationalEdge, VertexLabel } from './graph-store.ts';

/** The vertex labels an edge connects (the seed's schema; CONTAINS starts at a zone or a setting). */
export function edgeEndpoints(e: EdgeInput): { fromLabel: VertexLabel; toLabel: VertexLabel } {
  switch (e.label) {
    case 'RELATES_TO':
      return { fromLabel: 'Character', toLabel: 'Character' };
    case 'LEADS_TO':
      return { fromLabel: 'Scene', toLabel: 'Scene' };
    case 'SCENE_AT':
      return { fromLabel: 'Scene', toLabel: 'Setting' };
    case 'ADJACENT_TO':
      return { fromLabel: 'Setting', toLabel: 'Setting' };
    case 'CONTAINS':
      return { fromLabel: e.fromLabel, toLabel: 'Setting' };
  }
}

/** Keeps the last item per key, in the order of each key's last occurrence (an upsert batch's meaning). */
export function lastWins<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    byKey.delete(k);
    byKey.set(k, item);
  }
  return [...byKey.values()];
}

/** One edge per hop of a path: the forward edge when both directions exist. */
export function pathEdges(ids: readonly string[], edges: readonly RelationalEdge[]): RelationalEdge[] {
  const byPair = new Map(edges.map((e) => [`${e.from}\u0000${e.to}`, e]));
  const out: RelationalEdge[] = [];
  for (let i = 0; i + 1 < ids.length; i++) {
    const a = ids[i]!;
    const b = ids[i + 1]!;
    const edge = byPair.get(`${a}\u0000${b}`) ?? byPair.get(`${b}\u0000${a}`);
    if (!edge) throw new Error(`path step ${a} → ${b} has no RELATES_TO edge (graph changed during the query)`);
    out.push(edge);
  }
  return out;
}
