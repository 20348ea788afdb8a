import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Counter, Histogram, Registry } from 'prom-client';
import { createActor, fromCallback, fromPromise, type InspectionEvent, type Observer } from 'xstate';
import { z } from 'zod';
import type { Clock } from '../engine/clock.ts';
import { inspectorFromEnvironment } from '../engine/inspector.ts';
import { isStorytellerError, StorytellerError } from '../errors.ts';
import { moduleLogger, silentLogger, type Logger } from '../logger.ts';
import { setDeferredStatus } from '../persistence/checkpoints.ts';
import type { Database, Queryable } from '../persistence/database.ts';
import { deferredEffectSchema } from '../domain/propositions.ts';
import type { Delivery } from '../workflows/bus.ts';
import { domainEventSchema, domainEventsQueue, FAILED_TASK_STATES, type DomainEvent, type TaskTemplate } from '../workflows/contract.ts';
import { betweenSessionsTaskRequest } from '../workflows/between-sessions.ts';
import { sceneBoundaryContext, sceneExitTaskRequest } from '../workflows/task-request.ts';
import { SubmitNotConfirmed, type WorkflowTransport } from '../workflows/transport.ts';
import { bridgeMachine, type BridgeActor, type BridgeMachineEvent, type RelayPass } from './bridge-machine.ts';

/**
 * The bridge (design card: "a bridge actor carries RabbitMQ traffic to and from Tasker
 * Core"), one per engine process, behind the WorkflowTransport port. Its lifecycle is the
 * XState actor `bridge.actor` (src/actors/bridge-machine.ts: connecting → resuming →
 * running {relay: relaying/idle/backingOff/degraded, reconcile} → stopped), inspected like
 * the session actors; this class provides the machine's child actors and keeps the API:
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
  /** Outages in a row before the relay state is `degraded`. Default 3. */
  degradedAfter?: number;
  /** The machine's scheduler clock (a SimulatedClock in tests). Default: real timers, unref'd. */
  clock?: Clock;
  /** Stately inspector: undefined reads STORYTELLER_INSPECT / --inspect (as the engine does); null: none. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | null;
}

/** Real timers that never keep the process alive on their own. */
const unrefClock: Clock = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

export interface BridgeMetrics {
  registry: Registry;
  submitted: Counter<'mode' | 'outcome'>;
  submitFailures: Counter<'mode'>;
  completions: Counter<'outcome'>;
  deadLettered: Counter<'reason'>;
  reconciled: Counter<'status'>;
  /** Scene exit committed (outbox row created) → its workflow outcome applied (s). */
  completionLag: Histogram<'outcome'>;
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
  /** The bridge actor (its lifecycle); created here, started by `start()`. */
  readonly actor: BridgeActor;
  readonly #o: BridgeOptions;
  readonly #logger: Logger;
  /** Relay and reconciliation passes in flight (idle(), stop()). */
  readonly #inFlight = new Set<Promise<unknown>>();
  #consumerClosed: Promise<void> = Promise.resolve();

  constructor(options: BridgeOptions) {
    super();
    this.#o = options;
    this.#logger = moduleLogger(options.logger ?? silentLogger, 'workflows');
    const registry = options.registry ?? new Registry();
    this.metrics = {
      registry,
      submitted: new Counter({ name: 'storyteller_workflow_submitted_total', help: 'Outbox rows confirmed as submitted', labelNames: ['mode', 'outcome'], registers: [registry] }),
      submitFailures: new Counter({ name: 'storyteller_workflow_submit_failures_total', help: 'Submissions not confirmed (outage, 503)', labelNames: ['mode'], registers: [registry] }),
      completions: new Counter({ name: 'storyteller_workflow_completions_total', help: 'Workflow results applied to checkpoints', labelNames: ['outcome'], registers: [registry] }),
      deadLettered: new Counter({ name: 'storyteller_workflow_dead_lettered_total', help: 'Completion-queue messages sent to the DLQ', labelNames: ['reason'], registers: [registry] }),
      reconciled: new Counter({ name: 'storyteller_workflow_reconciled_total', help: 'Checkpoints reconciled through GET /v1/tasks/{uuid}', labelNames: ['status'], registers: [registry] }),
      completionLag: new Histogram({
        name: 'storyteller_workflow_completion_lag_seconds',
        help: 'Scene exit committed (outbox row) → workflow outcome applied to the checkpoint (s)',
        labelNames: ['outcome'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
        registers: [registry],
      }),
    };
    const machine = bridgeMachine.provide({
      actors: {
        consumer: fromCallback<BridgeMachineEvent>(({ sendBack }) => this.#consume(sendBack)),
        relay: fromPromise<RelayPass>(() => this.#track(this.#relayPass())),
        reconciler: fromPromise<number, { olderThanMs: number }>(({ input }) => this.#track(this.reconcile(input.olderThanMs))),
      },
      actions: {
        reportOutage: ({ context }) => this.#logger.warn({ code: 'WORKFLOW_DISPATCH_FAILED', retryInMs: context.outageMs, failures: context.failures, reason: context.lastError }, 'workflow submission not confirmed; backing off'),
        reportDegraded: ({ context }) => {
          if (context.failures === context.degradedAfter) this.#logger.error({ code: 'WORKFLOW_DISPATCH_FAILED', failures: context.failures, reason: context.lastError }, 'workflow relay degraded: submissions keep failing; still retrying');
        },
        reportRecovered: ({ context }) => {
          if (context.failures > 0) this.#logger.info({ after: context.failures }, 'workflow relay recovered');
        },
        reportError: (_, params: { what: string; error: unknown }) => this.#logger.warn({ err: params.error }, `${params.what} failed`),
      },
    });
    const inspect = options.inspect === undefined ? inspectorFromEnvironment()?.inspect : options.inspect;
    this.actor = createActor(machine, {
      id: 'bridge',
      input: {
        pollMs: options.pollMs ?? 1_000,
        reconcileAfterMs: options.reconcileAfterMs ?? 60_000,
        backoff: { baseMs: options.backoff?.baseMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 },
        batchSize: options.batchSize ?? 64,
        degradedAfter: options.degradedAfter ?? 3,
      },
      clock: options.clock ?? unrefClock,
      ...(inspect ? { inspect } : {}),
    });
  }

  get queue(): string {
    return domainEventsQueue(this.#o.template.namespace_name);
  }

  /**
   * Starts the actor: declares and consumes the completion queue, reconciles every pending
   * checkpoint (resume, seed T6), then relays. Resolves once it is running.
   */
  async start(): Promise<void> {
    this.actor.start();
    await waitForState(this.actor, (s) => s.matches({ active: 'running' }) || s.status !== 'active');
  }

  /** The scene-exit hook (`onSceneExitCommitted`): relay now instead of at the next poll (after the backoff during an outage). */
  wake(): void {
    this.actor.send({ type: 'WAKE' });
  }

  /** Resolves when no relay or reconciliation pass is running (tests). */
  async idle(): Promise<void> {
    for (;;) {
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      // Let the machine take the transition the pass ended with (a WAKE during it relays again).
      await new Promise<void>((r) => setImmediate(r));
      if (this.#inFlight.size === 0) return;
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    void p.then(() => this.#inFlight.delete(p), () => this.#inFlight.delete(p));
    return p;
  }

  /** The consumer child actor: attaches to the completion queue; its cleanup cancels the consumption. */
  #consume(sendBack: (e: BridgeMachineEvent) => void): () => void {
    const events = this.#o.transport.events;
    let stopped = false;
    const cancel = (async () => {
      await events.ensureQueue(this.queue).catch((err: unknown) => this.#logger.warn({ err }, 'completion queue not declared yet (broker down?)'));
      try {
        const c = await events.consume(this.queue, (d) => this.#onDelivery(d));
        if (!stopped) sendBack({ type: 'consumer.ready' });
        return c;
      } catch (error) {
        this.#logger.warn({ err: error }, 'completion consumer not attached; reconciliation still settles workflows');
        if (!stopped) sendBack({ type: 'consumer.failed', message: (error as Error).message ?? String(error) });
        return null;
      }
    })();
    return () => {
      stopped = true;
      this.#consumerClosed = cancel.then((c) => c?.()).catch((err: unknown) => this.#logger.warn({ err }, 'cancelling the completion consumer failed'));
    };
  }

  /** One relay pass (outside the actor: tests and the benchmark drive passes directly). Returns how many were confirmed. */
  async relayOnce(): Promise<number> {
    return (await this.#relayPass()).confirmed;
  }

  /** One relay pass: leases a batch, submits each, marks the confirmed ones published. */
  async #relayPass(): Promise<RelayPass> {
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
      // An outage: the actor backs off (Retry-After wins); the unconfirmed rows stay for later.
      this.metrics.submitFailures.inc({ mode });
      const done = new Set(ok.map((x) => x.id));
      await db.query(`UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = NULL WHERE id = ANY($1::bigint[]) AND published_at IS NULL`, [
        leased.filter((r) => !done.has(r.id)).map((r) => r.id), outage.message.slice(0, 500),
      ]);
    }
    return { leased: leased.length, confirmed: ok.length, outage: outage ? { message: outage.message, retryAfterMs: outage.retryAfterMs } : null };
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
          WHERE idempotency_key = $1 AND completed_at IS NULL RETURNING id, EXTRACT(EPOCH FROM NOW() - created_at)::float8 AS lag_s`,
        [workflowKey, status, taskUuid],
      );
      if (rows.length === 0) {
        const known = await tx.query('SELECT 1 FROM outbox WHERE idempotency_key = $1', [workflowKey]);
        if (known.rows.length === 0) throw new StorytellerError('WORKFLOW_MESSAGE_INVALID', `no workflow ${workflowKey} here`);
        return false; // applied already: a redelivery or a second event
      }
      if (status === 'complete') await setDeferredStatus(tx, checkpointId, 'complete', result);
      else await setDeferredStatus(tx, checkpointId, 'failed', { failure: result });
      return { lagS: z.coerce.number().catch(0).parse((rows[0] as { lag_s?: unknown }).lag_s) };
    });
    if (!applied) return false;
    this.metrics.completions.inc({ outcome: status });
    this.metrics.completionLag.observe({ outcome: status }, Math.max(0, applied.lagS));
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

  /** Stops the actor (its consumer is cancelled) and waits for the passes in flight. */
  async stop(): Promise<void> {
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'STOP' });
    this.actor.stop();
    await this.#consumerClosed;
    await this.idle();
  }
}

/** Resolves when the actor's snapshot satisfies `pred` (no timeout: awaited, never timed). */
function waitForState(actor: BridgeActor, pred: (s: ReturnType<BridgeActor['getSnapshot']>) => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred(actor.getSnapshot())) return resolve();
    const sub = actor.subscribe({
      next: (s) => {
        if (pred(s)) {
          sub.unsubscribe();
          resolve();
        }
      },
      complete: () => resolve(),
      error: () => resolve(),
    });
  });
}

export type { DomainEvent };
