import type { StepHandlerResult } from '../contract.ts';
import type { DeferredEffect } from '../../domain/propositions.ts';
import { claimEffect } from './effects.ts';
import { resolvedScene, sceneContext } from './scene-context.ts';
import { dependencyResult, StepHandler, type StepContext } from './step-handler.ts';

/**
 * Off-screen propagation: every story character not in the scene's cast (nor the player)
 * advances one step on its own goal while the player was elsewhere. Written to the
 * character's entity snapshot (`components.offscreen.goalProgress`), once per scene exit.
 */
export class OffscreenPropagation extends StepHandler {
  static override handlerName = 'storyteller.OffscreenPropagation';

  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const c = sceneContext(ctx);
    if (typeof c === 'string') return this.failure(c, 'validation_error', false, {}, 'WORKFLOW_MESSAGE_INVALID');
    const parsed = resolvedScene.safeParse(dependencyResult(ctx, 'deferred_event_resolution'));
    if (!parsed.success) return this.failure('deferred_event_resolution result missing or malformed', 'permanent_error', false);
    const offscreen = parsed.data.characters.filter((id) => id !== 'player' && !parsed.data.cast.includes(id));
    const effects: DeferredEffect[] = offscreen.map((id) => ({ kind: 'accumulator', key: `offscreen:${id}:goal_progress`, delta: 1 }));
    const result = { offscreen, effects };
    const stored = await this.deps.db.transaction(async (tx) => {
      const previous = await claimEffect(tx, `${c.workflow_key}:offscreen_propagation`, c.session_id, 'offscreen_propagation', result);
      if (previous) return previous;
      for (const id of offscreen) {
        await tx.query(
          `INSERT INTO entity_snapshots (session_id, entity_id, kind, components, scene_id, turn, updated_at)
           SELECT $1, e.entity_id, e.kind, jsonb_build_object('offscreen', jsonb_build_object('goalProgress', 1)), NULL, $4, NOW()
             FROM story_entities e WHERE e.story_id = $3 AND e.entity_id = $2
           ON CONFLICT (session_id, entity_id) DO UPDATE SET
             components = jsonb_set(COALESCE(entity_snapshots.components, '{}'::jsonb), '{offscreen}',
               jsonb_build_object('goalProgress', COALESCE((entity_snapshots.components #>> '{offscreen,goalProgress}')::int, 0) + 1)),
             updated_at = NOW()`,
          [c.session_id, id, parsed.data.story_id, c.turn],
        );
      }
      return null;
    });
    return this.success(stored ?? result, { applied: stored === null });
  }
}
