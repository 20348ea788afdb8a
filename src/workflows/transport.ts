import { StorytellerError } from '../errors.ts';
import type { MessageBus } from './bus.ts';
import { TASK_REQUESTS_QUEUE, taskResponseSchema, type TaskRequest, type TaskResponse } from './contract.ts';
import { taskRequestMessage } from './task-request.ts';

/**
 * The bridge's one port to the workflow engine (Tasker Core or the local runner): how a
 * task request is submitted, how a task is read back for reconciliation, and where the
 * domain events arrive. `createWorkflowTransport` (src/workflows/open-workflows.ts) picks the
 * implementation from configuration, in one place.
 */
export type SubmitOutcome = { kind: 'created'; taskUuid: string } | { kind: 'duplicate' } | { kind: 'queued' };

/** The submission was not confirmed; try again later (`retryAfterMs` from a 503's Retry-After). */
export class SubmitNotConfirmed extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

export interface WorkflowTransport {
  readonly mode: 'rest' | 'queue';
  /**
   * Resolves only once the submission is confirmed (REST 200/409, broker confirm).
   * @throws SubmitNotConfirmed transient (outage, 503) — @throws StorytellerError WORKFLOW_DISPATCH_FAILED permanent (400/404)
   */
  submit(request: TaskRequest): Promise<SubmitOutcome>;
  /** `GET /v1/tasks/{uuid}`; null when the task is unknown or no REST endpoint is configured. */
  getTask(taskUuid: string): Promise<TaskResponse | null>;
  /** Where `<namespace>_domain_events` is consumed. */
  readonly events: MessageBus;
}

/** `POST /v1/tasks` to Tasker Core (or `storyteller tasker-local`). */
export class RestTransport implements WorkflowTransport {
  readonly mode = 'rest' as const;
  readonly events: MessageBus;
  readonly #url: string;
  readonly #headers: Record<string, string>;

  /** `token`: `Authorization: Bearer` (Tasker's JWT auth); `apiKey`: `X-API-Key` (contract §6 "Auth"). */
  constructor(options: { taskerUrl: string; events: MessageBus; apiKey?: string | undefined; token?: string | undefined }) {
    this.#url = options.taskerUrl.replace(/\/+$/, '');
    this.events = options.events;
    this.#headers = {
      'content-type': 'application/json',
      ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    };
  }

  async submit(request: TaskRequest): Promise<SubmitOutcome> {
    let res: Response;
    try {
      res = await fetch(`${this.#url}/v1/tasks`, { method: 'POST', headers: this.#headers, body: JSON.stringify(request), signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new SubmitNotConfirmed(`tasker unreachable: ${(error as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 409) return { kind: 'duplicate' };
    if (res.status === 200 || res.status === 201) {
      const parsed = taskResponseSchema.pick({ task_uuid: true }).safeParse(safeJson(text));
      if (!parsed.success) throw new SubmitNotConfirmed('tasker answered without a task_uuid');
      return { kind: 'created', taskUuid: parsed.data.task_uuid };
    }
    // Refused credentials are a configuration fault, not the row's: back off and keep the row.
    if (res.status === 401 || res.status === 403) throw new SubmitNotConfirmed(`tasker refused the credentials (${res.status}): check STORYTELLER_TASKER_TOKEN / STORYTELLER_TASKER_API_KEY`);
    if (res.status === 503 || res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get('retry-after'));
      throw new SubmitNotConfirmed(`tasker answered ${res.status}`, Number.isFinite(after) && after >= 0 && res.headers.has('retry-after') ? after * 1000 : undefined);
    }
    throw new StorytellerError('WORKFLOW_DISPATCH_FAILED', `tasker refused the task request (${res.status}): ${text.slice(0, 300)}`, { details: { status: res.status } });
  }

  async getTask(taskUuid: string): Promise<TaskResponse | null> {
    const res = await fetch(`${this.#url}/v1/tasks/${encodeURIComponent(taskUuid)}`, { headers: this.#headers, signal: AbortSignal.timeout(10_000) });
    if (res.status === 404) return null;
    if (!res.ok) throw new SubmitNotConfirmed(`tasker answered ${res.status}`);
    const parsed = taskResponseSchema.safeParse(await res.json());
    if (!parsed.success) throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `task ${taskUuid}: ${parsed.error.issues[0]?.message ?? 'invalid TaskResponse'}`);
    return parsed.data;
  }
}

/**
 * A persistent `TaskRequestMessage` on `orchestration_task_requests` with publisher confirms.
 * Tasker Core at c8733f9 loses these on RabbitMQ (contract §1.6): use it with the local
 * runner or a fixed Tasker; reconciliation needs `rest` (no task uuid comes back here).
 */
export class QueueTransport implements WorkflowTransport {
  readonly mode = 'queue' as const;
  readonly events: MessageBus;
  readonly #requests: MessageBus;
  readonly #reader: ((taskUuid: string) => Promise<TaskResponse | null>) | null;

  constructor(options: { requests: MessageBus; events: MessageBus; getTask?: (taskUuid: string) => Promise<TaskResponse | null> }) {
    this.#requests = options.requests;
    this.events = options.events;
    this.#reader = options.getTask ?? null;
  }

  async submit(request: TaskRequest): Promise<SubmitOutcome> {
    try {
      await this.#requests.publish(TASK_REQUESTS_QUEUE, taskRequestMessage(request, new Date()));
    } catch (error) {
      throw new SubmitNotConfirmed(`broker did not confirm: ${(error as Error).message}`);
    }
    return { kind: 'queued' };
  }

  getTask(taskUuid: string): Promise<TaskResponse | null> {
    return this.#reader ? this.#reader(taskUuid) : Promise.resolve(null);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
