import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE } from '../../../src/gateway/protocol.ts';
import { startGateway, type Gateway } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * Two engine instances (each with its gateway) on one PostgreSQL database, sharing the
 * token secret: any instance serves any session; the one that opens it takes ownership
 * (a new epoch) and fences the other's writes. In one process, with the testing kit's
 * crash (the dead engine's database handle is fenced, nothing is flushed) standing in
 * for SIGKILL.
 */
const SECRET = 'two-instances-secret-of-at-least-32-chars';

describe('two engine instances behind two gateways (pg)', () => {
  let tdb: TestDatabase;
  const tokens = new TokenSigner(SECRET);
  const gateways: Gateway[] = [];
  const kits: TestingKit[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    for (const k of kits) await k.shutdown();
    await tdb.close();
  });

  const instance = async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const gateway = await startGateway({ engine: kit.engine, db: tdb.db, tokens, defaultStoryId: 'minimal', staticDir: null });
    kits.push(kit);
    gateways.push(gateway);
    return { kit, gateway, url: `ws://127.0.0.1:${gateway.port}/ws` };
  };
  const owner = async (sessionId: string) => (await tdb.db.query<{ owner_instance: string }>('SELECT owner_instance FROM sessions WHERE id = $1', [sessionId])).rows[0]?.owner_instance;
  const inputs = async (sessionId: string) =>
    (await tdb.db.query<{ client_input_id: string }>(`SELECT client_input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput' ORDER BY narrative_ts`, [sessionId])).rows.map((r) => r.client_input_id);

  it('A dies; the client reconnects to B and continues with nothing lost', async () => {
    const a = await instance();
    const b = await instance();
    const s = await GatewaySocket.open(a.url);
    const ready = await s.start();
    await s.play('c-1', 'one');
    // c-2 is acked by A (durable) but A dies before answering it.
    a.kit.armCrash('turn.afterStage1', ready.sessionId);
    const crashed = a.kit.nextCrash();
    s.send({ type: 'input', clientInputId: 'c-2', text: 'two' });
    await s.next('ack', (x) => x.clientInputId === 'c-2');
    await crashed;
    await s.kill();
    await a.gateway.close();

    const s2 = await GatewaySocket.open(b.url);
    const back = await s2.resume(ready.token, ready.sessionId);
    expect(back.resumed).toBe(true);
    // The client resends what it has not seen answered: acked again with the original ids, played once.
    s2.send({ type: 'input', clientInputId: 'c-2', text: 'two' });
    const done2 = await s2.next('narrative.done', (d) => d.clientInputId === 'c-2');
    expect(done2.text).toContain('two');
    const { ack } = await s2.play('c-3', 'three');
    expect(ack.turn).toBe(3);
    expect(await inputs(ready.sessionId)).toEqual(['c-1', 'c-2', 'c-3']);
    expect(await owner(ready.sessionId)).toBe(b.kit.engine.instanceId);
  });

  it('a paused A that resumes after B took over is fenced: its late input is refused, never written', async () => {
    const a = await instance();
    const b = await instance();
    const sa = await GatewaySocket.open(a.url);
    const ready = await sa.start();
    await sa.play('c-1', 'one');
    // A is still alive and still attached (say it was paused); the player shows up on B.
    const sb = await GatewaySocket.open(b.url);
    await sb.resume(ready.token, ready.sessionId);
    await sb.next('scene.entered');
    sa.send({ type: 'input', clientInputId: 'late-a', text: 'from the stale owner' });
    // A's next write is fenced (its input, or its pending turn events): A's connection is told the
    // session moved and closed, instead of A taking the session back.
    expect((await sa.closed).code).toBe(CLOSE.SESSION_MOVED);
    const refused = sa.all('error').filter((e) => e.code === 'LEDGER_FENCED');
    expect(refused.length).toBeGreaterThan(0);
    const { ack } = await sb.play('c-2', 'from the new owner');
    expect(ack.turn).toBe(2);
    expect(await inputs(ready.sessionId)).toEqual(['c-1', 'c-2']);
    expect(await owner(ready.sessionId)).toBe(b.kit.engine.instanceId);
    // A released its stale actor without touching B's session row.
    await expect.poll(() => a.kit.engine.get(ready.sessionId)).toBeUndefined();
    expect((await tdb.db.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [ready.sessionId])).rows[0]?.status).toBe('active');
  });
});
