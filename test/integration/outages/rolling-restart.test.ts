import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE } from '../../../src/gateway/protocol.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { auditFailures, auditLedger } from '../../../src/testing/ledger-audit.ts';
import { createEmptyPgDatabase } from '../../support/test-database.ts';
import { startServe, type ServeProcess } from '../../support/serve-process.ts';
import { TrackedPlayer } from '../../support/ws-player.ts';

/**
 * Graceful shutdown in a rolling restart (issue 13): two `storyteller serve` processes on
 * one PostgreSQL database; players on A (PlayerClients that know both gateways); SIGTERM
 * to A while lines are on their way. A refuses new lines (ENGINE_SHUTTING_DOWN, kept by
 * the clients), checkpoints every live session, flushes the ledger, closes the sockets
 * with 4503 (moved) and exits 0; the clients reconnect to B with their tokens and play
 * on. Oracle: the ledger — every acked line once, answered once; a 'suspend' checkpoint
 * per session written by A.
 */
const SECRET = 'rolling-secret-of-at-least-thirty-two-chars';
const PLAYERS = 3;
/** A must be gone within this (it waits for no client and no timer). */
const EXIT_BOUND_MS = 20_000;

describe('rolling restart: SIGTERM to one of two instances (pg)', () => {
  let url: string;
  let dir: string;
  const servers: ServeProcess[] = [];
  const players: TrackedPlayer[] = [];

  beforeAll(async () => {
    url = await createEmptyPgDatabase();
    dir = await mkdtemp(join(tmpdir(), 'storyteller-rolling-'));
  });
  afterAll(async () => {
    await Promise.all(players.map((p) => p.close()));
    for (const s of servers) s.signal('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const serve = async (name: string) => {
    const s = await startServe({ DATABASE_URL: url, AMQP_URL: undefined, STORYTELLER_GATEWAY_SECRET: SECRET, STORYTELLER_INSTANCE_ID: name, STORYTELLER_DATA_DIR: join(dir, name) }, name);
    servers.push(s);
    return s;
  };

  it('A drains (checkpoint, flush, 4503) and exits 0; the clients continue on B with nothing lost and no turn twice', async () => {
    // A first, alone, so every session starts there; then B.
    const a = await serve('engine-a');
    const b = await serve('engine-b');
    for (let i = 0; i < PLAYERS; i++) players.push(new TrackedPlayer({ url: [a.wsUrl, b.wsUrl] }));
    await Promise.all(players.map((p) => p.start()));
    const typeAll = (text: string) => players.map((p) => ({ p, id: p.type(text) }));
    const answeredAll = () => Promise.all(players.map((p) => p.allAnswered()));

    typeAll('look');
    typeAll('ask Ewan about the light');
    await answeredAll();
    const onA = await new PgDatabase({ connectionString: url, maxConnections: 2 });
    try {
      const owners = await onA.query<{ owner_instance: string }>('SELECT owner_instance FROM sessions WHERE id = ANY($1::uuid[])', [players.map((p) => p.sessionId)]);
      expect(owners.rows.map((r) => r.owner_instance)).toEqual(players.map(() => 'engine-a'));

      // Lines on their way (one a scene exit) when A gets SIGTERM.
      const toInn = typeAll('go to the inn');
      await Promise.all(toInn.map(({ p, id }) => p.acked(id)));
      typeAll('ask Silas about the Curlew');
      const { rows: [before] } = await onA.query<{ at: string }>('SELECT now()::text AS at');
      const sigtermAt = Date.now();
      a.signal('SIGTERM');
      const exit = await a.exited;
      const exitMs = Date.now() - sigtermAt;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(exitMs).toBeLessThan(EXIT_BOUND_MS);
      expect(a.output()).toContain('stopping (suspending sessions)');
      // Every client was told "moved".
      for (const p of players) expect(p.closeCodes).toContain(CLOSE.SHUTDOWN_MOVED);

      // A's last word on each session: a checkpoint written during the drain — a 'suspend' one, or
      // the scene exit's own when the SIGTERM came while that exit was being written (the exit's
      // checkpoint is then the newest state; the audit below proves it equals the replay).
      // The session's status may already be B's 'active': the clients reconnect as soon as the
      // 4503 arrives, possibly before A has exited.
      const after = await onA.query<{ id: string; cp: number | null }>(
        `SELECT s.id, LEAST(1, (SELECT count(*)::int FROM checkpoints c WHERE c.session_id = s.id
                 AND c.checkpoint_type IN ('suspend', 'scene_exit') AND c.created_at >= $2::timestamptz)) AS cp
           FROM sessions s WHERE s.id = ANY($1::uuid[])`,
        [players.map((p) => p.sessionId), before?.at],
      );
      expect(after.rows.map((r) => r.cp)).toEqual(players.map(() => 1));

      // The clients continue on B: the lines typed during the drain, then more.
      await answeredAll();
      typeAll('take the key');
      typeAll('give the letter to Ada');
      typeAll('go to the cliff path');
      await answeredAll();
      await Promise.all(players.map((p) => p.until(() => p.scenes.includes('the_cliff_path'), 'the cliff path')));

      const sessionIds = players.map((p) => p.sessionId as string);
      const owned = await onA.query<{ owner_instance: string }>('SELECT owner_instance FROM sessions WHERE id = ANY($1::uuid[])', [sessionIds]);
      expect(owned.rows.map((r) => r.owner_instance)).toEqual(players.map(() => 'engine-b'));
      const acked = players.flatMap((p) => p.ackedInputs());
      expect(acked.length).toBe(PLAYERS * 7);
      const audit = await auditLedger(onA, { sessionIds, acked });
      expect(auditFailures(audit)).toEqual([]);
      expect(audit.playerInputs).toBe(PLAYERS * 7);
      expect(audit.sceneExits).toBe(PLAYERS * 2);
      // Each player saw each line answered fresh at most once.
      for (const p of players) {
        const fresh = p.doneFrames.filter((d) => !d.replayed).map((d) => d.clientInputId);
        expect(new Set(fresh).size).toBe(fresh.length);
      }
    } finally {
      await onA.close();
    }
    await Promise.all(players.splice(0).map((p) => p.close()));
    b.signal('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 90_000);
});
