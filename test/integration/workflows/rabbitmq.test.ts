import { randomBytes, randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Bridge, type BridgeEvent } from '../../../src/actors/bridge.ts';
import type { SessionEngine, SessionHandle } from '../../../src/engine/engine.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { AmqpBus, type MessageBus } from '../../../src/workflows/bus.ts';
import type { StepHandlerResult } from '../../../src/workflows/contract.ts';
import { buildDomainEvent } from '../../../src/workflows/domain-event.ts';
import { LocalRunner } from '../../../src/workflows/local-runner.ts';
import { serveRunner, type RunnerHttp } from '../../../src/workflows/runner-http.ts';
import { SCENE_BOUNDARY_HANDLERS } from '../../../src/workflows/steps/index.ts';
import { NarrativeGraphUpdate } from '../../../src/workflows/steps/narrative-graph-update.ts';
import type { StepContext, StepHandlerClass } from '../../../src/workflows/steps/step-handler.ts';
import { WorldStateUpdate } from '../../../src/workflows/steps/world-state-update.ts';
import { loadTemplate } from '../../../src/workflows/template.ts';
import { QueueTransport, RestTransport } from '../../../src/workflows/transport.ts';
import { requireAmqp } from '../../support/services.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { newEngine, next, play, recordingBehaviour, RIPPLE_EXPECTED, seedStory, STORY } from './fixture.ts';

/** Per-session faults for the wrapped handlers (the test decides which session's workflow fails how). */
const faults = { transient: new Set<string>(), permanent: new Set<string>(), hang: new Map<string, Promise<void>>(), dropCompletion: new Set<string>() };
const sessionOf = (ctx: StepContext) => String(ctx.inputData.session_id);

class FlakyWorld extends WorldStateUpdate {
  override async call(ctx: StepContext): Promise<StepHandlerResult> {
    if (faults.transient.has(sessionOf(ctx)) && ctx.retryCount === 1) return this.failure('world service briefly away', 'retryable_error', true, {}, 'WORLD_AWAY');
    return super.call(ctx);
  }
}
class BreakingNarrative extends NarrativeGraphUpdate {
  override async call(ctx: StepContext): Promise<StepHandlerResult> {
    if (faults.permanent.has(sessionOf(ctx))) return this.failure('narrative graph refused the update', 'permanent_error', false, {}, 'GRAPH_QUERY_FAILED');
    const hang = faults.hang.get(sessionOf(ctx));
    if (hang && ctx.retryCount === 1) await hang;
    return super.call(ctx);
  }
}
const HANDLERS: StepHandlerClass[] = SCENE_BOUNDARY_HANDLERS.map((H) => (H.handlerName === WorldStateUpdate.handlerName ? FlakyWorld : H.handlerName === NarrativeGraphUpdate.handlerName ? BreakingNarrative : H));
Object.defineProperty(FlakyWorld, 'handlerName', { value: WorldStateUpdate.handlerName });
Object.defineProperty(BreakingNarrative, 'handlerName', { value: NarrativeGraphUpdate.handlerName });

/** The runner's event publisher, able to lose a completion as Tasker's fire-and-forget publish can. */
function lossyBus(inner: MessageBus): MessageBus {
  return {
    kind: inner.kind,
    ensureQueue: (q) => inner.ensureQueue(q),
    consume: (q, h) => inner.consume(q, h),
    close: () => inner.close(),
    async publish(q, body) {
      const e = body as { event_name?: string; payload?: { task_sequence_step?: { task?: { task?: { context?: { session_id?: string } } } } } };
      const sid = e.payload?.task_sequence_step?.task?.task?.context?.session_id;
      if (e.event_name === 'scene_boundary.completed' && sid && faults.dropCompletion.has(sid)) throw new Error('dropped on purpose');
      return inner.publish(q, body);
    },
  };
}

describe('the pipeline over RabbitMQ: REST submission to the local runner, completions on storyteller_domain_events', () => {
  const amqpUrl = requireAmqp(inject('amqpUrl'));
  const prefix = `${inject('runId')}_${randomBytes(3).toString('hex')}_`;
  const loaded = loadTemplate();
  const FAST = { baseMs: 5, multiplier: 2, maxMs: 40, jitter: 0 };
  let tdb: TestDatabase;
  let graph: GraphStore;
  let runnerBus: AmqpBus;
  let bridgeBus: AmqpBus;
  let runner: LocalRunner;
  let http: RunnerHttp;
  let port: number;
  let bridge: Bridge;
  let engine: SessionEngine;
  const events: BridgeEvent[] = [];

  const startRunner = async (staleAfterMs = 60_000) => {
    runner = new LocalRunner({ db: tdb.db, template: loaded, handlers: HANDLERS, deps: { db: tdb.db, graph }, bus: lossyBus(runnerBus), backoff: FAST, staleAfterMs });
    await runner.start();
    http = await serveRunner(runner, { port });
  };
  const applied = (sessionId: string) => next<BridgeEvent>((fn) => { bridge.on('event', fn); return () => bridge.off('event', fn); }, (e) => e.type === 'deferred.applied' && e.sessionId === sessionId);
  const playScene = async (s: SessionHandle) => {
    for (let i = 1; i <= 3; i++) await play(s, `c-${i}`, `hello ${i}`);
  };
  const checkpoint = async (sessionId: string) =>
    (await tdb.db.query<{ deferred_status: string; deferred_result: unknown }>(`SELECT deferred_status, deferred_result FROM checkpoints WHERE session_id = $1 AND checkpoint_type = 'scene_exit' ORDER BY ledger_ts LIMIT 1`, [sessionId])).rows[0];
  const tasksOf = async (sessionId: string) => (await tdb.db.query<{ status: string }>(`SELECT status FROM workflow_tasks WHERE context->>'session_id' = $1`, [sessionId])).rows;
  const attemptsOf = async (sessionId: string) =>
    Object.fromEntries((await tdb.db.query<{ name: string; attempts: number }>(`SELECT s.name, s.attempts FROM workflow_steps s JOIN workflow_tasks t USING (task_uuid) WHERE t.context->>'session_id' = $1`, [sessionId])).rows.map((r) => [r.name, r.attempts]));
  const tomasToPlayer = async (sessionId: string) => (await graph.relationalSubgraph(sessionId, ['tomas', 'player'])).edges.find((e) => e.from === 'tomas' && e.to === 'player')?.affection;

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    graph = await openGraphStore(tdb.db, { graphStore: 'sql' });
    await seedStory(tdb.db, graph);
    runnerBus = new AmqpBus({ url: amqpUrl, queuePrefix: prefix, reconnectMs: 20 });
    bridgeBus = new AmqpBus({ url: amqpUrl, queuePrefix: prefix, reconnectMs: 20 });
    const probe = await serveRunner({ createTask: async () => ({ status: 'duplicate' }), getTask: async () => null } as unknown as LocalRunner);
    port = Number(new URL(probe.url).port);
    await probe.close();
    await startRunner();
    bridge = new Bridge({ db: tdb.db, transport: new RestTransport({ taskerUrl: http.url, events: bridgeBus }), template: loaded.template, sessions: { get: (id) => engine.get(id) }, backoff: { baseMs: 5, maxMs: 20 }, pollMs: 25 });
    bridge.on('event', (e) => events.push(e));
    await bridge.start();
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, []), () => bridge.wake());
  });
  afterAll(async () => {
    await engine.shutdown();
    await bridge.stop();
    await runner.stop();
    await http.close();
    await runnerBus.close();
    await bridgeBus.close();
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createChannel();
    for (const q of ['orchestration_task_requests', 'storyteller_domain_events']) {
      await ch.deleteQueue(`${prefix}${q}`);
      await ch.deleteQueue(`${prefix}${q}_dlq`);
      await ch.deleteExchange(`${prefix}${q}_dlx`);
    }
    await conn.close();
    await tdb.close();
  });

  it('happy path: exit → POST /v1/tasks → steps → scene_boundary.completed over RabbitMQ → checkpoint complete, effects once', async () => {
    const s = await engine.createSession({ storyId: STORY });
    const done = applied(s.id);
    await playScene(s);
    expect(await done).toMatchObject({ status: 'complete', via: 'event' });
    expect((await checkpoint(s.id))?.deferred_status).toBe('complete');
    await runner.whenIdle(); // the event fires before the runner records the task complete
    expect(await tasksOf(s.id)).toEqual([{ status: 'complete' }]);
    expect(await tomasToPlayer(s.id)).toBeCloseTo(RIPPLE_EXPECTED, 6);
  });

  it('the runner\'s HTTP endpoint down during the exit: play goes on, the outbox drains when it returns, one workflow', async () => {
    await http.close();
    const s = await engine.createSession({ storyId: STORY });
    const failed = next<BridgeEvent>((fn) => { bridge.on('event', fn); return () => bridge.off('event', fn); }, (e) => e.type === 'relayed');
    await playScene(s);
    await play(s, 'c-4', 'still playing'); // the next scene plays without the pipeline
    const pending = await tdb.db.query<{ published_at: Date | null; attempts: number }>('SELECT published_at, attempts FROM outbox WHERE session_id = $1', [s.id]);
    expect(pending.rows[0]?.published_at).toBeNull();
    expect((await bridge.metrics.submitFailures.get()).values[0]?.value ?? 0).toBeGreaterThan(0);
    const done = applied(s.id);
    http = await serveRunner(runner, { port });
    bridge.wake();
    expect((await failed).type).toBe('relayed');
    expect(await done).toMatchObject({ status: 'complete' });
    await runner.whenIdle(); // the event fires before the runner records the task complete
    expect(await tasksOf(s.id)).toEqual([{ status: 'complete' }]);
    expect(await tomasToPlayer(s.id)).toBeCloseTo(RIPPLE_EXPECTED, 6);
  });

  it('a transient step failure is retried with backoff; a permanent one marks the checkpoint failed and play continues', async () => {
    const flaky = await engine.createSession({ storyId: STORY });
    faults.transient.add(flaky.id);
    const ok = applied(flaky.id);
    await playScene(flaky);
    expect(await ok).toMatchObject({ status: 'complete' });
    expect((await attemptsOf(flaky.id)).world_state_update).toBe(2);

    const broken = await engine.createSession({ storyId: STORY });
    faults.permanent.add(broken.id);
    const bad = applied(broken.id);
    await playScene(broken);
    expect(await bad).toMatchObject({ status: 'failed', via: 'event' });
    expect((await checkpoint(broken.id))?.deferred_status).toBe('failed');
    await runner.whenIdle();
    expect(await tasksOf(broken.id)).toEqual([{ status: 'error' }]);
    expect((await bridge.metrics.completions.get()).values.find((v) => v.labels.outcome === 'failed')?.value).toBe(1);
    await play(broken, 'c-4', 'play goes on');
  });

  it('a lost completion event is recovered by reconciliation through GET /v1/tasks/{uuid}', async () => {
    const s = await engine.createSession({ storyId: STORY });
    faults.dropCompletion.add(s.id);
    await playScene(s);
    await runner.whenIdle();
    await bridge.idle();
    while ((await tasksOf(s.id))[0]?.status !== 'complete') await runner.whenIdle();
    expect((await checkpoint(s.id))?.deferred_status).toBe('complete'); // the last step wrote it
    const done = applied(s.id);
    expect(await bridge.reconcile(0)).toBe(1);
    expect(await done).toMatchObject({ status: 'complete', via: 'reconcile' });
  });

  it('runner killed mid-DAG: the next runner resumes after the last completed step; completed steps never re-run', async () => {
    let release!: () => void;
    const s = await engine.createSession({ storyId: STORY });
    faults.hang.set(s.id, new Promise<void>((r) => (release = r)));
    await playScene(s);
    // Wait until narrative_graph_update is claimed (in_progress) — the DAG is mid-way.
    while (!(await tdb.db.query(`SELECT 1 FROM workflow_steps s JOIN workflow_tasks t USING (task_uuid) WHERE t.context->>'session_id' = $1 AND s.name = 'narrative_graph_update' AND s.state = 'in_progress'`, [s.id])).rows.length) await bridge.idle();
    const dead = runner;
    dead.abandon();
    await http.close();
    release();
    await dead.whenIdle(); // the dead runner's last handler call returns and writes nothing
    const done = applied(s.id);
    await startRunner(0);
    expect(await done).toMatchObject({ status: 'complete' });
    expect(await attemptsOf(s.id)).toEqual({ deferred_event_resolution: 1, offscreen_propagation: 1, social_graph_ripple: 1, world_state_update: 1, narrative_graph_update: 2, checkpoint: 1 });
    expect(await tomasToPlayer(s.id)).toBeCloseTo(RIPPLE_EXPECTED, 6);
  });

  it('malformed and foreign messages on the completion queue go to the DLQ; the bridge keeps consuming', async () => {
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createConfirmChannel();
    const q = `${prefix}storyteller_domain_events`;
    const dead = () => events.filter((e) => e.type === 'deadLettered').length;
    const before = dead();
    ch.sendToQueue(q, Buffer.from('{not json'), { persistent: true });
    ch.sendToQueue(q, Buffer.from(JSON.stringify({ event_name: 'order.created', metadata: {} })), { persistent: true });
    // Well-formed, ours in shape, but for a workflow this database never submitted.
    const def = loaded.template.steps.find((x) => x.name === 'checkpoint')!;
    const now = new Date();
    const stranger = { session_id: randomUUID(), scene_id: randomUUID(), scene_key: 'x', next_scene_key: null, checkpoint_id: randomUUID(), workflow_key: 'session:nobody:scene-exit:0', turn: 1 };
    const foreign = buildDomainEvent(def.publishes_events[0]!, {
      task: { task_uuid: randomUUID(), name: loaded.template.name, namespace: 'storyteller', version: '1.0.0', context: stranger, correlation_id: randomUUID(), created_at: now, updated_at: now, initiator: 'i', source_system: 's', reason: 'r', priority: 0 },
      step: { step_uuid: randomUUID(), name: 'checkpoint', attempts: 1, max_attempts: 3, retryable: true },
      definition: def, result: { success: true, result: { session_id: stranger.session_id, checkpoint_id: stranger.checkpoint_id, workflow_key: stranger.workflow_key, effects: [] }, errorMessage: null, errorType: null, errorCode: null, retryable: true, metadata: {} },
      dependencyResults: {}, startedAt: now, completedAt: now, workerId: 'elsewhere',
    });
    ch.sendToQueue(q, Buffer.from(JSON.stringify(foreign)), { persistent: true });
    await ch.waitForConfirms();
    while (dead() < before + 3) await new Promise((r) => setImmediate(r));
    let inDlq = 0;
    while (inDlq < 3) inDlq = (await ch.checkQueue(`${q}_dlq`)).messageCount;
    expect(inDlq).toBe(3);
    const reasons = (await bridge.metrics.deadLettered.get()).values.map((v) => v.labels.reason).sort();
    expect(reasons).toEqual(['not_json', 'schema', 'unknown_workflow']);
    await conn.close();
    const s = await engine.createSession({ storyId: STORY });
    const done = applied(s.id);
    await playScene(s);
    expect(await done).toMatchObject({ status: 'complete' });
  });

  it('queue mode with the broker unreachable: nothing is marked published; a bridge on a reachable broker drains it exactly once', async () => {
    const s = await engine.createSession({ storyId: STORY });
    const down = new AmqpBus({ url: 'amqp://guest:guest@127.0.0.1:1', queuePrefix: prefix, reconnectMs: 10_000 });
    await bridge.stop(); // this engine's REST bridge steps aside; a queue-mode bridge takes over
    const queueBridge = new Bridge({ db: tdb.db, transport: new QueueTransport({ requests: down, events: down }), template: loaded.template, backoff: { baseMs: 5, maxMs: 20 }, pollMs: 25 });
    const exited = next<unknown>((fn) => s.on('sceneExited', fn));
    await playScene(s);
    await exited;
    expect(await queueBridge.relayOnce()).toBe(0);
    expect((await tdb.db.query('SELECT 1 FROM outbox WHERE session_id = $1 AND published_at IS NULL', [s.id])).rows).toHaveLength(1);
    await down.close();
    const up = new AmqpBus({ url: amqpUrl, queuePrefix: prefix });
    bridge = new Bridge({ db: tdb.db, transport: new QueueTransport({ requests: up, events: up }), template: loaded.template, backoff: { baseMs: 5, maxMs: 20 }, pollMs: 25 });
    await tdb.db.query('UPDATE outbox SET next_attempt_at = NULL WHERE session_id = $1', [s.id]);
    const done = applied(s.id);
    await bridge.start();
    expect(await done).toMatchObject({ status: 'complete' });
    await runner.whenIdle(); // the event fires before the runner records the task complete
    expect(await tasksOf(s.id)).toEqual([{ status: 'complete' }]);
    expect(await tomasToPlayer(s.id)).toBeCloseTo(RIPPLE_EXPECTED, 6);
    await bridge.stop();
    await up.close();
  });
});
