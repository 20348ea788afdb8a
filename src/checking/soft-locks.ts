import type { Story } from '../domain/story/schema.ts';
import { PLAYER_ID } from '../domain/story/schema.ts';
import { holds } from '../domain/truth-set.ts';
import { worldView } from '../actors/agents/world.ts';
import { StoryExplorer, type ExplorerState } from './story-explorer.ts';

/**
 * `story check`'s proof that a story cannot be soft-locked: a breadth-first exploration
 * of its discrete state (src/checking/story-explorer.ts) up to a bound, then a backward
 * pass from the endings. A reachable state from which no ending can be reached is a dead
 * end; the shortest input path into one is reported with the state it leaves. Gates and
 * goals no explored state reaches are unreachable (conditions on interpretive judgments,
 * which an LLM may also confirm, are reported as warnings rather than errors).
 *
 * @example
 * const report = findSoftLocks(story);
 * report.deadEnds[0]?.path // → ['drop the letter', 'ask Ewan about the light', 'go to the inn']
 */
export interface DeadEnd {
  /** The player's inputs from the start, shortest first. */
  path: string[];
  /** Where it leaves the player: scene, holdings, world keys, what has fired. */
  state: StateSummary;
}

export interface StateSummary {
  scene: string;
  holding: Record<string, string>;
  lying: Record<string, string>;
  world: Record<string, unknown>;
  gatesFired: string[];
  goalsCompleted: string[];
}

export interface SoftLockReport {
  statesExplored: number;
  /** The exploration stopped at its bound: what it did not reach is not proven either way. */
  bounded: boolean;
  endingReachable: boolean;
  /** Shortest path to an ending (a walkthrough). */
  solution: string[] | null;
  /** Dead ends, shortest path first; `deadEndCount` counts them all. */
  deadEnds: DeadEnd[];
  deadEndCount: number;
  /**
   * `interpretive`: the condition needs an interpretive judgment; `deferred`: it reads a
   * relationship, which the deferred scene-boundary workflow (social ripple) can raise between
   * scenes — neither is something the turn rules this explorer runs can prove.
   */
  unreachableGates: Array<{ scene: string; gate: string; interpretive: boolean; deferred: boolean }>;
  unreachableGoals: Array<{ scene: string; goal: string; interpretive: boolean; deferred: boolean }>;
}

export interface SoftLockOptions {
  /** Most distinct states to explore (default 20 000). */
  maxStates?: number;
  /** Most dead ends reported with their paths (default 3). */
  report?: number;
}

interface Node {
  state: ExplorerState;
  parent: number;
  input: string;
  next: number[];
  expanded: boolean;
}

export function findSoftLocks(story: Story, options: SoftLockOptions = {}): SoftLockReport {
  const maxStates = options.maxStates ?? 20_000;
  const explorer = new StoryExplorer(story);
  const nodes: Node[] = [];
  const index = new Map<string, number>();
  const add = (state: ExplorerState, parent: number, input: string): number => {
    const k = explorer.key(state);
    const known = index.get(k);
    if (known !== undefined) return known;
    nodes.push({ state, parent, input, next: [], expanded: false });
    index.set(k, nodes.length - 1);
    return nodes.length - 1;
  };
  add(explorer.initial(), -1, '');
  let bounded = false;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as Node;
    if (node.state.ended) {
      node.expanded = true;
      continue;
    }
    if (nodes.length >= maxStates) {
      bounded = true;
      break;
    }
    for (const input of explorer.inputs(node.state)) {
      const j = add(explorer.step(node.state, input), i, input);
      if (j !== i && !node.next.includes(j)) node.next.push(j);
    }
    node.expanded = true;
  }

  // Backward from the endings: which states can still finish?
  const prev = new Map<number, number[]>();
  nodes.forEach((n, i) => n.next.forEach((j) => prev.set(j, [...(prev.get(j) ?? []), i])));
  const canFinish = new Set<number>();
  const queue = nodes.flatMap((n, i) => (n.state.ended ? [i] : []));
  queue.forEach((i) => canFinish.add(i));
  while (queue.length > 0) {
    const j = queue.shift() as number;
    for (const i of prev.get(j) ?? []) {
      if (canFinish.has(i)) continue;
      canFinish.add(i);
      queue.push(i);
    }
  }
  // A state is dead only when everything reachable from it was explored and none can finish.
  const unknown = new Set<number>();
  if (bounded) {
    const stack = nodes.flatMap((n, i) => (n.expanded ? [] : [i]));
    stack.forEach((i) => unknown.add(i));
    while (stack.length > 0) {
      const j = stack.pop() as number;
      for (const i of prev.get(j) ?? []) {
        if (unknown.has(i) || canFinish.has(i)) continue;
        unknown.add(i);
        stack.push(i);
      }
    }
  }
  const dead = nodes.flatMap((n, i) => (n.expanded && !canFinish.has(i) && !unknown.has(i) ? [i] : []));
  // Report the entries into dead regions: dead states whose parent could still finish.
  const entries = dead.filter((i) => canFinish.has((nodes[i] as Node).parent));
  const pathTo = (i: number): string[] => {
    const path: string[] = [];
    for (let k = i; k > 0; k = (nodes[k] as Node).parent) path.unshift((nodes[k] as Node).input);
    return path;
  };
  const ending = nodes.findIndex((n) => n.state.ended);

  const fired = new Set<string>();
  const completed = new Set<string>();
  for (const n of nodes) {
    for (const p of n.state.ts.persistent) {
      if (p.predicate === 'gate_fired') fired.add(p.args[0] as string);
      if (p.predicate === 'goal_completed') completed.add(p.args[0] as string);
    }
  }
  const interpretive = (x: unknown) => JSON.stringify(x).includes('"judgment"');
  const deferred = (x: unknown) => !interpretive(x) && JSON.stringify(x).includes('"relationship"');
  return {
    statesExplored: nodes.length,
    bounded,
    endingReachable: ending >= 0,
    solution: ending >= 0 ? pathTo(ending) : null,
    deadEnds: entries.slice(0, options.report ?? 3).map((i) => ({ path: pathTo(i), state: summarise(story, (nodes[i] as Node).state) })),
    deadEndCount: entries.length,
    unreachableGates: story.scenes.flatMap((s) => s.gates.filter((g) => !fired.has(g.id)).map((g) => ({ scene: s.id, gate: g.id, interpretive: interpretive(g.condition), deferred: deferred(g.condition) }))),
    unreachableGoals: story.scenes.flatMap((s) => s.goals.filter((g) => !completed.has(g.id)).map((g) => ({ scene: s.id, goal: g.id, interpretive: interpretive(g.completion) || gateIsInterpretive(s, g.completion), deferred: deferred(g.completion) }))),
  };
}

function gateIsInterpretive(scene: Story['scenes'][number], completion: unknown): boolean {
  const text = JSON.stringify(completion);
  return scene.gates.some((g) => text.includes(`"${g.id}"`) && JSON.stringify(g.condition).includes('"judgment"'));
}

function summarise(story: Story, s: ExplorerState): StateSummary {
  const view = worldView(s.scene.data.baseline, s.ts);
  const name = (id: string) => story.entities.find((e) => e.id === id)?.id ?? id;
  return {
    scene: s.scene.key,
    holding: Object.fromEntries(Object.entries(view.holders).map(([item, holder]) => [name(item), holder])),
    lying: Object.fromEntries(Object.entries(view.locations).filter(([item]) => story.entities.find((e) => e.id === item)?.portable).map(([item, at]) => [name(item), at])),
    world: Object.fromEntries(Object.entries(view.world).filter(([k, v]) => story.world[k] !== v)),
    gatesFired: story.scenes.flatMap((x) => x.gates.map((g) => g.id)).filter((g) => holds(s.ts, 'gate_fired', g)),
    goalsCompleted: story.scenes.flatMap((x) => x.goals.map((g) => g.id)).filter((g) => holds(s.ts, 'goal_completed', g)),
  };
}

/** The report as `story check` prints it: errors first, then warnings. */
export function softLockProblems(report: SoftLockReport): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (!report.endingReachable && !report.bounded) errors.push('no ending can be reached from the start');
  for (const d of report.deadEnds) {
    const held = Object.entries(d.state.holding).map(([item, who]) => `${item}→${who === PLAYER_ID ? 'you' : who}`).join(', ');
    const lying = Object.entries(d.state.lying).map(([item, at]) => `${item} at ${at}`).join(', ');
    errors.push(`soft-lock: after ${d.path.map((p) => `"${p}"`).join(' → ')} no ending can be reached (scene ${d.state.scene}; holding: ${held || 'nothing'}${lying ? `; lying: ${lying}` : ''})`);
  }
  if (report.deadEndCount > report.deadEnds.length) errors.push(`… and ${report.deadEndCount - report.deadEnds.length} more way(s) into a dead end`);
  const why = (g: { interpretive: boolean; deferred: boolean }) =>
    g.interpretive ? ' by the rules alone (its condition needs an interpretive judgment)' : g.deferred ? ' by the turn rules alone (its condition reads a relationship the deferred scene-boundary workflow can raise)' : '';
  for (const g of report.unreachableGates) (g.interpretive || g.deferred ? warnings : errors).push(`scenes.${g.scene}: gate "${g.gate}" can never fire${why(g)}`);
  for (const g of report.unreachableGoals) (g.interpretive || g.deferred ? warnings : errors).push(`scenes.${g.scene}: goal "${g.goal}" can never be completed${why(g)}`);
  if (report.bounded) warnings.push(`exploration stopped at ${report.statesExplored} states: the story is only partly proven`);
  return { errors, warnings };
}
