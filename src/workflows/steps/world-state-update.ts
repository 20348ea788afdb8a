import type { StepHandlerResult } from '../contract.ts';
import type { DeferredEffect } from '../../domain/propositions.ts';
import { sceneContext } from './scene-context.ts';
import { StepHandler, type StepContext } from './step-handler.ts';

/**
 * World time and state: how many scenes and turns have passed by this exit, and where the
 * story goes next. Computed from this exit's checkpoint (a function of this exit alone),
 * so a retry yields the same values; recorded as `world` effects on the checkpoint.
 */
export class WorldStateUpdate extends StepHandler {
  static override handlerName = 'storyteller.WorldStateUpdate';

  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const c = sceneContext(ctx);
    if (typeof c === 'string') return this.failure(c, 'validation_error', false, {}, 'WORKFLOW_MESSAGE_INVALID');
    // sceneIndex at the exit = scenes completed so far (the checkpoint's own session state).
    const { rows } = await this.deps.db.query<{ n: string | number | null }>(
      `SELECT (session_state->>'sceneIndex')::int AS n FROM checkpoints WHERE id = $2 AND session_id = $1`,
      [c.session_id, c.checkpoint_id],
    );
    const scenesElapsed = Number(rows[0]?.n ?? 0);
    if (scenesElapsed === 0) return this.failure(`checkpoint ${c.checkpoint_id} not found`, 'permanent_error', false, {}, 'CHECKPOINT_NOT_FOUND');
    const effects: DeferredEffect[] = [
      { kind: 'world', key: 'time.scenes_elapsed', value: scenesElapsed },
      { kind: 'world', key: 'time.turns_elapsed', value: c.turn },
      { kind: 'world', key: 'story.last_scene', value: c.scene_key },
    ];
    return this.success({ scenes_elapsed: scenesElapsed, effects });
  }
}
