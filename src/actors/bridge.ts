import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Counter, Registry } from 'prom-client';
import { z } from 'zod';
import { isStorytellerError, StorytellerError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { setDeferredStatus } from '../persistence/checkpoints.ts';
import type { Database, Queryable } from '../persistence/database.ts';
import { deferredEffectSchema } from '../domain/propositions.ts';
import type { Delivery } from '../workflows/bus.ts';
import { domainEventSchema, domainEventsQueue, FAILED_TASK_STATES, type DomainEvent, type TaskTemplate } from '../workflows/contract.ts';
import { betweenSessionsTaskRequest } from '../workflows/between-sessions.ts';
import { sceneBoundaryContext, sceneExitTaskRequest } from '../workflows/task-request.ts';
import { SubmitNotConfirmed, type WorkflowTransport } from '../workflows/transport.ts';

/**
 * The bridge (design card: "a bridge actor carries RabbitMQ traffic to and from Tasker
 * Core"), one per engine process, behind the WorkflowTransport port:
 *  - relay: unpublished outbox rows → Tasker TaskRequests; a row is marked published only
 *    after the submission was confirmed (REST 200/409, broker confirm). Rows are leased with
 *    `FOR UPDATE SKIP LOCKED`, so engine instances share the work and a crashed relay's
 *    rows are taken over when the lease ends (a re-submission is a 409 = confirmed).
 *  - completions: `<namespace>_domain_events`, manual ack after the result is applied in a
 *    transaction; correlated on the task context's workflow key (never metadata.correlation_id);
 *    malformed or foreign messages are dead-lettered, logged and counted.
 *  - reconciliation: pending checkpoints whose workflow has not reported are read back with
 *    GET /v1/tasks/{uuid} (completions are fire-and-forget in Tasker and can be lost).
 */

export interface SessionSink {
  /** The running session, if this engine has it loaded. */
  get(sessionId: string): { deferredCompleted(result: unknown): void } | undefined;
}

export interface BridgeOptions {
  db: Database;
  transport: WorkflowTransport;
  template: TaskTemplate;
  /** The between-sessions template: the relay also submits `between_sessions` outbox rows. */
  betweenTemplate?: TaskTemplate;
  sessions?: SessionSink;
  logger?: Logger;
  registry?: Registry;
  /** Relay poll interval when nothing woke it (ms). Default 1000. */
  pollMs?: number;
  /** Relay backoff after an unconfirmed submission: base doubling to max (ms). */
  backoff?: { baseMs: number; maxMs: number };
  /** A claimed row is re-offered after this long if its relay died (ms). Default 30 s. */
  leaseMs?: number;
  /** A published workflow that has not reported for this long is reconciled (ms). Default 60 s. */
  reconcileAfterMs?: number;
  batchSize?: number;
  /** Submissions in flight at once within a pass. Default 16. */
  concurrency?: number;
}

export interface BridgeMetrics {
  registry: Registry;
  submitted: Counter<'mode' | 'outcome'>;
  submitFailures: Counter<'mode'>;
  completions: Counter<'outcome'>;
  deadLettered: Counter<'reason'>;
  reconciled: Counter<'status'>;
}

export type BridgeEvent =
  | { type: 'deferred.applied'; sessionId: string; checkpointId: string; workflowKey: string; status: 'complete' | 'failed'; result: unknown; via: 'event' | 'reconcile' }
  | { type: 'relayed'; workflowKey: string; outcome: string }
  | { type: 'between.applied'; runKey: string; status: 'complete' | 'failed' }
  | { type: 'deadLettered'; reason: string };

const deferredResultSchema = z.object({
  session_id: z.string().uuid(),
  checkpoint_id: z.string().uuid(),
  workflow_key: z.string().min(1),
  effects: z.array(deferredEffectSchema),
});

const outboxRow = z.object({ id: z.coerce.number(), kind: z.string(), idempotency_key: z.string(), payload: z.unknown(), correlation_id: z.string().nullable(), attempts: z.coerce.number() });

export class Bridge extends EventEmitter<{ event: [BridgeEvent] }> {
  readonly metrics: BridgeMetrics;
  readonly #o: BridgeOptions;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #cancel: (() => Promise<void>) | null = null;
  #outageMs = 0;
  #lastReconcile = Date.now();

  constructor(options: BridgeOptions) {
    super();
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    const registry = options.registry ?? new Registry();
    this.metrics = {
      registry,
      submitted: new Counter({ name: 'storyteller_workflow_submitted_total', help: 'Outbox rows confirmed as submitted', labelNames: ['mode', 'outcome'], registers: [registry] }),
      submitFailures: new Counter({ name: 'storyteller_workflow_submit_failures_total', help: 'Submissions not confirmed (outage, 503)', labelNames: ['mode'], registers: [registry] }),
      completions: new Counter({ name: 'storyteller_workflow_completions_total', help: 'Workflow results applied to checkpoints', labelNames: ['outcome'], registers: [registry] }),
      deadLettered: new Counter({ name: 'storyteller_workflow_dead_lettered_total', help: 'Completion-queue messages sent to the DLQ', labelNames: ['reason'], registers: [registry] }),
      reconciled: new Counter({ name: 'storyteller_workflow_reconciled_total', help: 'Checkpoints reconciled through GET /v1/tasks/{uuid}', labelNames: ['status'], registers: [registry] }),
    };
  }

  get queue(): string {
    return domainEventsQueue(this.#o.template.namespace_name);
  }

  /** Declares and consumes the completion queue, reconciles every pending checkpoint (resume, seed T6), starts the relay. */
  async start(): Promise<void> {
    const events = this.#o.transport.events;
    await events.ensureQueue(this.queue).catch((err: unknown) => this.#logger.warn({ err }, 'completion queue not declared yet (broker down?)'));
    this.#cancel = await events.consume(this.queue, (d) => this.#onDelivery(d));
    await this.reconcile(0).catch((err: unknown) => this.#logger.warn({ err }, 'reconciliation on start failed'));
    this.wake();
  }

  /** The scene-exit hook (`onSceneExitCommitted`): relay now instead of at the next poll. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.relayOnce().catch((err: unknown) => this.#logger.warn({ err }, 'outbox relay pass failed'));
      } while (this.#again && !this.#stopped && this.#outageMs === 0);
      // Completions are fire-and-forget in Tasker: look for silent workflows now and then.
      const every = this.#o.reconcileAfterMs ?? 60_000;
      if (Date.now() - this.#lastReconcile >= every) {
        this.#lastReconcile = Date.now();
        await this.reconcile(every).catch((err: unknown) => this.#logger.warn({ err }, 'reconciliation pass failed'));
      }
    })().finally(() => {
      this.#running = null;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = this.#outageMs > 0 ? this.#outageMs : this.#o.pollMs ?? 1_000;
    this.#timer = setTimeout(() => this.wake(), delay);
    this.#timer.unref();
  }

  /** Resolves when no relay pass is running (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** One relay pass: leases a batch, submits each, marks the confirmed ones published. Returns how many were confirmed. */
  async relayOnce(): Promise<number> {
    const db = this.#o.db;
    const lease = this.#o.leaseMs ?? 30_000;
    const { rows } = await db.query(
      `UPDATE outbox SET next_attempt_at = NOW() + ($2::int * INTERVAL '1 millisecond'), correlation_id = COALESCE(correlation_id, gen_random_uuid())
        WHERE id IN (SELECT id FROM outbox WHERE published_at IS NULL AND kind = ANY($3::text[]) AND (next_attempt_at IS NULL OR next_attempt_at <= NOW())
                     ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, kind, idempotency_key, payload, correlation_id, attempts`,
      [this.#o.batchSize ?? 64, lease, this.#o.betweenTemplate ? ['scene_exit', 'between_sessions'] : ['scene_exit']],
    );
    const mode = this.#o.transport.mode;
    const leased = rows.map((r) => outboxRow.parse(r)).sort((a, b) => a.id - b.id);
    const concurrency = this.#o.concurrency ?? 16;
    type Confirmed = { id: number; taskUuid: string | null; checkpointId: string | null; key: string; outcome: string };
    const ok: Confirmed[] = [];
    let outage: SubmitNotConfirmed | null = null;
    // Submissions in flight `concurrency` at a time (each confirmed on its own); the confirmed
    // rows of the pass are marked published in one transaction. A crash in between re-submits
    // them later, which Tasker answers with 409 (REST) or ignores (queue): still exactly once.
    for (let i = 0; i < leased.length && !outage; i += concurrency) {
      const settled = await Promise.all(leased.slice(i, i + concurrency).map((raw) => this.#submitOne(raw)));
      for (const x of settled) {
        if (x && 'outage' in x) outage ??= x.outage;
        else if (x) ok.push(x);
      }
    }
    if (ok.length > 0) {
      await db.transaction(async (tx) => {
        await tx.query(
          `UPDATE outbox o SET published_at = NOW(), task_uuid = COALESCE(v.task_uuid::uuid, o.task_uuid), attempts = o.attempts + 1, last_error = NULL, next_attempt_at = NULL
             FROM unnest($1::bigint[], $2::text[]) AS v(id, task_uuid) WHERE o.id = v.id`,
          [ok.map((x) => x.id), ok.map((x) => x.taskUuid)],
        );
        const checkpoints = ok.map((x) => x.checkpointId).filter((c): c is string => c !== null);
        if (checkpoints.length > 0) await tx.query(`UPDATE checkpoints SET deferred_status = 'processing' WHERE id = ANY($1::uuid[]) AND deferred_status = 'pending'`, [checkpoints]);
      });
      for (const x of ok) {
        this.metrics.submitted.inc({ mode, outcome: x.outcome });
        this.emit('event', { type: 'relayed', workflowKey: x.key, outcome: x.outcome });
      }
    }
    if (outage) {
      // An outage: back off (Retry-After wins); the unconfirmed rows stay for later.
      const base = this.#o.backoff?.baseMs ?? 500;
      const max = this.#o.backoff?.maxMs ?? 30_000;
      this.#outageMs = outage.retryAfterMs ?? Math.min(max, this.#outageMs === 0 ? base : this.#outageMs * 2);
      this.metrics.submitFailures.inc({ mode });
      this.#logger.warn({ code: 'WORKFLOW_DISPATCH_FAILED', retryInMs: this.#outageMs, reason: outage.message }, 'workflow submission not confirmed; backing off');
      const done = new Set(ok.map((x) => x.id));
      await db.query(`UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = NULL WHERE id = ANY($1::bigint[]) AND published_at IS NULL`, [
        leased.filter((r) => !done.has(r.id)).map((r) => r.id), outage.message.slice(0, 500),
      ]);
    } else if (leased.length > 0) {
      this.#outageMs = 0;
    }
    return ok.length;
  }

  /** Submits one leased row: its confirmation, an outage, or null (refused permanently, recorded). */
  async #submitOne(raw: z.infer<typeof outboxRow>): Promise<{ id: number; taskUuid: string | null; checkpointId: string | null; key: string; outcome: string } | { outage: SubmitNotConfirmed } | null> {
    let request;
    try {
      const row = { idempotencyKey: raw.idempotency_key, payload: raw.payload };
      const correlation = raw.correlation_id ?? randomUUID();
      request = raw.kind === 'between_sessions' && this.#o.betweenTemplate ? betweenSessionsTaskRequest(this.#o.betweenTemplate, row, correlation) : sceneExitTaskRequest(this.#o.template, row, correlation);
    } catch (error) {
      await this.#refuse(raw.id, error);
      return null;
    }
    try {
      const outcome = await this.#o.transport.submit(request);
      return { id: raw.id, taskUuid: outcome.kind === 'created' ? outcome.taskUuid : null, checkpointId: typeof request.context.checkpoint_id === 'string' ? request.context.checkpoint_id : null, key: raw.idempotency_key, outcome: outcome.kind };
    } catch (error) {
      if (error instanceof SubmitNotConfirmed) return { outage: error };
      await this.#refuse(raw.id, error);
      return null;
    }
  }

  /** A permanent refusal (400/404, an invalid payload): kept unpublished with its error; retried only slowly. */
  async #refuse(id: number, error: unknown): Promise<void> {
    const code = isStorytellerError(error) ? error.code : 'INTERNAL';
    this.#logger.error({ code, outboxId: id, err: error }, 'workflow submission refused');
    await this.#o.db.query(`UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = NOW() + INTERVAL '10 minutes' WHERE id = $1`, [
      id, `${code}: ${(error as Error).message ?? String(error)}`.slice(0, 500),
    ]);
  }

  async #onDelivery(d: Delivery): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(d.body.toString('utf8'));
    } catch {
      return this.#deadLetter(d, 'not_json');
    }
    const parsed = domainEventSchema.safeParse(body);
    if (!parsed.success) return this.#deadLetter(d, 'schema', parsed.error.issues[0]?.message);
    const e = parsed.data;
    const between = this.#o.betweenTemplate;
    if (between && e.metadata.namespace === between.namespace_name && e.payload.task_sequence_step.task.task_name === between.name) return this.#onBetween(d, e);
    const ctx = sceneBoundaryContext.safeParse(e.payload.task_sequence_step.task.task.context);
    if (e.metadata.namespace !== this.#o.template.namespace_name || e.payload.task_sequence_step.task.task_name !== this.#o.template.name || !ctx.success) {
      return this.#deadLetter(d, 'foreign', e.event_name);
    }
    try {
      if (e.event_name === 'scene_boundary.completed') {
        const result = deferredResultSchema.safeParse(e.payload.payload);
        if (!result.success) return this.#deadLetter(d, 'schema', 'scene_boundary.completed payload');
        await this.#apply(ctx.data.workflow_key, ctx.data.session_id, ctx.data.checkpoint_id, e.metadata.task_uuid, 'complete', result.data, 'event');
      } else if (e.event_name === 'scene_boundary.step_failed') {
        const meta = e.payload.execution_result.metadata;
        const ws = e.payload.task_sequence_step.workflow_step;
        // §2.2: terminal when not retryable or the attempts are used up.
        if (!meta.retryable || ws.attempts >= ws.max_attempts) {
          const failure = { step: e.metadata.step_name, error: e.payload.execution_result.error, attempts: ws.attempts };
          await this.#apply(ctx.data.workflow_key, ctx.data.session_id, ctx.data.checkpoint_id, e.metadata.task_uuid, 'failed', failure, 'event');
        } else {
          this.#logger.info({ step: e.metadata.step_name, attempts: ws.attempts }, 'workflow step attempt failed; Tasker retries');
        }
      } else {
        return this.#deadLetter(d, 'foreign', e.event_name);
      }
      d.ack();
    } catch (error) {
      // A result naming a checkpoint we do not have can never apply: dead-letter it rather
      // than redeliver it forever; anything else (the database away) is retried.
      if (isStorytellerError(error) && ['CHECKPOINT_NOT_FOUND', 'CHECKPOINT_INVALID', 'WORKFLOW_MESSAGE_INVALID'].includes(error.code)) return this.#deadLetter(d, 'unknown_workflow', error.message);
      this.#logger.warn({ err: error }, 'applying a workflow completion failed; requeued');
      d.requeue();
    }
  }

  /** A between-sessions run's completion or terminal failure: recorded on its outbox row. */
  async #onBetween(d: Delivery, e: DomainEvent): Promise<void> {
    const runKey = z.object({ run_key: z.string() }).safeParse(e.payload.task_sequence_step.task.task.context);
    if (!runKey.success) return this.#deadLetter(d, 'schema', 'between_sessions context');
    const ws = e.payload.task_sequence_step.workflow_step;
    const terminalFailure = e.event_name === 'between_sessions.step_failed' && (!e.payload.execution_result.metadata.retryable || ws.attempts >= ws.max_attempts);
    if (e.event_name !== 'between_sessions.completed' && !terminalFailure) {
      if (e.event_name === 'between_sessions.step_failed') return d.ack();
      return this.#deadLetter(d, 'foreign', e.event_name);
    }
    const outcome = terminalFailure ? 'failed' : 'complete';
    try {
      const { rows } = await this.#o.db.query(`UPDATE outbox SET completed_at = NOW(), outcome = $2, task_uuid = COALESCE(task_uuid, $3) WHERE idempotency_key = $1 AND completed_at IS NULL RETURNING id`, [
        runKey.data.run_key, outcome, e.metadata.task_uuid,
      ]);
      if (rows.length > 0) {
        this.metrics.completions.inc({ outcome });
        this.emit('event', { type: 'between.applied', runKey: runKey.data.run_key, status: outcome });
      }
      d.ack();
    } catch (error) {
      this.#logger.warn({ err: error }, 'recording a between-sessions completion failed; requeued');
      d.requeue();
    }
  }

  #deadLetter(d: Delivery, reason: string, detail?: string): void {
    this.#logger.warn({ code: 'WORKFLOW_MESSAGE_INVALID', reason, detail }, 'completion-queue message dead-lettered');
    this.metrics.deadLettered.inc({ reason });
    d.deadLetter();
    this.emit('event', { type: 'deadLettered', reason });
  }

  /**
   * Applies a workflow outcome once (the outbox row's `completed_at` is the guard), in one
   * transaction; then hands a completed result to the session if this engine has it loaded.
   */
  async #apply(workflowKey: string, sessionId: string, checkpointId: string, taskUuid: string | null, status: 'complete' | 'failed', result: unknown, via: 'event' | 'reconcile'): Promise<boolean> {
    const applied = await this.#o.db.transaction(async (tx: Queryable) => {
      const { rows } = await tx.query(
        `UPDATE outbox SET completed_at = NOW(), outcome = $2, task_uuid = COALESCE(task_uuid, $3), published_at = COALESCE(published_at, NOW())
          WHERE idempotency_key = $1 AND completed_at IS NULL RETURNING id`,
        [workflowKey, status, taskUuid],
      );
      if (rows.length === 0) {
        const known = await tx.query('SELECT 1 FROM outbox WHERE idempotency_key = $1', [workflowKey]);
        if (known.rows.length === 0) throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `no workflow ${workflowKey} here`);
        return false; // applied already: a redelivery or a second event
      }
      if (status === 'complete') await setDeferredStatus(tx, checkpointId, 'complete', result);
      else await setDeferredStatus(tx, checkpointId, 'failed', { failure: result });
      return true;
    });
    if (!applied) return false;
    this.metrics.completions.inc({ outcome: status });
    if (status === 'failed') this.#logger.error({ code: 'WORKFLOW_FAILED', sessionId, checkpointId, workflowKey, failure: result }, 'deferred scene-boundary workflow failed; play continues on pre-deferred state');
    if (status === 'complete') this.#o.sessions?.get(sessionId)?.deferredCompleted(result);
    this.emit('event', { type: 'deferred.applied', sessionId, checkpointId, workflowKey, status, result, via });
    return true;
  }

  /**
   * Reconciles published workflows that have not reported for `olderThanMs` (0: all of them,
   * as on resume) through GET /v1/tasks/{uuid}. Returns how many were settled.
   */
  async reconcile(olderThanMs: number = this.#o.reconcileAfterMs ?? 60_000): Promise<number> {
    const { rows } = await this.#o.db.query<{ idempotency_key: string; task_uuid: string | null; payload: { sessionId: string; checkpointId: string } }>(
      // A queue submission learns its task_uuid only from the completion event; when that event was
      // lost (the in-process bus dies with its process), the local runner's own row names the task.
      `SELECT * FROM (SELECT o.id, o.idempotency_key, o.payload,
              COALESCE(o.task_uuid, (SELECT t.task_uuid FROM workflow_tasks t WHERE t.request->>'idempotency_key' = o.idempotency_key LIMIT 1)) AS task_uuid
         FROM outbox o
        WHERE o.kind = 'scene_exit' AND o.published_at IS NOT NULL AND o.completed_at IS NULL AND o.published_at <= NOW() - ($1::int * INTERVAL '1 millisecond')) r
        WHERE r.task_uuid IS NOT NULL ORDER BY r.id`,
      [olderThanMs],
    );
    let settled = 0;
    for (const r of rows) {
      const task = await this.#o.transport.getTask(r.task_uuid as string);
      if (!task) continue;
      this.metrics.reconciled.inc({ status: task.status });
      if (task.status === 'complete') {
        // The result itself lives on the checkpoint (the last step wrote it); the event was lost.
        const { rows: cp } = await this.#o.db.query<{ deferred_result: unknown }>('SELECT deferred_result FROM checkpoints WHERE id = $1', [r.payload.checkpointId]);
        if (await this.#apply(r.idempotency_key, r.payload.sessionId, r.payload.checkpointId, task.task_uuid, 'complete', cp[0]?.deferred_result ?? null, 'reconcile')) settled++;
      } else if (FAILED_TASK_STATES.has(task.status)) {
        const failed = task.steps.filter((s) => s.current_state === 'error').map((s) => s.name);
        if (await this.#apply(r.idempotency_key, r.payload.sessionId, r.payload.checkpointId, task.task_uuid, 'failed', { taskStatus: task.status, failedSteps: failed }, 'reconcile')) settled++;
      }
    }
    return settled;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#cancel?.();
    await this.idle();
  }
}

export type { DomainEvent };
