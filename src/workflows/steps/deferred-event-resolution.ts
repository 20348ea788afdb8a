import type { StepHandlerResult } from '../contract.ts';
import { relationalShift, sceneContext, type RelationalShift, type ResolvedScene } from './scene-context.ts';
import { StepHandler, type StepContext } from './step-handler.ts';

/**
 * Step 1: reads the scene's ledger rows (its cast from SceneEntered, its relational shifts
 * summed per edge and dimension) and the story's characters. Reads only: idempotent.
 */
export class DeferredEventResolution extends StepHandler {
  static override handlerName = 'storyteller.DeferredEventResolution';

  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const c = sceneContext(ctx);
    if (typeof c === 'string') return this.failure(c, 'validation_error', false, {}, 'WORKFLOW_MESSAGE_INVALID');
    const session = await this.deps.db.query<{ story_id: string }>('SELECT story_id FROM sessions WHERE id = $1', [c.session_id]);
    const storyId = session.rows[0]?.story_id;
    if (!storyId) return this.failure(`no session ${c.session_id}`, 'permanent_error', false, {}, 'SESSION_NOT_FOUND');
    const { rows } = await this.deps.db.query<{ event_type: string; event_data: Record<string, unknown> }>(
      'SELECT event_type, event_data FROM event_ledger WHERE session_id = $1 AND scene_id = $2 ORDER BY narrative_ts',
      [c.session_id, c.scene_id],
    );
    const cast = new Set<string>();
    const sums = new Map<string, RelationalShift>();
    for (const r of rows) {
      if (r.event_type === 'SceneEntered') for (const ch of (r.event_data.characters as string[] | undefined) ?? []) cast.add(ch);
      if (r.event_type === 'CharacterArrival' && typeof r.event_data.character === 'string') cast.add(r.event_data.character);
      if (r.event_type === 'RelationshipShifted') {
        const s = relationalShift.safeParse(r.event_data);
        if (!s.success) continue;
        const key = `${s.data.from}\u0000${s.data.to}\u0000${s.data.dimension}`;
        const prev = sums.get(key);
        sums.set(key, { ...s.data, delta: (prev?.delta ?? 0) + s.data.delta });
      }
    }
    const chars = await this.deps.db.query<{ entity_id: string }>(`SELECT entity_id FROM story_entities WHERE story_id = $1 AND kind = 'character' ORDER BY entity_id`, [storyId]);
    const result: ResolvedScene = {
      scene_id: c.scene_id,
      story_id: storyId,
      cast: [...cast].sort(),
      shifts: [...sums.values()].sort((a, b) => (a.from + a.to + a.dimension < b.from + b.to + b.dimension ? -1 : 1)),
      event_count: rows.length,
      characters: chars.rows.map((r) => r.entity_id),
    };
    return this.success(result);
  }
}
