import { randomBytes, randomUUID } from 'node:crypto';
import { toNaive, type DomainEvent, type EventDeclaration, type StepDefinition, type StepHandlerResult } from './contract.ts';

/** UUID v7 (time-ordered), as Tasker's event ids. */
export function uuidv7(now: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Which declarations fire for an attempt (contract §2.2: the worker knows only success/failure). */
export function firingEvents(step: StepDefinition, success: boolean): EventDeclaration[] {
  return step.publishes_events.filter((e) => e.delivery_mode !== 'fast' && (e.condition === 'always' || (success ? e.condition === 'success' : e.condition === 'failure')));
}

export interface EventSource {
  task: { task_uuid: string; name: string; namespace: string; version: string; context: Record<string, unknown>; correlation_id: string; created_at: Date; updated_at: Date; initiator: string; source_system: string; reason: string; priority: number };
  step: { step_uuid: string; name: string; attempts: number; max_attempts: number; retryable: boolean };
  definition: StepDefinition;
  result: StepHandlerResult;
  dependencyResults: Record<string, unknown>;
  startedAt: Date;
  completedAt: Date;
  workerId: string;
}

/** A `DomainEvent` shaped as Tasker's worker publishes it (§2.2), `metadata.correlation_id` fresh as Tasker's is. */
export function buildDomainEvent(decl: EventDeclaration, s: EventSource): DomainEvent {
  const r = s.result;
  return {
    event_id: uuidv7(s.completedAt.getTime()),
    event_name: decl.name,
    event_version: '1.0',
    payload: {
      payload: r.result ?? { error: r.errorMessage },
      execution_result: {
        step_uuid: s.step.step_uuid,
        success: r.success,
        result: r.result,
        status: r.success ? 'completed' : 'failed',
        error: r.success ? null : { message: r.errorMessage ?? 'failed', error_type: r.errorType, backtrace: null, retryable: r.retryable },
        orchestration_metadata: null,
        metadata: {
          execution_time_ms: s.completedAt.getTime() - s.startedAt.getTime(),
          handler_version: '1.0.0',
          retryable: r.retryable,
          completed_at: s.completedAt.toISOString(),
          worker_id: s.workerId,
          worker_hostname: null,
          started_at: s.startedAt.toISOString(),
          custom: r.metadata,
          error_code: r.errorCode,
          error_type: r.errorType,
          context: {},
        },
      },
      task_sequence_step: {
        task: {
          task: {
            task_uuid: s.task.task_uuid,
            complete: false,
            requested_at: toNaive(s.task.created_at),
            initiator: s.task.initiator,
            source_system: s.task.source_system,
            reason: s.task.reason,
            tags: [],
            context: s.task.context,
            priority: s.task.priority,
            created_at: toNaive(s.task.created_at),
            updated_at: toNaive(s.task.updated_at),
            correlation_id: s.task.correlation_id,
            parent_correlation_id: null,
          },
          task_name: s.task.name,
          task_version: s.task.version,
          namespace_name: s.task.namespace,
        },
        workflow_step: {
          workflow_step_uuid: s.step.step_uuid,
          task_uuid: s.task.task_uuid,
          name: s.step.name,
          template_step_name: s.step.name,
          retryable: s.step.retryable,
          max_attempts: s.step.max_attempts,
          attempts: s.step.attempts,
          last_attempted_at: toNaive(s.startedAt),
        },
        dependency_results: s.dependencyResults,
        step_definition: s.definition,
      },
    },
    metadata: {
      task_uuid: s.task.task_uuid,
      step_uuid: s.step.step_uuid,
      step_name: s.step.name,
      namespace: s.task.namespace,
      correlation_id: randomUUID(),
      fired_at: s.completedAt.toISOString(),
      fired_by: s.workerId,
    },
  };
}
