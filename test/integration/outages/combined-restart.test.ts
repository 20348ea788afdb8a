import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { auditFailures, auditLedger } from '../../../src/testing/ledger-audit.ts';
import { freePort, PrivatePostgres, privatePostgresUnavailable } from '../../support/private-postgres.ts';
import { PrivateRabbit, privateRabbitUnavailable } from '../../support/private-rabbitmq.ts';
import { killGroup, startServe, type ServeProcess } from '../../support/serve-process.ts';
import { auditWorkflows } from '../../support/workflow-audit.ts';
import { TrackedPlayer } from '../../support/ws-player.ts';

/**
 * The combined trial (issue 13): a RabbitMQ restart and a PostgreSQL restart in the same
 * run, each right after a scene-exit line is acknowledged, with the deferred pipeline over
 * RabbitMQ (STORYTELLER_WORKFLOW_TRANSPORT=queue) and the local runner as its own process
 * (`storyteller tasker-local`). Both services are PRIVATE (never the shared ones). Must
 * hold: every scene exit's workflow applied exactly once, nothing acknowledged lost, no
 * turn twice, no crash.
 */
const unavailable = privatePostgresUnavailable() ?? privateRabbitUnavailable();
const SECRET = 'combined-secret-of-at-least-thirty-two-chars';
const PLAYERS = 2;
const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe.skipIf(unavailable !== null)(`PostgreSQL and RabbitMQ restarted in one run${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let cluster: PrivatePostgres;
  let rabbit: PrivateRabbit;
  let dir: string;
  let server: ServeProcess | null = null;
  let tasker: ChildProcess | null = null;
  const players: TrackedPlayer[] = [];

  beforeAll(async () => {
    [cluster, rabbit] = await Promise.all([PrivatePostgres.create(), PrivateRabbit.create()]);
    dir = await mkdtemp(join(tmpdir(), 'storyteller-combined-'));
  }, 180_000);
  afterAll(async () => {
    await Promise.all(players.map((p) => p.close()));
    server?.signal('SIGKILL');
    if (tasker) killGroup(tasker);
    await Promise.all([cluster?.destroy(), rabbit?.destroy()]);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('restarts during scene exits: every workflow applied once, nothing acked lost, no turn twice', async () => {
    const taskerPort = await freePort();
    const common = { DATABASE_URL: cluster.url, AMQP_URL: rabbit.url, LOG_LEVEL: 'warn', STORYTELLER_TASKER_LOCAL_PORT: String(taskerPort), STORYTELLER_FRAME_MODEL: 'rules' };
    let taskerOut = '';
    tasker = spawn(process.execPath, ['--import', 'tsx', MAIN, 'tasker-local'], { cwd: ROOT, env: { ...process.env, ...common }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    tasker.stdout?.on('data', (d: Buffer) => (taskerOut = (taskerOut + d.toString()).slice(-20_000)));
    tasker.stderr?.on('data', (d: Buffer) => (taskerOut = (taskerOut + d.toString()).slice(-20_000)));
    let taskerExit: number | null | undefined;
    tasker.once('exit', (code) => (taskerExit = code));
    server = await startServe({
      ...common,
      STORYTELLER_WORKFLOW_TRANSPORT: 'queue',
      // Reconciliation (a completion event lost in the broker restart) reads the runner's REST endpoint.
      STORYTELLER_TASKER_URL: `http://127.0.0.1:${taskerPort}`,
      STORYTELLER_WORKFLOW_RECONCILE_AFTER_MS: '3000', STORYTELLER_TASKER_LOCAL_STALE_AFTER_MS: '3000',
      STORYTELLER_GATEWAY_SECRET: SECRET,
      STORYTELLER_DATA_DIR: dir,
      STORYTELLER_GATEWAY_ACK_TIMEOUT_MS: '2000',
    });
    const s = server;
    let crashed: string | null = null;
    void s.exited.then(({ code, signal }) => (crashed = `serve exited (${code ?? signal}):\n${s.output().slice(-4000)}`));
    for (let i = 0; i < PLAYERS; i++) players.push(new TrackedPlayer({ url: s.wsUrl }));
    await Promise.all(players.map((p) => p.start()));
    const typeAll = (text: string) => players.map((p) => ({ p, id: p.type(text) }));
    const answeredAll = () => Promise.all(players.map((p) => p.allAnswered()));

    typeAll('look');
    typeAll('ask Ewan about the light');
    await answeredAll();
    // 1. RabbitMQ down and up while the first scene exits' workflows are relayed.
    const toInn = typeAll('go to the inn');
    await Promise.all(toInn.map(({ p, id }) => p.acked(id)));
    await rabbit.restart();
    typeAll('ask Silas about the Curlew');
    typeAll('take the key');
    typeAll('give the letter to Ada');
    // 2. PostgreSQL restarted during the second scene exits (RabbitMQ just came back).
    const toCliff = typeAll('go to the cliff path');
    await Promise.all(toCliff.map(({ p, id }) => p.acked(id)));
    await cluster.restart();
    typeAll('ask Nell about the lamp');
    typeAll('go to the lighthouse');
    await answeredAll();
    await Promise.all(players.map((p) => p.until(() => p.scenes.includes('the_keepers_door'), "the keeper's door")));
    expect(crashed).toBeNull();
    expect(taskerExit, taskerOut.slice(-3000)).toBeUndefined();

    const db = new PgDatabase({ connectionString: cluster.url, maxConnections: 2 });
    try {
      const sessionIds = players.map((p) => p.sessionId as string);
      // Every scene exit's workflow, through both restarts: applied, and once.
      await expect.poll(async () => (await auditWorkflows(db, sessionIds)).pending, { timeout: 60_000, interval: 500 }).toEqual([]);
      expect(await auditWorkflows(db, sessionIds)).toEqual({ exits: PLAYERS * 3, pending: [], broken: [] });
      const acked = players.flatMap((p) => p.ackedInputs());
      expect(acked.length).toBe(PLAYERS * 9);
      const audit = await auditLedger(db, { sessionIds, acked });
      expect(auditFailures(audit)).toEqual([]);
      expect(audit.sceneExits).toBe(PLAYERS * 3);
    } finally {
      await db.close();
    }
    await Promise.all(players.splice(0).map((p) => p.close()));
    s.signal('SIGTERM');
    expect((await s.exited).code).toBe(0);
    server = null;
  }, 180_000);
});
