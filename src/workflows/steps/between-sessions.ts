import { z } from 'zod';
import type { StepHandlerResult } from '../contract.ts';
import type { RelationalAttribute } from '../../persistence/graph/graph-store.ts';
import { claimEffect } from './effects.ts';
import { dependencyResult, StepHandler, type StepContext } from './step-handler.ts';

/**
 * The between-sessions workflow's handlers (seed: "Between Sessions"). Each effect is
 * keyed by (run, session), so a retried step or a re-fired run changes nothing twice.
 */
const runContext = z.object({ run_key: z.string().min(1) });
const selected = z.object({ sessions: z.array(z.object({ id: z.string().uuid(), story_id: z.string() })) });

function run(ctx: StepContext): string | null {
  const parsed = runContext.safeParse(ctx.inputData);
  return parsed.success ? parsed.data.run_key : null;
}

export class SelectSuspendedSessions extends StepHandler {
  static override handlerName = 'storyteller.SelectSuspendedSessions';
  async call(ctx: StepContext): Promise<StepHandlerResult> {
    if (!run(ctx)) return this.failure('task context needs run_key', 'validation_error', false);
    const { rows } = await this.deps.db.query<{ id: string; story_id: string }>(`SELECT id, story_id FROM sessions WHERE status = 'suspended' ORDER BY id`);
    return this.success({ sessions: rows });
  }
}

/** Every RELATES_TO edge toward the player fades by `rate` (toward 0) in each suspended session's graph. */
export class EntityDecay extends StepHandler {
  static override handlerName = 'storyteller.EntityDecay';
  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const key = run(ctx);
    const list = selected.safeParse(dependencyResult(ctx, 'select_suspended_sessions'));
    if (!key || !list.success) return this.failure('missing run or selection', 'permanent_error', false);
    const graph = this.deps.graph;
    if (!graph) return this.success({ decayed: 0 });
    const rate = typeof ctx.stepConfig.rate === 'number' ? ctx.stepConfig.rate : 0.1;
    let decayed = 0;
    for (const s of list.data.sessions) {
      const chars = await this.deps.db.query<{ entity_id: string }>(`SELECT entity_id FROM story_entities WHERE story_id = $1 AND kind = 'character'`, [s.story_id]);
      const web = await graph.relationalSubgraph(s.id, chars.rows.map((r) => r.entity_id));
      const toward = web.edges.filter((e) => e.to === 'player' && e.from !== 'player');
      const dims: RelationalAttribute[] = ['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt'];
      const updates = toward.map((e) => ({ from: e.from, to: e.to, set: Object.fromEntries(dims.map((d) => [d, Math.round(e[d] * (1 - rate) * 1e6) / 1e6])) }));
      await this.deps.db.transaction(async (tx) => {
        if (await claimEffect(tx, `${key}:${s.id}:entity_decay`, s.id, 'entity_decay', { edges: updates.length })) return;
        if (updates.length > 0) await graph.applyEdgeUpdates(s.id, updates, tx);
        decayed += updates.length;
      });
    }
    return this.success({ decayed });
  }
}

/**
 * World time passes: one DeferredResultApplied fact (`time.between_sessions` +1) in each
 * session's ledger, written only while the session is still suspended (row lock), so a
 * resume loads it with the ledger delta; the ledger's idempotency key makes it once per run.
 */
export class WorldTimePassage extends StepHandler {
  static override handlerName = 'storyteller.WorldTimePassage';
  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const key = run(ctx);
    const list = selected.safeParse(dependencyResult(ctx, 'select_suspended_sessions'));
    if (!key || !list.success) return this.failure('missing run or selection', 'permanent_error', false);
    let passed = 0;
    for (const s of list.data.sessions) {
      await this.deps.db.transaction(async (tx) => {
        const row = await tx.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1 FOR UPDATE', [s.id]);
        if (row.rows[0]?.status !== 'suspended') return; // resumed meanwhile: its next run catches up
        const idem = `${key}:time`;
        const seen = await tx.query('SELECT 1 FROM event_ledger WHERE session_id = $1 AND idempotency_key = $2', [s.id, idem]);
        if (seen.rows.length > 0) return;
        const ts = await tx.query<{ ts: string }>('UPDATE sessions SET last_narrative_ts = last_narrative_ts + 1 WHERE id = $1 RETURNING last_narrative_ts AS ts', [s.id]);
        const data = { workflowKey: key, effects: [{ kind: 'accumulator', key: 'time.between_sessions', delta: 1 }] };
        await tx.query(
          `INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, source, narrative_ts, idempotency_key, session_started_at)
           VALUES ($1, NULL, NULL, 'DeferredResultApplied', $2::jsonb, 'workflow', $3, $4, (SELECT created_at FROM sessions WHERE id = $1))`,
          [s.id, JSON.stringify(data), Number(ts.rows[0]?.ts), idem],
        );
        passed++;
      });
    }
    return this.success({ passed });
  }
}

/** Each story character's off-screen goal moves on: `entity_snapshots.components.offscreen.goalProgress += 1`. */
export class OffscreenGoalProgression extends StepHandler {
  static override handlerName = 'storyteller.OffscreenGoalProgression';
  async call(ctx: StepContext): Promise<StepHandlerResult> {
    const key = run(ctx);
    const list = selected.safeParse(dependencyResult(ctx, 'select_suspended_sessions'));
    if (!key || !list.success) return this.failure('missing run or selection', 'permanent_error', false);
    for (const s of list.data.sessions) {
      await this.deps.db.transaction(async (tx) => {
        if (await claimEffect(tx, `${key}:${s.id}:offscreen_goal_progression`, s.id, 'offscreen_goal_progression', {})) return;
        await tx.query(
          `INSERT INTO entity_snapshots (session_id, entity_id, kind, components, updated_at)
           SELECT $1, e.entity_id, e.kind, jsonb_build_object('offscreen', jsonb_build_object('goalProgress', 1)), NOW()
             FROM story_entities e WHERE e.story_id = $2 AND e.kind = 'character' AND e.entity_id <> 'player'
           ON CONFLICT (session_id, entity_id) DO UPDATE SET
             components = jsonb_set(COALESCE(entity_snapshots.components, '{}'::jsonb), '{offscreen}',
               jsonb_build_object('goalProgress', COALESCE((entity_snapshots.components #>> '{offscreen,goalProgress}')::int, 0) + 1)),
             updated_at = NOW()`,
          [s.id, s.story_id],
        );
      });
    }
    return this.success({ run_key: key, sessions: list.data.sessions.length });
  }
}

export const BETWEEN_SESSIONS_HANDLERS = [SelectSuspendedSessions, EntityDecay, WorldTimePassage, OffscreenGoalProgression] as const;
