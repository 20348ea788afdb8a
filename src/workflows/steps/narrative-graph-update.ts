import type { StepHandlerResult } from '../contract.ts';
import type { DeferredEffect } from '../../domain/propositions.ts';
import { sceneContext } from './scene-context.ts';
import { StepHandler, type StepContext } from './step-handler.ts';

/**
 * Narrative graph update: the scenes reachable (1–2 LEADS_TO hops) from the scene the story
 * goes to next, after this scene's relational changes (ripple) — recorded so the next
 * scene's storykeeper knows what is unlocked. Reads only.
 */
export class NarrativeGraphUpdate extends StepHandler {
  static override handlerName = 'storyteller.NarrativeGraphUpdate';

  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const c = sceneContext(ctx);
    if (typeof c === 'string') return this.failure(c, 'validation_error', false, {}, 'WORKFLOW_MESSAGE_INVALID');
    // Carried forward so the checkpoint step sees them whether its dependency results are
    // direct parents only or every ancestor (the local runner passes every ancestor).
    const upstream = Object.fromEntries(['offscreen_propagation', 'social_graph_ripple'].map((k) => [k, (ctx.dependencyResults[k]?.result as { effects?: unknown[] } | undefined)?.effects ?? []]));
    const graph = this.deps.graph;
    if (!graph || c.next_scene_key === null) return this.success({ reachable: [], tense: [], effects: [], upstream });
    const [reachable, tense] = await Promise.all([graph.reachableScenes(c.session_id, c.next_scene_key, 2), graph.tenseScenesAhead(c.session_id, c.next_scene_key)]);
    const ids = reachable.map((r) => r.scene.id);
    const effects: DeferredEffect[] = [
      { kind: 'world', key: `narrative.reachable_from.${c.next_scene_key}`, value: ids },
      ...tense.map((t) => ({ kind: 'assert' as const, predicate: 'tense_scene_ahead', args: [t.scene.id] })),
    ];
    return this.success({ reachable: ids, tense: tense.map((t) => t.scene.id), effects, upstream });
  }
}
