import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnershipLease } from '../../../src/gateway/ownership-lease.ts';
import { startGateway, type Gateway } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import { silentLogger } from '../../../src/logger.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * Ownership leases (issue 15 §7): a live owner's renewals keep the session its own; when
 * the owner dies its sessions are taken over by another instance after the lease expires,
 * with no client and no operator: the acked-but-unanswered input is played, and the
 * session suspends (checkpoint) at the end of its grace period. Two engines on one
 * database, each on its own SimulatedClock (both start at the same instant); renew and
 * sweep are called directly (their timers are the same calls).
 */
const TTL = 15_000;
const GRACE = 5 * 60_000;

describe('ownership lease across two instances (pg)', () => {
  let tdb: TestDatabase;
  const gateways: Gateway[] = [];
  const kits: TestingKit[] = [];
  const tokens = new TokenSigner('lease-secret-of-at-least-thirty-two-chars');

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    for (const k of kits) await k.shutdown();
    await tdb.close();
  });

  const instance = async () => {
    const kit = await TestingKit.create({ db: tdb.db, gracePeriodMs: GRACE });
    const lease = new OwnershipLease({ engine: kit.engine, db: tdb.db, ttlMs: TTL, clock: kit.clock, now: () => kit.now(), gracePeriodMs: GRACE, logger: silentLogger });
    const gateway = await startGateway({ engine: kit.engine, db: tdb.db, tokens, defaultStoryId: 'minimal', staticDir: null, lease, clocks: { clock: kit.clock, now: () => kit.now() } });
    kits.push(kit);
    gateways.push(gateway);
    return { kit, lease, gateway, url: `ws://127.0.0.1:${gateway.port}/ws` };
  };
  const row = async (id: string) =>
    (await tdb.db.query<{ status: string; owner_instance: string }>('SELECT status, owner_instance FROM sessions WHERE id = $1', [id])).rows[0];
  const completed = async (id: string) =>
    (await tdb.db.query<{ input_id: string }>(`SELECT event_data->>'inputId' AS input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted' ORDER BY narrative_ts`, [id])).rows.map((r) => Number(r.input_id));

  it('a renewing owner keeps its sessions; a dead one loses them after the TTL, and they are recovered and suspended', async () => {
    const a = await instance();
    const b = await instance();
    const s = await GatewaySocket.open(a.url);
    const ready = await s.start();
    await s.play('c-1', 'one');

    // A is alive and renews: B's sweeps, even past the first TTL, take nothing.
    a.kit.advance(TTL - 1);
    b.kit.advance(TTL - 1);
    expect(await a.lease.renew()).toBe(1);
    b.kit.advance(TTL - 1);
    expect(await b.lease.sweep()).toEqual([]);
    expect((await row(ready.sessionId))?.owner_instance).toBe(a.kit.engine.instanceId);
    expect(a.lease.status()).toMatchObject({ healthy: true, held: 1 });

    // c-2 is durable (acked) when A dies, before its answer.
    a.kit.armCrash('turn.afterStage1', ready.sessionId);
    const crashed = a.kit.nextCrash();
    s.send({ type: 'input', clientInputId: 'c-2', text: 'two' });
    const ack2 = await s.next('ack', (x) => x.clientInputId === 'c-2');
    await crashed;
    await s.kill();

    // Past A's last renewal + TTL, B takes the session over with nobody attached.
    b.kit.advance(2);
    const taken = await b.lease.sweep();
    expect(taken).toEqual([ready.sessionId]);
    expect((await row(ready.sessionId))?.owner_instance).toBe(b.kit.engine.instanceId);
    expect(b.kit.engine.get(ready.sessionId)?.connection).toBe('disconnected');
    await expect.poll(() => completed(ready.sessionId)).toContain(ack2.inputId);
    // A second sweeper finds nothing to take.
    expect(await b.lease.sweep()).toEqual([]);

    // Nobody comes back: at the end of the grace period the session suspends with a checkpoint.
    b.kit.advance(GRACE);
    await expect.poll(async () => (await row(ready.sessionId))?.status).toBe('suspended');
    const report = await b.gateway.readiness();
    expect(report.lease).toMatchObject({ claimed: 1 });
  });
});
