import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { auditFailures, auditLedger } from '../../../src/testing/ledger-audit.ts';
import { PrivatePostgres, privatePostgresUnavailable } from '../../support/private-postgres.ts';
import { readyz, startServe, type ServeProcess } from '../../support/serve-process.ts';
import { TrackedPlayer } from '../../support/ws-player.ts';
import { auditWorkflows } from '../../support/workflow-audit.ts';

/**
 * PostgreSQL restarted during play (issue 13), through the whole stack: a PRIVATE cluster
 * (so the shared server is never touched), `storyteller serve` as a child process on it,
 * players on real WebSockets (the PlayerClient: lines buffered, resent after a refusal).
 * The cluster is restarted (`pg_ctl restart -m fast`) right after a scene-exit line is
 * acknowledged, and later stopped for 10 s right after another one.
 *
 * Must hold: inputs during the outage are refused with STORAGE_UNAVAILABLE and resent by
 * the clients; the server does not crash and reconnects by itself; /readyz is false while
 * the database is down and true after; every session plays on to the next scenes; the
 * ledger oracle (replay from the first row) finds every acked input once, answered once.
 */
const unavailable = privatePostgresUnavailable();
const SECRET = 'outage-secret-of-at-least-thirty-two-chars!';
const PLAYERS = 3;
/** The fault lasts this long (the scenario's 10 s outage; not a wait for an event). */
const OUTAGE_MS = 10_000;

describe.skipIf(unavailable !== null)(`PostgreSQL restarted during play${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let cluster: PrivatePostgres;
  let dataDir: string;
  let server: ServeProcess | null = null;
  const players: TrackedPlayer[] = [];

  beforeAll(async () => {
    cluster = await PrivatePostgres.create();
    dataDir = await mkdtemp(join(tmpdir(), 'storyteller-outage-'));
  }, 90_000);
  afterAll(async () => {
    await Promise.all(players.map((p) => p.close()));
    server?.signal('SIGKILL');
    await cluster?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a restart and a 10 s stop: refused inputs resent, nothing acked lost, no turn twice, /readyz follows the database', async () => {
    server = await startServe({
      DATABASE_URL: cluster.url,
      AMQP_URL: undefined,
      STORYTELLER_GATEWAY_SECRET: SECRET,
      STORYTELLER_INSTANCE_ID: 'outage-a',
      STORYTELLER_DATA_DIR: dataDir,
      // The lease is renewed every TTL/3: /readyz turns false within a second of the outage.
      STORYTELLER_LEASE_TTL_MS: '3000',
      STORYTELLER_GATEWAY_ACK_TIMEOUT_MS: '2000',
    });
    const s = server;
    // A failure or a timeout says where each player stood and what the server last logged.
    onTestFailed(() => {
      const log = join(tmpdir(), `postgres-restart-serve-${process.pid}.log`);
      writeFileSync(log, s.output());
      console.error(`${players.map((p) => p.describe()).join('\n')}\n--- serve output: ${log}; its tail:\n${s.output().slice(-3000)}`);
    });
    let crashed: string | null = null;
    void s.exited.then(({ code, signal }) => {
      crashed = `serve exited (${code ?? signal}) during the test:\n${s.output().slice(-4000)}`;
    });
    for (let i = 0; i < PLAYERS; i++) players.push(new TrackedPlayer({ url: s.wsUrl }));
    await Promise.all(players.map((p) => p.start()));

    const typeAll = (text: string) => players.map((p) => ({ p, id: p.type(text) }));
    const answeredAll = () => Promise.all(players.map((p) => p.allAnswered()));

    // Before: two quay turns each.
    typeAll('look');
    typeAll('ask Ewan about the light');
    await answeredAll();
    expect(await readyz(s.url)).toBe(true);

    // 1. Restart right after the scene-exit line is durable: the turn's events, the scene-exit
    //    transaction and the next scene's entry run into the restart.
    const toInn = typeAll('go to the inn');
    await Promise.all(toInn.map(({ p, id }) => p.acked(id)));
    await cluster.restart();
    typeAll('ask Silas about the Curlew');
    await answeredAll();

    // 2. Stop for 10 s right after another scene-exit line is acked.
    typeAll('take the key');
    typeAll('give the letter to Ada');
    const toCliff = typeAll('go to the cliff path');
    await Promise.all(toCliff.map(({ p, id }) => p.acked(id)));
    await cluster.stop();
    const stoppedAt = Date.now();
    const during = typeAll('ask Nell about the lamp');
    // Each client's line is refused (typed, retryable) and stays buffered; the server says it is not ready.
    await Promise.all(during.map(({ p, id }) => p.refusedWith('STORAGE_UNAVAILABLE', id)));
    await expect.poll(() => readyz(s.url), { timeout: 10_000, interval: 200 }).toBe(false);
    expect(players.every((p) => during.every((d) => d.p !== p || !p.acks.has(d.id)))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
    expect(crashed).toBeNull();
    await cluster.start();

    // After: the buffered lines go through, sessions play on to the lighthouse.
    await answeredAll();
    typeAll('go to the lighthouse');
    await answeredAll();
    // The scene entry follows the exit turn's answer.
    await Promise.all(players.map((p) => p.until(() => p.scenes.includes('the_keepers_door'), 'the keeper\'s door')));
    await expect.poll(() => readyz(s.url), { timeout: 10_000, interval: 200 }).toBe(true);
    expect(crashed).toBeNull();

    // The oracle: the database alone.
    const db = new PgDatabase({ connectionString: cluster.url, maxConnections: 2 });
    try {
      const sessionIds = players.map((p) => p.sessionId as string);
      expect(new Set(sessionIds).size).toBe(PLAYERS);
      const acked = players.flatMap((p) => p.ackedInputs());
      expect(acked.length).toBe(PLAYERS * 9);
      const audit = await auditLedger(db, { sessionIds, acked });
      expect(auditFailures(audit)).toEqual([]);
      expect(audit.playerInputs).toBe(PLAYERS * 9);
      // Three scene exits each (quay → inn → cliff → keeper's door), each written once.
      expect(audit.sceneExits).toBe(PLAYERS * 3);
      const exits = await db.query<{ session_id: string; n: number }>(
        `SELECT session_id, count(*)::int AS n FROM checkpoints WHERE session_id = ANY($1::uuid[]) AND checkpoint_type = 'scene_exit' GROUP BY 1`,
        [sessionIds],
      );
      expect(exits.rows.map((r) => r.n)).toEqual(sessionIds.map(() => 3));
      // Every scene exit's deferred workflow (the in-process local runner) ran through the outages and was applied once.
      await expect.poll(async () => (await auditWorkflows(db, sessionIds)).pending, { timeout: 30_000, interval: 250 }).toEqual([]);
      expect(await auditWorkflows(db, sessionIds)).toEqual({ exits: PLAYERS * 3, pending: [], broken: [] });
      const failed = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sessions WHERE id = ANY($1::uuid[]) AND status NOT IN ('active', 'disconnected')`, [sessionIds]);
      expect(failed.rows[0]?.n).toBe(0);
    } finally {
      await db.close();
    }
    // Four scenes each on the wire too: the quay, the inn, the cliff path, the keeper's door.
    for (const p of players) expect([...new Set(p.scenes)]).toEqual(['the_quay', 'the_drowned_bell', 'the_cliff_path', 'the_keepers_door']);
    // Every line got exactly one answer the player saw as new (a replayed answer is marked so).
    for (const p of players) {
      const fresh = p.doneFrames.filter((d) => !d.replayed).map((d) => d.clientInputId);
      expect(new Set(fresh).size).toBe(fresh.length);
    }

    await Promise.all(players.splice(0).map((p) => p.close()));
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    server = null;
  }, 240_000);
});
