import { randomBytes, randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SimulatedClock, type InspectionEvent } from 'xstate';
import { Bridge } from '../../../src/actors/bridge.ts';
import { AmqpBus, InProcessBus } from '../../../src/workflows/bus.ts';
import { TASK_REQUESTS_QUEUE, type TaskRequest } from '../../../src/workflows/contract.ts';
import { BETWEEN_SESSIONS_TEMPLATE_PATH, loadTemplate } from '../../../src/workflows/template.ts';
import { QueueTransport, type WorkflowTransport } from '../../../src/workflows/transport.ts';
import { requireAmqp } from '../../support/services.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

/**
 * The bridge actor's states, driven on a simulated clock: the broker is down (a real AmqpBus
 * on a closed port) → backingOff, doubling → degraded → the broker is back (a real AmqpBus on
 * the test broker) → the row is published and the relay is idle again. Only the clock is
 * simulated; every delay of the machine runs on it, so nothing here waits on real time.
 */
describe('the bridge actor: broker down → backoff → degraded → recovered (simulated clock)', () => {
  const amqpUrl = requireAmqp(inject('amqpUrl'));
  const prefix = `${inject('runId')}_${randomBytes(3).toString('hex')}_`;
  const scene = loadTemplate();
  const between = loadTemplate(BETWEEN_SESSIONS_TEMPLATE_PATH);
  let tdb: TestDatabase;
  const down = new AmqpBus({ url: 'amqp://guest:guest@127.0.0.1:1', queuePrefix: prefix, reconnectMs: 3_600_000 });
  const up = new AmqpBus({ url: amqpUrl, queuePrefix: prefix });
  const events = new InProcessBus();
  const broker = { up: false };
  // The one switch: which real broker the submissions go to.
  const downT = new QueueTransport({ requests: down, events });
  const upT = new QueueTransport({ requests: up, events });
  const transport: WorkflowTransport = { mode: 'queue', events, submit: (r: TaskRequest) => (broker.up ? upT : downT).submit(r), getTask: async () => null };

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    await up.ensureQueue(TASK_REQUESTS_QUEUE);
  });
  afterAll(async () => {
    await down.close();
    await up.close();
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createChannel();
    await ch.deleteQueue(`${prefix}${TASK_REQUESTS_QUEUE}`);
    await ch.deleteQueue(`${prefix}${TASK_REQUESTS_QUEUE}_dlq`);
    await ch.deleteExchange(`${prefix}${TASK_REQUESTS_QUEUE}_dlx`);
    await conn.close();
    await tdb.close();
  });

  it('walks its states on the clock, and the inspector sees them', async () => {
    const clock = new SimulatedClock();
    const inspected: InspectionEvent[] = [];
    const bridge = new Bridge({
      db: tdb.db, transport, template: scene.template, betweenTemplate: between.template, clock, inspect: { next: (e) => inspected.push(e) },
      backoff: { baseMs: 1_000, maxMs: 4_000 }, pollMs: 3_600_000, reconcileAfterMs: 3_600_000, degradedAfter: 3,
    });
    const relay = () => {
      const v = bridge.actor.getSnapshot().value as { active?: { running?: { relay?: string } } };
      return v.active?.running?.relay;
    };
    const settle = async () => {
      await bridge.idle();
      return relay();
    };
    const ctx = () => bridge.actor.getSnapshot().context;

    expect(bridge.actor.getSnapshot().value).toEqual({ active: 'connecting' });
    await bridge.start();
    expect(await settle()).toBe('idle'); // nothing in the outbox yet

    const key = `between:actor-test:${randomUUID()}`;
    await tdb.db.query(`INSERT INTO outbox (session_id, kind, idempotency_key, payload) VALUES (NULL, 'between_sessions', $1, $2::jsonb)`, [key, JSON.stringify({ runKey: key })]);
    const row = async () => (await tdb.db.query<{ published_at: Date | null; attempts: number }>('SELECT published_at, attempts FROM outbox WHERE idempotency_key = $1', [key])).rows[0]!;

    bridge.wake();
    expect(await settle()).toBe('backingOff');
    expect(ctx()).toMatchObject({ outageMs: 1_000, failures: 1 });
    expect((await row()).published_at).toBeNull();

    // A scene exit during the backoff does not cut it short.
    bridge.wake();
    expect(await settle()).toBe('backingOff');
    expect((await row()).attempts).toBe(1);
    clock.increment(999);
    expect(await settle()).toBe('backingOff');
    clock.increment(1);
    expect(await settle()).toBe('backingOff');
    expect(ctx()).toMatchObject({ outageMs: 2_000, failures: 2 });

    clock.increment(2_000);
    expect(await settle()).toBe('degraded');
    expect(ctx()).toMatchObject({ outageMs: 4_000, failures: 3 });
    expect((await row()).attempts).toBe(3);
    expect((await bridge.metrics.submitFailures.get()).values[0]?.value).toBe(3);

    broker.up = true;
    clock.increment(3_999);
    expect(await settle()).toBe('degraded');
    clock.increment(1);
    expect(await settle()).toBe('idle');
    expect(ctx()).toMatchObject({ outageMs: 0, failures: 0, lastError: null });
    expect((await row()).published_at).not.toBeNull();
    // The broker holds exactly one task request for it.
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createChannel();
    expect((await ch.checkQueue(`${prefix}${TASK_REQUESTS_QUEUE}`)).messageCount).toBe(1);
    await conn.close();

    await bridge.stop();
    expect(bridge.actor.getSnapshot()).toMatchObject({ status: 'done', value: 'stopped' });

    // The inspector saw the bridge actor and the states it went through.
    const states = inspected
      .filter((e): e is Extract<InspectionEvent, { type: '@xstate.snapshot' }> => e.type === '@xstate.snapshot' && e.actorRef === bridge.actor)
      .map((e) => JSON.stringify((e.snapshot as { value?: unknown }).value));
    for (const s of ['connecting', 'resuming', 'backingOff', 'degraded', 'idle', 'stopped']) expect(states.some((v) => v.includes(`"${s}"`))).toBe(true);
    expect(inspected.some((e) => e.type === '@xstate.actor' && e.actorRef === bridge.actor)).toBe(true);
  });
});
