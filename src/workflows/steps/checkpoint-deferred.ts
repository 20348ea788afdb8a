import type { StepHandlerResult } from '../contract.ts';
import { deferredEffectSchema, type DeferredEffect } from '../../domain/propositions.ts';
import { setDeferredStatus } from '../../persistence/checkpoints.ts';
import { sceneContext } from './scene-context.ts';
import { StepHandler, type StepContext } from './step-handler.ts';

const EFFECT_STEPS = ['offscreen_propagation', 'social_graph_ripple', 'world_state_update', 'narrative_graph_update'] as const;

/** What the last step writes to `checkpoints.deferred_result` and publishes as `scene_boundary.completed`. */
export interface DeferredResult {
  session_id: string;
  checkpoint_id: string;
  workflow_key: string;
  effects: DeferredEffect[];
}

/**
 * The final step: every deferred effect of the scene exit on its checkpoint,
 * `deferred_status = complete`. Rewriting the same result is harmless (idempotent).
 */
export class CheckpointDeferred extends StepHandler {
  static override handlerName = 'storyteller.CheckpointDeferred';

  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const c = sceneContext(ctx);
    if (typeof c === 'string') return this.failure(c, 'validation_error', false, {}, 'WORKFLOW_MESSAGE_INVALID');
    const effects: DeferredEffect[] = [];
    const upstream = (ctx.dependencyResults.narrative_graph_update?.result as { upstream?: Record<string, unknown[]> } | undefined)?.upstream ?? {};
    for (const step of EFFECT_STEPS) {
      const direct = (ctx.dependencyResults[step]?.result as { effects?: unknown[] } | undefined)?.effects;
      const raw = direct ?? upstream[step] ?? [];
      for (const e of raw) {
        const parsed = deferredEffectSchema.safeParse(e);
        if (parsed.success) effects.push(parsed.data);
      }
    }
    const result: DeferredResult = { session_id: c.session_id, checkpoint_id: c.checkpoint_id, workflow_key: c.workflow_key, effects };
    await setDeferredStatus(this.deps.db, c.checkpoint_id, 'complete', result);
    return this.success({ ...result });
  }
}
