import type { Queryable } from '../../src/persistence/database.ts';

/**
 * Every scene exit's deferred workflow applied exactly once (issue 13's outage trials),
 * read from the database alone: each `scene_exit` outbox row (written in the exit's
 * transaction) became one Tasker task, completed, its outcome applied once (the outbox
 * row's completed_at is the guard; `workflow_effects` is keyed) and recorded on the
 * exit's checkpoint.
 */
export interface WorkflowAudit {
  exits: number;
  /** Outbox rows whose workflow has not completed (yet). */
  pending: string[];
  /** Outbox rows whose task is missing, or more than one task claims the row. */
  broken: string[];
}

export async function auditWorkflows(q: Queryable, sessionIds: readonly string[]): Promise<WorkflowAudit> {
  const { rows } = await q.query<{ key: string; outcome: string | null; completed: boolean; tasks: number; task_status: string | null; deferred: string | null }>(
    `SELECT o.idempotency_key AS key, o.outcome, o.completed_at IS NOT NULL AS completed,
            (SELECT count(*)::int FROM workflow_tasks t WHERE t.task_uuid = o.task_uuid) AS tasks,
            (SELECT t.status FROM workflow_tasks t WHERE t.task_uuid = o.task_uuid) AS task_status,
            (SELECT c.deferred_status FROM checkpoints c WHERE c.id::text = o.payload->>'checkpointId') AS deferred
       FROM outbox o WHERE o.kind = 'scene_exit' AND o.session_id = ANY($1::uuid[]) ORDER BY o.id`,
    [sessionIds],
  );
  const audit: WorkflowAudit = { exits: rows.length, pending: [], broken: [] };
  for (const r of rows) {
    if (!r.completed || r.outcome !== 'complete' || r.deferred !== 'complete') audit.pending.push(`${r.key}: outcome ${r.outcome}, task ${r.task_status}, checkpoint ${r.deferred}`);
    else if (r.tasks !== 1 || r.task_status !== 'complete') audit.broken.push(`${r.key}: ${r.tasks} tasks (${r.task_status})`);
  }
  return audit;
}
