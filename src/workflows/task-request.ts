import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { StorytellerError } from '../errors.ts';
import { taskRequestMessageSchema, taskRequestSchema, type TaskRequest, type TaskRequestMessage, type TaskTemplate } from './contract.ts';

/** The outbox payload the scene-exit transaction writes (src/engine/session-storage.ts writeSceneExit). */
export const sceneExitOutboxPayload = z.object({
  sessionId: z.string().uuid(),
  sceneId: z.string().uuid(),
  sceneKey: z.string().min(1),
  nextSceneKey: z.string().min(1).nullable(),
  checkpointId: z.string().uuid(),
  reason: z.string(),
  turn: z.number().int().nonnegative(),
  deferred: z.unknown().nullable(),
});
export type SceneExitOutboxPayload = z.infer<typeof sceneExitOutboxPayload>;

/** The task context every scene-boundary step reads (`ctx.inputData`). */
export const sceneBoundaryContext = z.object({
  session_id: z.string().uuid(),
  scene_id: z.string().uuid(),
  scene_key: z.string().min(1),
  next_scene_key: z.string().min(1).nullable(),
  checkpoint_id: z.string().uuid(),
  workflow_key: z.string().min(1),
  turn: z.number().int().nonnegative(),
});
export type SceneBoundaryContext = z.infer<typeof sceneBoundaryContext>;

export const INITIATOR = 'storyteller-runtime';
export const SOURCE_SYSTEM = 'storyteller-runtime';

/**
 * The Tasker `TaskRequest` for one outbox row (contract §1.5): namespace and exact version
 * from the template, `idempotency_key` = the outbox key (`session:<id>:scene-exit:<n>`),
 * the correlation id the bridge records, no `requested_at`.
 * @throws StorytellerError WORKFLOW_MESSAGE_INVALID when the outbox payload fails its schema
 */
export function sceneExitTaskRequest(template: TaskTemplate, row: { idempotencyKey: string; payload: unknown }, correlationId: string): TaskRequest {
  const parsed = sceneExitOutboxPayload.safeParse(row.payload);
  if (!parsed.success) throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `outbox ${row.idempotencyKey}: ${parsed.error.issues[0]?.message ?? 'invalid payload'}`);
  const p = parsed.data;
  const context: SceneBoundaryContext = {
    session_id: p.sessionId,
    scene_id: p.sceneId,
    scene_key: p.sceneKey,
    next_scene_key: p.nextSceneKey,
    checkpoint_id: p.checkpointId,
    workflow_key: row.idempotencyKey,
    turn: p.turn,
  };
  return taskRequestSchema.parse({
    name: template.name,
    namespace: template.namespace_name,
    version: template.version,
    context,
    initiator: INITIATOR,
    source_system: SOURCE_SYSTEM,
    reason: `scene exit: ${p.reason}`.slice(0, 500),
    tags: ['scene_boundary', `session:${p.sessionId}`],
    priority: 0,
    correlation_id: correlationId,
    idempotency_key: row.idempotencyKey,
  });
}

/** The queue-mode envelope (contract §1.5); `metadata.priority` PascalCase, `requested_at` with offset. */
export function taskRequestMessage(request: TaskRequest, now: Date): TaskRequestMessage {
  return taskRequestMessageSchema.parse({
    request_id: randomUUID(),
    task_request: request,
    metadata: { requested_at: now.toISOString(), requester: INITIATOR, priority: 'Normal', custom: {} },
  });
}
