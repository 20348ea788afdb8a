/**
 * Bridge benchmark (issue 14): the deferred scene-boundary pipeline.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm run bench:bridge
 *
 *  - scene_exit_transaction_p99_ms: SceneExited + checkpoint + outbox row, one transaction
 *    (the storage port's writeSceneExit, timed inside a real engine on PostgreSQL);
 *  - workflow_end_to_end_p50_ms / _p99_ms: exit committed (onSceneExitCommitted) → completion
 *    applied (the bridge's deferred.applied), the local runner in-process (the embedded default);
 *  - outbox_relay_per_s (queue mode: TaskRequestMessages with publisher confirms to RabbitMQ;
 *    REST mode: POST /v1/tasks to a stub endpoint that validates the TaskRequest and answers 200)
 *    against the raw amqplib confirmed-publish rate of the same messages in the same run
 *    (relay_over_raw). Creates and drops its own database and queues.
 * Writes bench/results/bridge.json (with the load average: the machine is shared).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import amqp from 'amqplib';
import pg from 'pg';
import { Bridge, type BridgeEvent } from '../src/actors/bridge.ts';
import type { SceneExitWrite } from '../src/actors/persistence.ts';
import { SessionEngine } from '../src/engine/engine.ts';
import { createSessionStorage } from '../src/engine/session-storage.ts';
import { silentLogger } from '../src/logger.ts';
import { openGraphStore } from '../src/persistence/graph/open-graph-store.ts';
import { Ledger } from '../src/persistence/ledger.ts';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';
import { SessionStore } from '../src/persistence/sessions.ts';
import { AmqpBus } from '../src/workflows/bus.ts';
import { taskRequestSchema } from '../src/workflows/contract.ts';
import { openWorkflows } from '../src/workflows/open-workflows.ts';
import { sceneExitTaskRequest, taskRequestMessage } from '../src/workflows/task-request.ts';
import { loadTemplate } from '../src/workflows/template.ts';
import { QueueTransport, RestTransport } from '../src/workflows/transport.ts';
import { play, recordingBehaviour, seedStory, STORY } from '../test/integration/workflows/fixture.ts';

const SESSIONS = Number(process.env.BENCH_BRIDGE_SESSIONS ?? 30);
const RELAY_ROWS = Number(process.env.BENCH_BRIDGE_ROWS ?? 2_000);
const baseUrl = process.env.DATABASE_URL;
const amqpUrl = process.env.AMQP_URL;
if (!baseUrl || !amqpUrl) {
  console.error('bench:bridge needs DATABASE_URL and AMQP_URL');
  process.exit(2);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number);
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0] as number;
  const dbName = `bench_bridge_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const url = new URL(baseUrl as string);
  url.pathname = `/${dbName}`;
  const db = new PgDatabase({ connectionString: url.toString(), maxConnections: 10 });
  const prefix = `bench_${randomBytes(3).toString('hex')}_`;
  try {
    await migrate(db);
    const graph = await openGraphStore(db, { graphStore: 'sql' });
    await seedStory(db, graph);
    const template = loadTemplate().template;

    // ---- end to end (embedded default: in-process runner) and the exit transaction
    const exitMs: number[] = [];
    const e2e: number[] = [];
    const committedAt = new Map<string, number>();
    const wf = await openWorkflows({ config: { amqpUrl: undefined, workflows: { transport: 'in-process', taskerUrl: undefined, localPort: 0, betweenSessionsMs: 3_600_000 } }, db, graph, logger: silentLogger });
    wf.bridge.on('event', (e: BridgeEvent) => {
      if (e.type !== 'deferred.applied') return;
      const t0 = committedAt.get(e.workflowKey);
      if (t0 !== undefined) e2e.push(performance.now() - t0);
    });
    const ledger = new Ledger(db, { maxPayloadBytes: 65536, maxBatch: 256, flushMs: 2 });
    const base = createSessionStorage({ db, ledger, sessions: new SessionStore(db), graph, maxPayloadBytes: 65536 });
    const storage = {
      ...base,
      async writeSceneExit(w: SceneExitWrite) {
        const t = performance.now();
        const out = await base.writeSceneExit(w);
        exitMs.push(performance.now() - t);
        return out;
      },
    };
    const engine = new SessionEngine({
      db, graph, ledger, storage, behaviour: recordingBehaviour(graph, []), inspect: null,
      onSceneExitCommitted: (_sid, key) => {
        committedAt.set(key, performance.now());
        wf.bridge.wake();
      },
    });
    for (let i = 0; i < SESSIONS; i++) {
      const s = await engine.createSession({ storyId: STORY });
      for (let t = 1; t <= 7; t++) await play(s, `c-${t}`, `hello ${t}`);
    }
    while (e2e.length < committedAt.size) {
      await wf.runner?.whenIdle();
      await new Promise((r) => setTimeout(r, 20));
    }
    await engine.shutdown();
    await wf.close();

    // ---- relay throughput: fresh outbox rows, queue mode and REST mode, vs raw confirmed publish
    const sessionId = (await db.query<{ id: string }>('SELECT id FROM sessions LIMIT 1')).rows[0]!.id;
    const insertRows = async (tag: string) => {
      await db.query(
        `INSERT INTO outbox (session_id, kind, idempotency_key, payload)
         SELECT $1::uuid, 'scene_exit', 'bench:' || $2::text || ':' || g, jsonb_build_object('sessionId', $1::text, 'sceneId', gen_random_uuid()::text, 'sceneKey', 'harbour',
           'nextSceneKey', 'lighthouse', 'checkpointId', gen_random_uuid()::text, 'reason', 'goal_completed', 'turn', 3, 'deferred', NULL)
           FROM generate_series(1, $3::int) g`,
        [sessionId, tag, RELAY_ROWS],
      );
    };
    const drain = async (bridge: Bridge) => {
      const t = performance.now();
      let n = 0;
      while (n < RELAY_ROWS) n += await bridge.relayOnce();
      return RELAY_ROWS / ((performance.now() - t) / 1000);
    };
    const bus = new AmqpBus({ url: amqpUrl as string, queuePrefix: prefix });
    await bus.ensureQueue('orchestration_task_requests');
    await insertRows('queue');
    const queueRate = await drain(new Bridge({ db, template, transport: new QueueTransport({ requests: bus, events: bus }), batchSize: 256, concurrency: 64 }));

    const stub = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const ok = taskRequestSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8'))).success;
        res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ task_uuid: randomUUID() }));
      });
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    await db.query('UPDATE outbox SET published_at = NOW() WHERE published_at IS NULL');
    await insertRows('rest');
    const restRate = await drain(new Bridge({ db, template, transport: new RestTransport({ taskerUrl: stubUrl, events: bus }), batchSize: 256, concurrency: 64 }));
    // The same POSTs straight from fetch (64 in flight): what the stub and HTTP cost alone.
    const sample = JSON.stringify(sceneExitTaskRequest(template, { idempotencyKey: 'raw:rest', payload: { sessionId, sceneId: randomUUID(), sceneKey: 'harbour', nextSceneKey: 'lighthouse', checkpointId: randomUUID(), reason: 'goal_completed', turn: 3, deferred: null } }, randomUUID()));
    const tr = performance.now();
    for (let i = 0; i < RELAY_ROWS; i += 64) {
      await Promise.all(Array.from({ length: Math.min(64, RELAY_ROWS - i) }, async () => (await fetch(`${stubUrl}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample })).text()));
    }
    const rawRestRate = RELAY_ROWS / ((performance.now() - tr) / 1000);
    stub.close();

    // Raw amqplib: the same messages, publisher confirms, the same number in flight.
    const conn = await amqp.connect(amqpUrl as string);
    const ch = await conn.createConfirmChannel();
    const q = `${prefix}raw`;
    await ch.assertQueue(q, { durable: true });
    const body = Buffer.from(JSON.stringify(taskRequestMessage(sceneExitTaskRequest(template, { idempotencyKey: 'raw:1', payload: { sessionId, sceneId: randomUUID(), sceneKey: 'harbour', nextSceneKey: 'lighthouse', checkpointId: randomUUID(), reason: 'goal_completed', turn: 3, deferred: null } }, randomUUID()), new Date())));
    const t = performance.now();
    for (let i = 0; i < RELAY_ROWS; i += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, RELAY_ROWS - i) }, () => new Promise<void>((resolve, reject) => ch.sendToQueue(q, body, { persistent: true, contentType: 'application/json' }, (err) => (err ? reject(err) : resolve())))),
      );
    }
    const rawRate = RELAY_ROWS / ((performance.now() - t) / 1000);
    await ch.deleteQueue(q);
    for (const name of ['orchestration_task_requests']) {
      await ch.deleteQueue(`${prefix}${name}`);
      await ch.deleteQueue(`${prefix}${name}_dlq`);
      await ch.deleteExchange(`${prefix}${name}_dlx`);
    }
    await conn.close();
    await bus.close();
    await graph.close();

    const results = {
      scene_exit_transaction_p50_ms: r3(pct(exitMs, 50)),
      scene_exit_transaction_p99_ms: r3(pct(exitMs, 99)),
      scene_exits: exitMs.length,
      workflow_end_to_end_p50_ms: r3(pct(e2e, 50)),
      workflow_end_to_end_p99_ms: r3(pct(e2e, 99)),
      workflows: e2e.length,
      outbox_relay_per_s: { queue: Math.round(queueRate), rest_stub: Math.round(restRate) },
      raw_confirmed_publish_per_s: Math.round(rawRate),
      raw_rest_post_per_s: Math.round(rawRestRate),
      rest_relay_over_raw_rest: r3(restRate / rawRestRate),
      relay_over_raw: { queue: r3(queueRate / rawRate), rest_stub: r3(restRate / rawRate) },
      targets: { relay_over_raw_min: 0.5, workflow_end_to_end_p50_ms_max: 100 },
      conditions: { relay_rows: RELAY_ROWS, sessions: SESSIONS, in_flight: 64, load_avg_1m_before: r3(loadBefore), load_avg_1m_after: r3(os.loadavg()[0] as number), cpus: os.cpus().length, node: process.version },
    };
    console.table({
      'scene exit transaction p99 (ms)': { value: results.scene_exit_transaction_p99_ms, target: '' },
      'workflow end-to-end p50 (ms)': { value: results.workflow_end_to_end_p50_ms, target: '≤ 100' },
      'workflow end-to-end p99 (ms)': { value: results.workflow_end_to_end_p99_ms, target: '' },
      'relay queue mode (rows/s)': { value: results.outbox_relay_per_s.queue, target: '' },
      'relay REST mode, stub (rows/s)': { value: results.outbox_relay_per_s.rest_stub, target: '' },
      'raw confirmed publish (msgs/s)': { value: results.raw_confirmed_publish_per_s, target: '' },
      'relay_over_raw (queue)': { value: results.relay_over_raw.queue, target: '≥ 0.5' },
      'relay_over_raw (rest stub)': { value: results.relay_over_raw.rest_stub, target: '≥ 0.5' },
      'raw fetch POST to the stub (req/s)': { value: results.raw_rest_post_per_s, target: '' },
      'REST relay / raw fetch POST': { value: results.rest_relay_over_raw_rest, target: '' },
    });
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(new URL('./results/bridge.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  }
}

await main();
