import type { Registry } from 'prom-client';
import { Bridge, type SessionSink } from '../actors/bridge.ts';
import { registerOutboxMetrics } from './outbox-metrics.ts';
import type { Config } from '../config.ts';
import { StorytellerError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Database } from '../persistence/database.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { AmqpBus, InProcessBus, type MessageBus } from './bus.ts';
import { LocalRunner, type BackoffPolicy } from './local-runner.ts';
import { SCENE_BOUNDARY_HANDLERS } from './steps/index.ts';
import { BetweenSessionsSchedule } from './between-sessions.ts';
import { BETWEEN_SESSIONS_HANDLERS } from './steps/between-sessions.ts';
import { BETWEEN_SESSIONS_TEMPLATE_PATH, loadTemplate } from './template.ts';
import { QueueTransport, RestTransport, type WorkflowTransport } from './transport.ts';

/**
 * The one place that chooses the workflow transport (STORYTELLER_WORKFLOW_TRANSPORT):
 *  - `in-process` (default without STORYTELLER_TASKER_URL): the local runner inside this
 *    process, task requests and domain events on an in-process bus — the embedded default;
 *  - `rest`: POST /v1/tasks to STORYTELLER_TASKER_URL (Tasker Core or `storyteller tasker-local`),
 *    completions from RabbitMQ (AMQP_URL);
 *  - `queue`: TaskRequestMessages on RabbitMQ's `orchestration_task_requests` (local runner only
 *    at Tasker c8733f9, contract §1.6), completions from RabbitMQ; reconciliation through
 *    STORYTELLER_TASKER_URL when set.
 */
export interface OpenedWorkflows {
  bridge: Bridge;
  transport: WorkflowTransport;
  /** The in-process runner (in-process mode only). */
  runner: LocalRunner | null;
  schedule: BetweenSessionsSchedule;
  close(): Promise<void>;
}

export interface OpenWorkflowsOptions {
  config: Pick<Config, 'workflows' | 'amqpUrl'>;
  db: Database;
  graph: GraphStore | null;
  logger: Logger;
  sessions?: SessionSink;
  /** The /metrics registry: the bridge's counters and the outbox backlog gauges (none when absent). */
  registry?: Registry;
  /** Test seams. */
  queuePrefix?: string;
  backoff?: BackoffPolicy;
  pollMs?: number;
}

export async function openWorkflows(o: OpenWorkflowsOptions): Promise<OpenedWorkflows> {
  const loaded = loadTemplate();
  const template = loaded.template;
  const between = loadTemplate(BETWEEN_SESSIONS_TEMPLATE_PATH);
  const { transport: mode, taskerUrl, taskerToken, taskerApiKey } = o.config.workflows;
  const auth = { token: taskerToken, apiKey: taskerApiKey };
  let runner: LocalRunner | null = null;
  let bus: MessageBus;
  let transport: WorkflowTransport;
  if (mode === 'in-process') {
    bus = new InProcessBus();
    runner = new LocalRunner({ db: o.db, staleAfterMs: o.config.workflows.localStaleAfterMs ?? 60_000, template: loaded, more: [between], handlers: [...SCENE_BOUNDARY_HANDLERS, ...BETWEEN_SESSIONS_HANDLERS], deps: { db: o.db, graph: o.graph }, bus, logger: o.logger, ...(o.backoff ? { backoff: o.backoff } : {}) });
    await runner.start();
    const r = runner;
    transport = new QueueTransport({ requests: bus, events: bus, getTask: (id) => r.getTask(id) });
  } else {
    if (!o.config.amqpUrl) throw new StorytellerError('CONFIG_INVALID', `STORYTELLER_WORKFLOW_TRANSPORT=${mode} needs AMQP_URL (completions arrive on RabbitMQ)`, { details: { variables: ['AMQP_URL'] } });
    bus = new AmqpBus({ url: o.config.amqpUrl, logger: o.logger, ...(o.queuePrefix ? { queuePrefix: o.queuePrefix } : {}) });
    if (mode === 'rest') {
      if (!taskerUrl) throw new StorytellerError('CONFIG_INVALID', 'STORYTELLER_WORKFLOW_TRANSPORT=rest needs STORYTELLER_TASKER_URL', { details: { variables: ['STORYTELLER_TASKER_URL'] } });
      transport = new RestTransport({ taskerUrl, events: bus, ...auth });
    } else {
      const rest = taskerUrl ? new RestTransport({ taskerUrl, events: bus, ...auth }) : null;
      transport = new QueueTransport({ requests: bus, events: bus, ...(rest ? { getTask: (id: string) => rest.getTask(id) } : {}) });
    }
  }
  const bridge = new Bridge({ db: o.db, transport, template, betweenTemplate: between.template, logger: o.logger, ...(o.sessions ? { sessions: o.sessions } : {}), ...(o.pollMs ? { pollMs: o.pollMs } : {}), ...(o.registry ? { registry: o.registry } : {}), reconcileAfterMs: o.config.workflows.reconcileAfterMs ?? 60_000 });
  if (o.registry) registerOutboxMetrics(o.registry, o.db, o.logger);
  await bridge.start();
  // Between sessions: a durable schedule; any instance may tick, exactly one fires each run.
  const schedule = new BetweenSessionsSchedule({ db: o.db, intervalMs: o.config.workflows.betweenSessionsMs });
  await schedule.ensure();
  const ticker = setInterval(() => {
    void schedule.tick().then((fired) => fired && bridge.wake()).catch((err: unknown) => o.logger.warn({ err }, 'between-sessions schedule tick failed'));
  }, Math.min(o.config.workflows.betweenSessionsMs, 60_000));
  ticker.unref();
  return {
    bridge,
    transport,
    runner,
    schedule,
    async close() {
      clearInterval(ticker);
      await bridge.stop();
      await runner?.stop();
      await bus.close();
    },
  };
}
