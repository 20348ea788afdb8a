import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isTransientStorageError, withStorageRetry } from '../persistence/storage-retry.ts';
import { StorytellerError } from '../errors.ts';
import { moduleLogger, silentLogger, type Logger } from '../logger.ts';
import type { Database } from '../persistence/database.ts';
import type { MessageBus } from './bus.ts';
import {
  domainEventsQueue,
  stepHandlerResultSchema,
  TASK_REQUESTS_QUEUE,
  taskRequestMessageSchema,
  TERMINAL_TASK_STATES,
  type StepDefinition,
  type StepHandlerResult,
  type StepState,
  type TaskRequest,
  type TaskResponse,
  type TaskState,
} from './contract.ts';
import { buildDomainEvent, firingEvents, uuidv7 } from './domain-event.ts';
import type { StepContext, StepDeps, StepHandler, StepHandlerClass } from './steps/step-handler.ts';
import type { LoadedTemplate } from './template.ts';

/**
 * The local stand-in for Tasker Core (issue 14 §4): development, tests and the embedded
 * default. Not a distributed engine — production points the bridge at Tasker Core — but it
 * keeps Tasker's contract: task and step state in PostgreSQL (a restart resumes after the
 * last completed step), a step claimed by a state transition with `attempts` counted at the
 * claim (a duplicate run is impossible, a crash counts as an attempt), independent steps in
 * parallel, orchestration-side retry with Tasker's backoff, 409 on a duplicate identity,
 * the template's durable domain events on `<namespace>_domain_events`, no submitter replies.
 */

/** Tasker's `[common.backoff]`: base 1 s, ×2 per attempt, capped, ±15 % jitter (§6). */
export interface BackoffPolicy {
  baseMs: number;
  multiplier: number;
  maxMs: number;
  jitter: number;
}
export const TASKER_BACKOFF: BackoffPolicy = { baseMs: 1_000, multiplier: 2, maxMs: 3_600_000, jitter: 0.15 };

/** Delay before the next attempt; a Retry-After value (capped at max) wins. */
export function backoffMs(policy: BackoffPolicy, attempts: number, random: () => number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxMs);
  const raw = Math.min(policy.baseMs * policy.multiplier ** attempts, policy.maxMs);
  return Math.max(0, Math.round(raw * (1 + policy.jitter * (2 * random() - 1))));
}

export interface LocalRunnerOptions {
  db: Database;
  template: LoadedTemplate;
  /** Further templates this runner serves (the between-sessions workflow). */
  more?: readonly LoadedTemplate[];
  handlers: readonly StepHandlerClass[];
  deps: StepDeps;
  /** Task requests in (`orchestration_task_requests`) and domain events out; null: REST/in-process calls only, no events. */
  bus: MessageBus | null;
  workerId?: string;
  backoff?: BackoffPolicy;
  random?: () => number;
  /** A step left `in_progress` longer than this by a dead runner is retried (it counted as an attempt). Default 60 s. */
  staleAfterMs?: number;
  /**
   * Tests only (STORYTELLER_TASKER_LOCAL_HOLD): after claiming `step`, hold it — before its
   * handler runs, or after the handler's effects committed but before the result is recorded —
   * until the process is killed (or stopped: then nothing more is written). `onHold` says so.
   */
  hold?: { step: string; phase: 'before' | 'after'; onHold?: (step: string, phase: 'before' | 'after') => void } | null;
  logger?: Logger;
}

const taskRow = z.object({
  task_uuid: z.string(),
  identity_hash: z.string(),
  namespace: z.string(),
  name: z.string(),
  version: z.string(),
  status: z.string(),
  request: z.record(z.string(), z.unknown()),
  context: z.record(z.string(), z.unknown()),
  correlation_id: z.string(),
  priority: z.coerce.number(),
  created_at: z.coerce.date(),
  updated_at: z.coerce.date(),
  completed_at: z.coerce.date().nullable(),
});
type TaskRow = z.infer<typeof taskRow>;

const stepRow = z.object({
  step_uuid: z.string(),
  task_uuid: z.string(),
  name: z.string(),
  state: z.string(),
  attempts: z.coerce.number(),
  max_attempts: z.coerce.number(),
  retryable: z.boolean(),
  results: z.unknown().nullable(),
  next_retry_at: z.coerce.date().nullable(),
});
type StepRow = z.infer<typeof stepRow>;

export type CreateOutcome = { status: 'created'; task: TaskResponse } | { status: 'duplicate' };

/** Tasker's identity hash (§3): (named task, idempotency_key) or (named task, normalized context). */
export function identityHash(req: TaskRequest): string {
  const named = `${req.namespace}/${req.name}/${req.version}`;
  const basis = req.idempotency_key !== undefined ? `key:${req.idempotency_key}` : `ctx:${stableJson(req.context)}`;
  return createHash('sha256').update(named).update('\u0000').update(basis).digest('hex');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export class LocalRunner {
  readonly workerId: string;
  readonly #o: LocalRunnerOptions;
  readonly #logger: Logger;
  readonly #handlers = new Map<string, StepHandler>();
  /** `<template name>\u0000<step name>` → definition. */
  readonly #defs = new Map<string, StepDefinition>();
  readonly #templates: LoadedTemplate[];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #idleWaiters: Array<() => void> = [];
  #cancelIntake: (() => Promise<void>) | null = null;
  #stopped = false;
  #release: () => void = () => undefined;
  readonly #released = new Promise<void>((r) => (this.#release = r));
  #staleSweep: NodeJS.Timeout | null = null;
  /** Steps this runner has claimed and not finished (the stale sweep leaves them alone). */
  readonly #running = new Set<string>();
  /** Counters for tests and metrics: attempts started per step name. */
  readonly attempts = new Map<string, number>();

  constructor(options: LocalRunnerOptions) {
    this.#o = options;
    this.#logger = moduleLogger(options.logger ?? silentLogger, 'workflows');
    this.workerId = options.workerId ?? `storyteller-local-${randomUUID().slice(0, 8)}`;
    for (const H of options.handlers) this.#handlers.set(H.handlerName, new H(options.deps));
    this.#templates = [options.template, ...(options.more ?? [])];
    for (const t of this.#templates) {
      for (const s of t.template.steps) {
        if (!this.#handlers.has(s.handler.callable)) throw new StorytellerError('WORKFLOW_DISPATCH_FAILED', `no handler registered for ${s.handler.callable}`);
        this.#defs.set(`${t.template.name}\u0000${s.name}`, s);
      }
    }
  }

  get namespace(): string {
    return this.#o.template.template.namespace_name;
  }

  /** Recovers steps a dead runner left in progress, consumes task requests, resumes every open task. */
  async start(): Promise<void> {
    const stale = this.#o.staleAfterMs ?? 60_000;
    await this.#recoverStale(stale);
    // Not only at start: a runner that died while this one was up (another instance, or this
    // one's previous process when both ran briefly) leaves claims that nobody would look at again.
    this.#staleSweep = setInterval(() => {
      void this.#recoverStale(stale)
        .then((tasks) => tasks.forEach((t) => this.#kick(t)))
        .catch((err: unknown) => this.#logger.warn({ err }, 'stale workflow step sweep failed'));
    }, Math.max(1_000, Math.floor(stale / 2)));
    this.#staleSweep.unref();
    if (this.#o.bus) {
      await this.#o.bus.ensureQueue(TASK_REQUESTS_QUEUE);
      await this.#o.bus.ensureQueue(domainEventsQueue(this.namespace));
      this.#cancelIntake = await this.#o.bus.consume(TASK_REQUESTS_QUEUE, async (d) => {
        const parsed = taskRequestMessageSchema.safeParse(safeJson(d.body));
        if (!parsed.success) {
          this.#logger.warn({ code: 'WORKFLOW_MESSAGE_INVALID', issue: parsed.error.issues[0]?.message }, 'task request rejected');
          d.deadLetter();
          return;
        }
        try {
          const outcome = await this.createTask(parsed.data.task_request);
          if (outcome.status === 'duplicate') this.#logger.info({ key: parsed.data.task_request.idempotency_key }, 'duplicate task request ignored');
          d.ack();
        } catch (error) {
          if (error instanceof StorytellerError && error.code === 'WORKFLOW_MESSAGE_INVALID') d.deadLetter();
          else d.requeue();
        }
      });
    }
    const { rows } = await this.#o.db.query<{ task_uuid: string }>(`SELECT task_uuid FROM workflow_tasks WHERE status NOT IN ('complete', 'error', 'cancelled', 'resolved_manually') ORDER BY created_at`);
    for (const r of rows) this.#kick(r.task_uuid);
  }

  /**
   * Creates the task and its steps (one transaction) and starts it.
   * @throws StorytellerError WORKFLOW_MESSAGE_INVALID for an unknown template
   */
  async createTask(req: TaskRequest): Promise<CreateOutcome> {
    const t = this.#templates.map((x) => x.template).find((x) => req.namespace === x.namespace_name && req.name === x.name && req.version === x.version);
    if (!t) {
      throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `template ${req.namespace}/${req.name}/${req.version} is not registered`, { details: { status: 404 } });
    }
    const taskUuid = uuidv7();
    const created = await this.#o.db.transaction(async (tx) => {
      const ins = await tx.query(
        `INSERT INTO workflow_tasks (task_uuid, identity_hash, namespace, name, version, status, request, context, correlation_id, priority)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6::jsonb, $7::jsonb, $8, $9) ON CONFLICT (identity_hash) DO NOTHING RETURNING task_uuid`,
        [taskUuid, identityHash(req), req.namespace, req.name, req.version, JSON.stringify(req), JSON.stringify(req.context), req.correlation_id ?? randomUUID(), req.priority ?? 0],
      );
      if (ins.rows.length === 0) return false;
      for (const s of t.steps) {
        await tx.query(`INSERT INTO workflow_steps (step_uuid, task_uuid, name, state, max_attempts, retryable) VALUES ($1, $2, $3, 'pending', $4, $5)`, [
          uuidv7(), taskUuid, s.name, s.retry.max_attempts, s.retry.retryable,
        ]);
      }
      return true;
    });
    if (!created) return { status: 'duplicate' };
    this.#kick(taskUuid);
    return { status: 'created', task: (await this.getTask(taskUuid)) as TaskResponse };
  }

  async getTask(taskUuid: string): Promise<TaskResponse | null> {
    if (!/^[0-9a-f-]{36}$/i.test(taskUuid)) return null;
    const { task, steps } = await this.#load(taskUuid);
    if (!task) return null;
    const count = (...states: string[]) => steps.filter((s) => states.includes(s.state)).length;
    const ready = steps.filter((s) => this.#isReady(task.name, s, steps)).length;
    const status = task.status as TaskState;
    return {
      task_uuid: task.task_uuid,
      name: task.name,
      namespace: task.namespace,
      version: task.version,
      status,
      created_at: task.created_at.toISOString(),
      updated_at: task.updated_at.toISOString(),
      completed_at: task.completed_at ? task.completed_at.toISOString() : null,
      context: task.context,
      initiator: String(task.request.initiator ?? ''),
      source_system: String(task.request.source_system ?? ''),
      reason: String(task.request.reason ?? ''),
      priority: task.priority,
      tags: Array.isArray(task.request.tags) ? (task.request.tags as string[]) : [],
      correlation_id: task.correlation_id,
      parent_correlation_id: null,
      total_steps: steps.length,
      pending_steps: count('pending', 'waiting_for_retry'),
      in_progress_steps: count('in_progress'),
      completed_steps: count('complete'),
      failed_steps: count('error'),
      ready_steps: ready,
      execution_status: status === 'complete' ? 'all_complete' : count('error') > 0 ? 'blocked_by_failures' : count('in_progress') > 0 ? 'processing' : ready > 0 ? 'has_ready_steps' : 'waiting_for_dependencies',
      steps: steps.map((s) => ({ name: s.name, step_uuid: s.step_uuid, current_state: s.state as StepState, attempts: s.attempts, max_attempts: s.max_attempts, next_retry_at: s.next_retry_at ? s.next_retry_at.toISOString() : null })),
    };
  }

  /**
   * A claim that never finished counted as an attempt (§7): retried now if attempts remain.
   * Steps this runner is running are not touched. Returns the tasks whose steps were freed.
   */
  async #recoverStale(staleMs: number): Promise<string[]> {
    const { rows } = await this.#o.db.query<{ task_uuid: string }>(
      `UPDATE workflow_steps SET state = CASE WHEN retryable AND attempts < max_attempts THEN 'waiting_for_retry' ELSE 'error' END,
              next_retry_at = NOW(), last_error = '{"message":"runner died during the attempt","error_type":"timeout"}'::jsonb, updated_at = NOW()
        WHERE state = 'in_progress' AND last_attempted_at <= NOW() - ($1::int * INTERVAL '1 millisecond') AND NOT (step_uuid = ANY($2::uuid[]))
        RETURNING task_uuid`,
      [staleMs, [...this.#running]],
    );
    return [...new Set(rows.map((r) => r.task_uuid))];
  }

  /** Resolves when nothing runs and nothing is scheduled (tests). */
  whenIdle(): Promise<void> {
    if (this.#inFlight.size === 0 && this.#timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for the steps in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#release();
    if (this.#staleSweep) clearInterval(this.#staleSweep);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#cancelIntake?.();
    await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Dies as a SIGKILLed runner would: takes no more work and writes nothing more — a step in
   * flight keeps its claim (`in_progress`, the attempt counted) for the next runner to find.
   */
  abandon(): void {
    this.#stopped = true;
    if (this.#staleSweep) clearInterval(this.#staleSweep);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    void this.#cancelIntake?.();
  }

  async #load(taskUuid: string): Promise<{ task: TaskRow | null; steps: StepRow[] }> {
    const [t, s] = await Promise.all([
      this.#o.db.query('SELECT * FROM workflow_tasks WHERE task_uuid = $1', [taskUuid]),
      this.#o.db.query('SELECT step_uuid, task_uuid, name, state, attempts, max_attempts, retryable, results, next_retry_at FROM workflow_steps WHERE task_uuid = $1 ORDER BY name', [taskUuid]),
    ]);
    return { task: t.rows[0] ? taskRow.parse(t.rows[0]) : null, steps: s.rows.map((r) => stepRow.parse(r)) };
  }

  #def(taskName: string, step: string): StepDefinition | undefined {
    return this.#defs.get(`${taskName}\u0000${step}`);
  }

  #isReady(taskName: string, s: StepRow, steps: readonly StepRow[], now = Date.now()): boolean {
    const waiting = s.state === 'pending' || (s.state === 'waiting_for_retry' && (s.next_retry_at === null || s.next_retry_at.getTime() <= now));
    if (!waiting) return false;
    const deps = this.#def(taskName, s.name)?.dependencies ?? [];
    return deps.every((d) => steps.find((x) => x.name === d)?.state === 'complete');
  }

  #track<T>(p: Promise<T>): void {
    this.#inFlight.add(p);
    void p.finally(() => {
      this.#inFlight.delete(p);
      this.#settleIdle();
    });
  }

  #settleIdle(): void {
    if (this.#inFlight.size > 0 || this.#timers.size > 0) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #kick(taskUuid: string): void {
    if (this.#stopped) return;
    this.#track(
      this.#advance(taskUuid).catch((err: unknown) => {
        this.#logger.error({ err, taskUuid }, 'workflow task advance failed');
        this.#kickLater(taskUuid, err);
      }),
    );
  }

  /** After a database outage (issue 13): the task is looked at again once the database may be back. */
  #kickLater(taskUuid: string, err: unknown): void {
    if (this.#stopped || !isTransientStorageError(err)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#kick(taskUuid);
      this.#settleIdle();
    }, 1_000);
    this.#timers.add(timer);
  }

  async #advance(taskUuid: string): Promise<void> {
    const { task, steps } = await this.#load(taskUuid);
    if (this.#stopped || !task || TERMINAL_TASK_STATES.has(task.status as TaskState)) return;
    if (steps.every((s) => s.state === 'complete')) {
      await this.#o.db.query(`UPDATE workflow_tasks SET status = 'complete', completed_at = NOW(), updated_at = NOW() WHERE task_uuid = $1 AND status <> 'complete'`, [taskUuid]);
      return;
    }
    if (steps.some((s) => s.state === 'error')) {
      // §6: a permanent step failure blocks the task; finalization makes it `error`.
      await this.#o.db.query(`UPDATE workflow_tasks SET status = 'error', updated_at = NOW() WHERE task_uuid = $1`, [taskUuid]);
      return;
    }
    const now = Date.now();
    const ready = steps.filter((s) => this.#isReady(task.name, s, steps, now));
    if (ready.length > 0) await this.#o.db.query(`UPDATE workflow_tasks SET status = 'steps_in_process', updated_at = NOW() WHERE task_uuid = $1`, [taskUuid]);
    for (const s of ready) {
      this.#track(
        this.#runStep(task, s, steps).catch((err: unknown) => {
          this.#logger.error({ err, taskUuid, step: s.name }, 'workflow step run failed');
          this.#kickLater(taskUuid, err);
        }),
      );
    }
    const retrying = steps.filter((s) => s.state === 'waiting_for_retry' && s.next_retry_at && s.next_retry_at.getTime() > now);
    if (ready.length === 0 && retrying.length > 0) {
      await this.#o.db.query(`UPDATE workflow_tasks SET status = 'waiting_for_retry', updated_at = NOW() WHERE task_uuid = $1`, [taskUuid]);
      const due = Math.min(...retrying.map((s) => (s.next_retry_at as Date).getTime()));
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#kick(taskUuid);
        this.#settleIdle();
      }, Math.max(0, due - now));
      this.#timers.add(timer);
    }
  }

  /** Every transitive dependency of a step (Tasker hands a step its ancestors' results). */
  #ancestors(taskName: string, def: StepDefinition): string[] {
    const out = new Set<string>();
    const walk = (names: readonly string[]) => {
      for (const n of names) {
        if (out.has(n)) continue;
        out.add(n);
        walk(this.#def(taskName, n)?.dependencies ?? []);
      }
    };
    walk(def.dependencies);
    return [...out];
  }

  async #runStep(task: TaskRow, step: StepRow, steps: readonly StepRow[]): Promise<void> {
    const def = this.#def(task.name, step.name) as StepDefinition;
    if (this.#stopped) return;
    // The claim (§7): a state transition with the attempt counted; anything else skips.
    const claim = await this.#o.db.query<{ attempts: number }>(
      `UPDATE workflow_steps SET state = 'in_progress', attempts = attempts + 1, last_attempted_at = NOW(), updated_at = NOW()
        WHERE step_uuid = $1 AND state IN ('pending', 'enqueued', 'waiting_for_retry') RETURNING attempts`,
      [step.step_uuid],
    );
    const attempts = claim.rows[0] ? Number(claim.rows[0].attempts) : null;
    if (attempts === null || this.#stopped) return;
    this.#running.add(step.step_uuid);
    try {
      await this.#holdAt(step.name, 'before');
      if (this.#stopped) return;
      await this.#attempt(task, step, steps, def, attempts);
    } finally {
      this.#running.delete(step.step_uuid);
    }
  }

  async #attempt(task: TaskRow, step: StepRow, steps: readonly StepRow[], def: StepDefinition, attempts: number): Promise<void> {
    this.attempts.set(step.name, (this.attempts.get(step.name) ?? 0) + 1);
    const dependencyResults: StepContext['dependencyResults'] = {};
    for (const d of this.#ancestors(task.name, def)) dependencyResults[d] = { result: steps.find((x) => x.name === d)?.results ?? null, success: true };
    const ctx: StepContext = {
      taskUuid: task.task_uuid,
      stepUuid: step.step_uuid,
      correlationId: task.correlation_id,
      handlerName: def.handler.callable,
      inputData: task.context,
      dependencyResults,
      stepConfig: def.handler.initialization,
      retryCount: attempts,
      maxRetries: step.max_attempts,
    };
    const startedAt = new Date();
    let result: StepHandlerResult;
    try {
      const raw = await (this.#handlers.get(def.handler.callable) as StepHandler).call(ctx);
      const parsed = stepHandlerResultSchema.safeParse(raw);
      result = parsed.success ? parsed.data : { success: false, result: null, errorMessage: 'handler returned a malformed result', errorType: 'handler_error', errorCode: 'WORKFLOW_MESSAGE_INVALID', retryable: false, metadata: {} };
    } catch (error) {
      result = { success: false, result: null, errorMessage: error instanceof Error ? error.message : String(error), errorType: 'handler_error', errorCode: null, retryable: true, metadata: {} };
    }
    await this.#holdAt(step.name, 'after');
    if (this.#stopped) return; // a killed runner writes nothing more; the claim stays and counts
    const completedAt = new Date();
    // The attempt ran: its outcome is written through a database outage (the updates are
    // conditional on the claim, so a retry after an unseen commit changes nothing).
    const write = (sql: string, params: unknown[]) => withStorageRetry(() => this.#o.db.query(sql, params), { stopped: () => this.#stopped });
    if (result.success) {
      await write(`UPDATE workflow_steps SET state = 'complete', results = $2::jsonb, updated_at = NOW() WHERE step_uuid = $1 AND state = 'in_progress'`, [step.step_uuid, JSON.stringify(result.result ?? {})]);
    } else {
      const terminal = !result.retryable || attempts >= step.max_attempts;
      const retryAfter = retryAfterMs(result.metadata);
      const delay = backoffMs(this.#o.backoff ?? TASKER_BACKOFF, attempts, this.#o.random ?? Math.random, retryAfter);
      await write(
        `UPDATE workflow_steps SET state = $2, last_error = $3::jsonb, backoff_request_seconds = $4, next_retry_at = NOW() + ($5::int * INTERVAL '1 millisecond'), updated_at = NOW()
          WHERE step_uuid = $1 AND state = 'in_progress'`,
        [step.step_uuid, terminal ? 'error' : 'waiting_for_retry', JSON.stringify({ message: result.errorMessage, error_type: result.errorType, error_code: result.errorCode, retryable: result.retryable }), delay / 1000, terminal ? 0 : delay],
      );
      this.#logger.warn({ step: step.name, taskUuid: task.task_uuid, attempts, terminal, code: result.errorCode ?? result.errorType }, 'workflow step failed');
    }
    await this.#publish(def, task, { ...step, attempts }, result, dependencyResults, startedAt, completedAt);
    this.#kick(task.task_uuid);
  }

  async #holdAt(step: string, phase: 'before' | 'after'): Promise<void> {
    const h = this.#o.hold;
    if (!h || h.step !== step || h.phase !== phase) return;
    h.onHold?.(step, phase);
    await this.#released;
  }

  async #publish(def: StepDefinition, task: TaskRow, step: StepRow, result: StepHandlerResult, deps: Record<string, unknown>, startedAt: Date, completedAt: Date): Promise<void> {
    const bus = this.#o.bus;
    if (!bus) return;
    for (const decl of firingEvents(def, result.success)) {
      const event = buildDomainEvent(decl, {
        task: { ...task, context: task.context, initiator: String(task.request.initiator ?? ''), source_system: String(task.request.source_system ?? ''), reason: String(task.request.reason ?? '') },
        step: { step_uuid: step.step_uuid, name: step.name, attempts: step.attempts, max_attempts: step.max_attempts, retryable: step.retryable },
        definition: def,
        result,
        dependencyResults: deps,
        startedAt,
        completedAt,
        workerId: this.workerId,
      });
      // Tasker publishes fire-and-forget: a failed publish is only logged (the bridge reconciles).
      await bus.publish(domainEventsQueue(task.namespace), event).catch((err: unknown) => this.#logger.warn({ err, event: decl.name }, 'domain event publish failed'));
    }
  }
}

function retryAfterMs(metadata: Record<string, unknown>): number | undefined {
  const headers = metadata.headers as Record<string, unknown> | undefined;
  const raw = metadata.retry_after_seconds ?? headers?.['Retry-After'] ?? headers?.['retry-after'];
  const seconds = Number(raw);
  return raw !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
