import { z } from 'zod';

/**
 * Tasker Core's wire contract as zod schemas, written from ../shared/design/tasker-contract.md
 * (tasker-core c8733f9, 0.1.8). Every message the bridge sends and every template it ships
 * is checked against these; the local runner parses what it receives with them too.
 * Section numbers refer to that document.
 */

// ---------------------------------------------------------------- names and dates (§1.1, §1.5, §2.2)

/** ≤ 29 chars, [A-Za-z0-9_], starting with a letter or `_`; no hyphens. */
export const namespaceName = z.string().max(29).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'namespace: [A-Za-z0-9_], starting with a letter or _');
/** Event names: at least one dot, `^[a-z0-9_.]+$`. */
export const eventName = z.string().regex(/^[a-z0-9_.]+$/).refine((s) => s.includes('.'), 'an event name needs a dot');
export const stepName = z.string().regex(/^[a-z][a-z0-9_]*$/);
const publisherName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*((::|\.)[a-zA-Z_][a-zA-Z0-9_]*)*$/);
/** Naive datetime `YYYY-MM-DDTHH:MM:SS[.f…]` — a trailing Z or offset is rejected by serde. */
export const naiveDateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/, 'naive datetime (no Z, no offset)');
/** RFC 3339 with an offset (`Z` is fine). */
export const rfc3339WithOffset = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'RFC 3339 with offset');
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'UUID');

/** The JS clock as a naive UTC datetime (for fields Tasker reads as NaiveDateTime). */
export function toNaive(date: Date): string {
  return date.toISOString().replace(/Z$/, '');
}

// ---------------------------------------------------------------- task template (§4)

const jsonSchemaObject = z.record(z.string(), z.unknown());

export const EVENT_CONDITIONS = ['success', 'failure', 'retryable_failure', 'permanent_failure', 'always'] as const;
export const DELIVERY_MODES = ['durable', 'fast', 'broadcast'] as const;
export const BACKOFF_KINDS = ['none', 'linear', 'exponential', 'fibonacci'] as const;
export const STEP_TYPES = ['standard', 'decision', 'deferred_convergence', 'batchable', 'batch_worker'] as const;

export const eventDeclarationSchema = z.object({
  name: eventName,
  description: z.string().min(1),
  condition: z.enum(EVENT_CONDITIONS).default('success'),
  schema: jsonSchemaObject,
  delivery_mode: z.enum(DELIVERY_MODES).default('durable'),
  publisher: publisherName.nullish(),
});

export const retrySchema = z.object({
  retryable: z.boolean().default(true),
  max_attempts: z.number().int().min(1).max(100).default(3),
  backoff: z.enum(BACKOFF_KINDS).default('exponential'),
  backoff_base_ms: z.number().int().min(100).max(3_600_000).optional(),
  max_backoff_ms: z.number().int().min(1_000).max(3_600_000).optional(),
}).strict(); // stricter than Tasker, which silently ignores e.g. the obsolete `retry.limit`

export const stepDefinitionSchema = z
  .object({
    name: stepName,
    description: z.string().optional(),
    handler: z.object({
      callable: z.string().min(1).max(500),
      method: z.string().default('call'),
      resolver: z.string().optional(),
      initialization: z.record(z.string(), z.unknown()).default({}),
    }),
    type: z.enum(STEP_TYPES).default('standard'),
    dependencies: z.array(stepName).default([]),
    retry: retrySchema.default({ retryable: true, max_attempts: 3, backoff: 'exponential' }),
    timeout_seconds: z.number().int().positive().optional(),
    publishes_events: z.array(eventDeclarationSchema).default([]),
  })
  .strict();

export const taskTemplateSchema = z
  .object({
    name: z.string().min(1).max(255),
    namespace_name: namespaceName,
    version: z.string().min(1).max(50),
    description: z.string().optional(),
    metadata: z.object({ author: z.string().optional(), tags: z.array(z.string()).optional(), documentation_url: z.string().optional() }).optional(),
    input_schema: jsonSchemaObject.optional(),
    lifecycle: z
      .object({
        max_duration_minutes: z.number().positive().optional(),
        max_steps_in_process_minutes: z.number().positive().optional(),
        max_waiting_for_retry_minutes: z.number().positive().optional(),
        staleness_action: z.enum(['dlq', 'error', 'none']).optional(),
      })
      .optional(),
    steps: z.array(stepDefinitionSchema).min(1),
  })
  .strict();

export type TaskTemplate = z.infer<typeof taskTemplateSchema>;
export type StepDefinition = z.infer<typeof stepDefinitionSchema>;
export type EventDeclaration = z.infer<typeof eventDeclarationSchema>;

// ---------------------------------------------------------------- submissions (§1.5)

export const taskRequestSchema = z.object({
  name: z.string().min(1).max(255),
  namespace: z.string().min(1).max(255),
  version: z.string().min(1).max(50),
  context: z.record(z.string(), z.unknown()),
  initiator: z.string().min(1).max(255),
  source_system: z.string().min(1).max(255),
  reason: z.string().min(1).max(500),
  tags: z.array(z.string()).optional(),
  requested_at: naiveDateTime.optional(),
  options: z.record(z.string(), z.unknown()).nullish(),
  priority: z.number().int().min(-100).max(100).nullish(),
  correlation_id: uuid.optional(),
  parent_correlation_id: uuid.nullish(),
  idempotency_key: z.string().min(1).optional(),
});
export type TaskRequest = z.infer<typeof taskRequestSchema>;

export const MESSAGE_PRIORITIES = ['Low', 'Normal', 'High', 'Urgent'] as const;

export const taskRequestMessageSchema = z.object({
  request_id: z.string().min(1),
  task_request: taskRequestSchema,
  metadata: z.object({
    requested_at: rfc3339WithOffset,
    requester: z.string().min(1),
    priority: z.enum(MESSAGE_PRIORITIES),
    custom: z.record(z.string(), z.unknown()),
  }),
});
export type TaskRequestMessage = z.infer<typeof taskRequestMessageSchema>;

// ---------------------------------------------------------------- REST reads (§6)

export const TASK_STATES = [
  'pending', 'initializing', 'enqueuing_steps', 'steps_in_process', 'evaluating_results', 'waiting_for_dependencies',
  'waiting_for_retry', 'blocked_by_failures', 'complete', 'error', 'cancelled', 'resolved_manually',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(['complete', 'error', 'cancelled', 'resolved_manually']);
/** What the bridge counts as a failed workflow (§6: blocked_by_failures precedes error). */
export const FAILED_TASK_STATES: ReadonlySet<TaskState> = new Set(['error', 'blocked_by_failures', 'cancelled']);

export const STEP_STATES = [
  'pending', 'enqueued', 'in_progress', 'enqueued_for_orchestration', 'enqueued_as_error_for_orchestration', 'waiting_for_retry',
  'complete', 'error', 'cancelled', 'resolved_manually',
] as const;
export type StepState = (typeof STEP_STATES)[number];

export const EXECUTION_STATUSES = ['has_ready_steps', 'processing', 'blocked_by_failures', 'all_complete', 'waiting_for_dependencies'] as const;

export const taskResponseSchema = z.object({
  task_uuid: uuid,
  name: z.string(),
  namespace: z.string(),
  version: z.string(),
  status: z.enum(TASK_STATES),
  created_at: z.string(),
  updated_at: z.string(),
  completed_at: z.string().nullable(),
  context: z.unknown(),
  initiator: z.string(),
  source_system: z.string(),
  reason: z.string(),
  priority: z.number().int().nullable(),
  tags: z.array(z.string()).nullable(),
  correlation_id: uuid,
  parent_correlation_id: uuid.nullable(),
  total_steps: z.number().int(),
  pending_steps: z.number().int(),
  in_progress_steps: z.number().int(),
  completed_steps: z.number().int(),
  failed_steps: z.number().int(),
  ready_steps: z.number().int(),
  execution_status: z.enum(EXECUTION_STATUSES),
  steps: z.array(z.object({ name: z.string(), step_uuid: uuid, current_state: z.enum(STEP_STATES), attempts: z.number().int(), max_attempts: z.number().int(), next_retry_at: z.string().nullable() })),
});
export type TaskResponse = z.infer<typeof taskResponseSchema>;

/** 409 body for a duplicate identity (§3). */
export const conflictBody = { error: { code: 'CONFLICT', message: 'A task with this identity already exists' } } as const;

// ---------------------------------------------------------------- step handlers (§5)

export const ERROR_TYPES = ['permanent_error', 'retryable_error', 'validation_error', 'timeout', 'handler_error'] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export const stepHandlerResultSchema = z.object({
  success: z.boolean(),
  result: z.record(z.string(), z.unknown()).nullable(),
  errorMessage: z.string().nullable(),
  errorType: z.enum(ERROR_TYPES).nullable(),
  errorCode: z.string().nullable(),
  retryable: z.boolean(),
  metadata: z.record(z.string(), z.unknown()),
});
export type StepHandlerResult = z.infer<typeof stepHandlerResultSchema>;

// ---------------------------------------------------------------- domain events (§2.2)

export const stepExecutionResultSchema = z.object({
  step_uuid: uuid,
  success: z.boolean(),
  result: z.unknown(),
  status: z.enum(['completed', 'failed']),
  error: z
    .object({ message: z.string(), error_type: z.string().nullable(), backtrace: z.unknown().nullable(), retryable: z.boolean(), status_code: z.number().nullish(), context: z.unknown().optional() })
    .nullable(),
  orchestration_metadata: z.unknown().nullable(),
  metadata: z.object({
    execution_time_ms: z.number(),
    handler_version: z.string().nullable(),
    retryable: z.boolean(),
    completed_at: rfc3339WithOffset,
    worker_id: z.string().nullable(),
    worker_hostname: z.string().nullable(),
    started_at: z.string().nullable(),
    custom: z.record(z.string(), z.unknown()),
    error_code: z.string().nullable(),
    error_type: z.string().nullable(),
    context: z.record(z.string(), z.unknown()),
  }),
});
export type StepExecutionResult = z.infer<typeof stepExecutionResultSchema>;

export const domainEventSchema = z.object({
  event_id: uuid,
  event_name: eventName,
  event_version: z.literal('1.0'),
  payload: z.object({
    payload: z.unknown(),
    execution_result: stepExecutionResultSchema,
    task_sequence_step: z.object({
      task: z.object({
        task: z.object({
          task_uuid: uuid,
          context: z.record(z.string(), z.unknown()),
          correlation_id: uuid,
          requested_at: naiveDateTime,
          created_at: naiveDateTime,
          updated_at: naiveDateTime,
        }).passthrough(),
        task_name: z.string(),
        task_version: z.string(),
        namespace_name: z.string(),
      }),
      workflow_step: z.object({ workflow_step_uuid: uuid, name: z.string(), attempts: z.number().int(), max_attempts: z.number().int(), retryable: z.boolean() }).passthrough(),
      dependency_results: z.record(z.string(), z.unknown()),
      step_definition: z.unknown(),
    }),
  }),
  metadata: z.object({
    task_uuid: uuid,
    step_uuid: uuid.nullable(),
    step_name: z.string().nullable(),
    namespace: z.string(),
    correlation_id: uuid,
    fired_at: rfc3339WithOffset,
    fired_by: z.string(),
  }),
});
export type DomainEvent = z.infer<typeof domainEventSchema>;

// ---------------------------------------------------------------- queues (§1.1, §1.3)

export const TASK_REQUESTS_QUEUE = 'orchestration_task_requests';
export function domainEventsQueue(namespace: string): string {
  return `${namespaceName.parse(namespace)}_domain_events`;
}
