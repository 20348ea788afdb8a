import type { ExplorerState, StoryExplorer } from './story-explorer.ts';

/**
 * Can the story still be finished from `state`? A best-first search through the same
 * turn rules `story check` explores — states with more gates fired, goals completed and
 * scenes visited first, so a linear story's ending is found in few steps — stopped at the
 * first ending (its path is a way to finish, not always the shortest) or after
 * `maxStates` distinct states. Exhausting the reachable states without an ending proves
 * a dead end, whatever the order. `playtest` asks it about the
 * state a real session was left in: `no` is a dead end (proven: every reachable state was
 * explored), `unknown` means the bound was hit first.
 *
 * @example
 * const r = endingReachable(explorer, explorer.resume(sceneKey, cast, truthSet, turn));
 * if (r.verdict === 'no') report.deadEnds.push(...);
 */
export interface EndingReachability {
  verdict: 'yes' | 'no' | 'unknown';
  /** The shortest inputs to an ending, when one was found. */
  path: string[] | null;
  statesExplored: number;
}

export function endingReachable(explorer: StoryExplorer, start: ExplorerState, options: { maxStates?: number } = {}): EndingReachability {
  const maxStates = options.maxStates ?? 5_000;
  if (start.ended) return { verdict: 'yes', path: [], statesExplored: 1 };
  const seen = new Map<string, { parent: string | null; input: string }>([[explorer.key(start), { parent: null, input: '' }]]);
  // Buckets by progress score (small integers): the highest non-empty bucket is expanded next.
  const buckets = new Map<number, ExplorerState[]>();
  const push = (state: ExplorerState) => {
    const score = progress(state);
    const bucket = buckets.get(score);
    if (bucket) bucket.push(state);
    else buckets.set(score, [state]);
  };
  const pop = (): ExplorerState | undefined => {
    const best = Math.max(...[...buckets].filter(([, b]) => b.length > 0).map(([score]) => score));
    return buckets.get(best)?.shift();
  };
  push(start);
  const pathTo = (key: string): string[] => {
    const path: string[] = [];
    for (let k: string | null = key; k !== null; ) {
      const node = seen.get(k);
      if (!node || node.parent === null) break;
      path.unshift(node.input);
      k = node.parent;
    }
    return path;
  };
  for (let state = pop(); state !== undefined; state = pop()) {
    const from = explorer.key(state);
    for (const input of explorer.inputs(state)) {
      const next = explorer.step(state, input);
      const k = explorer.key(next);
      if (seen.has(k)) continue;
      seen.set(k, { parent: from, input });
      if (next.ended) return { verdict: 'yes', path: pathTo(k), statesExplored: seen.size };
      if (seen.size >= maxStates) return { verdict: 'unknown', path: null, statesExplored: seen.size };
      push(next);
    }
  }
  return { verdict: 'no', path: null, statesExplored: seen.size };
}

function progress(state: ExplorerState): number {
  let n = 0;
  for (const p of state.ts.persistent) if (p.predicate === 'gate_fired' || p.predicate === 'goal_completed' || p.predicate === 'visited') n += 1;
  return n;
}
