import type { StepHandlerResult } from '../contract.ts';
import type { DeferredEffect } from '../../domain/propositions.ts';
import type { EdgeUpdate, RelationalEdge } from '../../persistence/graph/graph-store.ts';
import { claimEffect } from './effects.ts';
import { resolvedScene, sceneContext } from './scene-context.ts';
import { dependencyResult, StepHandler, type StepContext } from './step-handler.ts';

/** How far a shift travels: characters up to this many RELATES_TO hops from the cast member. */
const MAX_HOPS = 2;

/**
 * Relational ripple (seed: "social ripple"): a character who cares about a cast member
 * (RELATES_TO affection > 0) shifts toward whoever that cast member shifted toward, by the
 * shift × attenuation × affection, compounding per hop. Off-cast characters only (the scene
 * exit already applied the cast's own edges). Applied to the session's graph scope once.
 */
export class SocialGraphRipple extends StepHandler {
  static override handlerName = 'storyteller.SocialGraphRipple';

  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const c = sceneContext(ctx);
    if (typeof c === 'string') return this.failure(c, 'validation_error', false, {}, 'WORKFLOW_MESSAGE_INVALID');
    const parsed = resolvedScene.safeParse(dependencyResult(ctx, 'deferred_event_resolution'));
    if (!parsed.success) return this.failure('deferred_event_resolution result missing or malformed', 'permanent_error', false);
    const scene = parsed.data;
    const graph = this.deps.graph;
    if (!graph) return this.success({ updates: [], effects: [], skipped: 'no graph store' });
    const attenuation = typeof ctx.stepConfig.attenuation === 'number' ? ctx.stepConfig.attenuation : 0.5;
    const ids = [...new Set([...scene.characters, ...scene.cast, ...scene.shifts.flatMap((s) => [s.from, s.to])])];
    const web = await graph.relationalSubgraph(c.session_id, ids);
    const known = new Set(web.characters.map((ch) => ch.id));
    const updates = rippleUpdates(scene.shifts.filter((s) => scene.cast.includes(s.from)), web.edges, new Set(scene.cast), attenuation).filter((u) => known.has(u.from) && known.has(u.to));
    const effects: DeferredEffect[] = updates.flatMap((u) => Object.entries(u.deltas ?? {}).map(([dimension, delta]) => ({ kind: 'relationship' as const, from: u.from, to: u.to, dimension: dimension as 'affection', delta })));
    const result = { updates: updates.map((u) => ({ from: u.from, to: u.to, deltas: u.deltas ?? {} })), effects };
    const stored = await this.deps.db.transaction(async (tx) => {
      const previous = await claimEffect(tx, `${c.workflow_key}:social_graph_ripple`, c.session_id, 'social_graph_ripple', result);
      if (previous) return previous;
      if (updates.length > 0) await graph.applyEdgeUpdates(c.session_id, updates, tx);
      return null;
    });
    return this.success(stored ?? result, { applied: stored === null });
  }
}

/** Pure: the attenuated second-order updates of `shifts` over `edges` (exported for unit tests). */
export function rippleUpdates(shifts: readonly { from: string; to: string; dimension: string; delta: number }[], edges: readonly RelationalEdge[], cast: ReadonlySet<string>, attenuation: number): EdgeUpdate[] {
  const out = new Map<string, EdgeUpdate>();
  for (const shift of shifts) {
    // weight[k] = strongest attenuated path k → … → shift.from through caring edges.
    const weight = new Map<string, number>([[shift.from, 1]]);
    let frontier = [shift.from];
    for (let hop = 1; hop <= MAX_HOPS; hop++) {
      const next: string[] = [];
      for (const target of frontier) {
        for (const e of edges) {
          if (e.to !== target || e.affection <= 0 || e.from === shift.from) continue;
          const w = (weight.get(target) ?? 0) * attenuation * e.affection;
          if (w > (weight.get(e.from) ?? 0)) {
            weight.set(e.from, w);
            next.push(e.from);
          }
        }
      }
      frontier = next;
    }
    for (const [k, w] of weight) {
      if (k === shift.from || cast.has(k) || k === shift.to || w === 0) continue;
      const key = `${k}\u0000${shift.to}`;
      const u = out.get(key) ?? { from: k, to: shift.to, deltas: {} };
      const deltas = u.deltas as Record<string, number>;
      deltas[shift.dimension] = round((deltas[shift.dimension] ?? 0) + shift.delta * w);
      out.set(key, u);
    }
  }
  return [...out.values()].sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1));
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
