import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE, PROTOCOL_VERSION } from '../../../src/gateway/protocol.ts';
import { startGateway, type Gateway, type GatewayOptions } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import { DebugTap } from '../../../src/gateway/debug-tap.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * The player protocol over real sockets (uWebSockets.js server, `ws` client) against a
 * real engine on PostgreSQL. Time (heartbeat, grace period) is the TestingKit's
 * SimulatedClock, shared by the engine and the gateway: no sleeps. Durability is checked
 * against the database itself (the ledger row exists when the ack arrives), not against
 * the gateway's own bookkeeping.
 */
const SECRET = 'test-secret-of-at-least-thirty-two-characters';
const HEARTBEAT_MS = 10_000;
const GRACE_MS = 5 * 60_000;

describe('gateway protocol over real sockets (pg)', () => {
  let tdb: TestDatabase;
  let kit: TestingKit;
  let gateway: Gateway;
  let tokens: TokenSigner;
  const sockets: GatewaySocket[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  async function boot(extra: Partial<GatewayOptions> = {}): Promise<void> {
    const debug = new DebugTap();
    kit = await TestingKit.create({ db: tdb.db, gracePeriodMs: GRACE_MS, inspect: debug.observer });
    tokens = new TokenSigner(SECRET, () => kit.now());
    gateway = await startGateway({
      engine: kit.engine,
      db: tdb.db,
      tokens,
      defaultStoryId: 'minimal',
      clocks: { clock: kit.clock, now: () => kit.now() },
      limits: { heartbeatTimeoutMs: HEARTBEAT_MS, rate: { perSecond: 1, burst: 10_000 } },
      debug,
      staticDir: null,
      ...extra,
    });
  }
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.ws.terminate();
    await gateway.close();
    await kit.shutdown();
  });

  const connect = async (): Promise<GatewaySocket> => {
    const s = await GatewaySocket.open(`ws://127.0.0.1:${gateway.port}/ws`);
    sockets.push(s);
    return s;
  };
  const ledgerRows = async (sessionId: string, clientInputId: string) =>
    (await tdb.db.query<{ id: string; turn: number | null }>(`SELECT id, turn FROM event_ledger WHERE session_id = $1 AND client_input_id = $2`, [sessionId, clientInputId])).rows;
  const status = async (id: string) => (await tdb.db.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [id])).rows[0]?.status;

  it('hello → welcome, session.start → session.ready and scene.entered; input acked only once durable, then streamed and answered', async () => {
    await boot();
    const s = await connect();
    const welcome = await s.hello();
    expect(welcome.v).toBe(PROTOCOL_VERSION);
    expect(welcome.scopes).toEqual(['play']);
    expect(tokens.verify(welcome.token)?.sid).toBeNull();
    s.send({ type: 'session.start' });
    const ready = await s.next('session.ready');
    expect(tokens.verify(ready.token)?.sid).toBe(ready.sessionId);
    const scene = await s.next('scene.entered');
    expect(scene.scene).toBe('harbour');
    expect(Object.keys(scene.timings)).toContain('loadSceneDefinition');

    s.send({ type: 'input', clientInputId: 'c-1', text: 'hello there' });
    const ack = await s.next('ack');
    // The oracle is the database: the PlayerInput row is committed when the ack arrives.
    const rows = await ledgerRows(ready.sessionId, 'c-1');
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]?.id)).toBe(ack.inputId);
    expect(ack).toMatchObject({ clientInputId: 'c-1', turn: 1, duplicate: false });
    const started = await s.next('turn.started');
    expect(started).toEqual({ type: 'turn.started', inputId: ack.inputId, turn: 1 });
    const done = await s.next('narrative.done');
    expect(done).toMatchObject({ inputId: ack.inputId, clientInputId: 'c-1', turn: 1, replayed: false });
    const chunks = s.all('narrative.chunk').filter((c) => c.inputId === ack.inputId).map((c) => c.text).join('');
    expect(chunks).toBe(done.text);
    expect(done.text).toContain('hello there');

    // Three inputs sent at once: acked in order, each with the turn it is played as.
    for (const id of ['c-2', 'c-3', 'c-4']) s.send({ type: 'input', clientInputId: id, text: `line ${id}` });
    const acks = [await s.next('ack'), await s.next('ack'), await s.next('ack')];
    expect(acks.map((a) => [a.clientInputId, a.turn])).toEqual([['c-2', 2], ['c-3', 3], ['c-4', 4]]);
    const dones = [await s.next('narrative.done'), await s.next('narrative.done'), await s.next('narrative.done')];
    expect(dones.map((d) => [d.clientInputId, d.turn])).toEqual([['c-2', 2], ['c-3', 3], ['c-4', 4]]);
    // Turn 3 ends the first scene of the minimal story.
    expect((await s.next('scene.exited')).scene).toBe('harbour');
    expect((await s.next('scene.entered')).scene).toBe('lighthouse');
  });

  it('a resend of a known clientInputId is acked again with the original ids and never played twice (also after a restart)', async () => {
    await boot();
    const s = await connect();
    const ready = await s.start();
    const first = await s.play('c-1', 'look');
    s.send({ type: 'input', clientInputId: 'c-1', text: 'look' });
    const again = await s.next('ack');
    expect(again).toEqual({ ...first.ack, duplicate: true });
    const replay = await s.next('narrative.done');
    expect(replay).toEqual({ ...first.done, replayed: true });
    expect(await ledgerRows(ready.sessionId, 'c-1')).toHaveLength(1);
    expect(s.all('turn.started')).toHaveLength(1);

    // A new engine and a new gateway: the cache is gone, the ledger's idempotent append answers.
    await gateway.close();
    await kit.shutdown();
    kit.restart();
    await boot2(kit);
    const s2 = await connect();
    await s2.resume(ready.token, ready.sessionId);
    s2.send({ type: 'input', clientInputId: 'c-1', text: 'look' });
    const after = await s2.next('ack');
    expect(after).toEqual({ ...first.ack, duplicate: true });
    const lost = await s2.next('narrative.done');
    expect(lost).toMatchObject({ inputId: first.ack.inputId, clientInputId: 'c-1', text: null, replayed: true });
    const next = await s2.play('c-2', 'and then');
    expect(next.ack.turn).toBe(2);
    expect(await ledgerRows(ready.sessionId, 'c-1')).toHaveLength(1);
    expect(s2.all('turn.started').map((t) => t.inputId)).toEqual([next.ack.inputId]);
  });

  async function boot2(k: TestingKit): Promise<void> {
    gateway = await startGateway({
      engine: k.engine,
      db: tdb.db,
      tokens,
      defaultStoryId: 'minimal',
      clocks: { clock: k.clock, now: () => k.now() },
      limits: { heartbeatTimeoutMs: HEARTBEAT_MS, rate: { perSecond: 1, burst: 10_000 } },
      staticDir: null,
    });
  }

  it('storage down: no ack, a typed STORAGE_UNAVAILABLE error for that input; after recovery the resend is acked once', async () => {
    await boot({ ackTimeoutMs: 5_000 });
    const s = await connect();
    const ready = await s.start();
    await s.play('c-1', 'fine');
    kit.loseDatabase();
    s.send({ type: 'input', clientInputId: 'c-2', text: 'lost?' });
    // Nothing comes back while the database is gone…
    s.send({ type: 'ping', t: 1 });
    await s.next('pong');
    expect(s.all('ack').map((a) => a.clientInputId)).toEqual(['c-1']);
    // …until the ack deadline passes: a typed error, outcome unknown.
    kit.advance(5_000);
    const error = await s.next('error');
    expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', clientInputId: 'c-2', ref: 'input' });
    expect(s.all('ack').map((a) => a.clientInputId)).toEqual(['c-1']);
    expect(await ledgerRows(ready.sessionId, 'c-2')).toHaveLength(0);

    // The engine dies with the database; a new one (and a new gateway) takes the resend.
    await gateway.close();
    kit.restart();
    await boot2(kit);
    const s2 = await connect();
    await s2.resume(ready.token, ready.sessionId);
    const { ack, done } = await s2.play('c-2', 'lost?');
    expect(ack.duplicate).toBe(false);
    expect(done.text).toContain('lost?');
    expect(await ledgerRows(ready.sessionId, 'c-2')).toHaveLength(1);
  });

  it('heartbeat timeout closes with 4408 and starts the grace period; reconnect within grace resumes the warm actor', async () => {
    await boot();
    const s = await connect();
    const ready = await s.start();
    await s.play('c-1', 'hello');
    const actor = kit.engine.get(ready.sessionId)?.actor;
    kit.advance(HEARTBEAT_MS - 1);
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    kit.advance(1);
    expect((await s.closed).code).toBe(CLOSE.HEARTBEAT_TIMEOUT);
    expect(kit.engine.get(ready.sessionId)?.connection).toBe('disconnected');
    await expect.poll(() => status(ready.sessionId)).toBe('disconnected');

    kit.advance(GRACE_MS - HEARTBEAT_MS);
    const s2 = await connect();
    const back = await s2.resume(ready.token, ready.sessionId);
    expect(back).toMatchObject({ resumed: true, lifecycle: 'playing', connection: 'connected', scene: 'harbour', turn: 1 });
    expect(kit.engine.get(ready.sessionId)?.actor).toBe(actor);
    expect((await s2.next('scene.entered')).scene).toBe('harbour');
    // The old deadline passes (the client keeps its heartbeat): nothing happens.
    for (let t = 0; t < GRACE_MS; t += HEARTBEAT_MS / 2) {
      kit.advance(HEARTBEAT_MS / 2);
      s2.send({ type: 'ping', t });
      await s2.next('pong');
    }
    expect(kit.engine.get(ready.sessionId)?.actor).toBe(actor);
    const { ack } = await s2.play('c-2', 'still here');
    expect(ack.turn).toBe(2);
  });

  it('a dropped socket and the grace period running out suspend the session; resuming after suspension loads the checkpoint', async () => {
    await boot();
    const s = await connect();
    const ready = await s.start();
    await s.play('c-1', 'hello');
    const actor = kit.engine.get(ready.sessionId)?.actor;
    await s.kill();
    await expect.poll(() => kit.engine.get(ready.sessionId)?.connection).toBe('disconnected');
    kit.advance(GRACE_MS);
    await expect.poll(() => status(ready.sessionId)).toBe('suspended');
    await expect.poll(() => kit.engine.get(ready.sessionId)).toBeUndefined();

    const s2 = await connect();
    const back = await s2.resume(ready.token, ready.sessionId);
    expect(back.resumed).toBe(true);
    const entered = await s2.next('scene.entered');
    expect(entered.scene).toBe('harbour');
    expect(kit.engine.get(ready.sessionId)?.actor).not.toBe(actor);
    const { ack, done } = await s2.play('c-2', 'back again');
    expect(ack.turn).toBe(2);
    expect(done.text).toContain('back again');
    await expect.poll(() => status(ready.sessionId)).toBe('active');
  });

  it('a token bound to session A is refused on session B; a forged token is refused and closed', async () => {
    await boot();
    const a = await connect();
    const readyA = await a.start();
    const b = await connect();
    const readyB = await b.start();
    const thief = await connect();
    await thief.hello(readyA.token);
    thief.send({ type: 'session.resume', sessionId: readyB.sessionId });
    expect(await thief.next('error')).toMatchObject({ code: 'AUTH_FORBIDDEN', ref: 'session.resume' });
    thief.send({ type: 'input', clientInputId: 'x-1', text: 'write into B' });
    expect(await thief.next('error')).toMatchObject({ code: 'PROTOCOL_OUT_OF_ORDER', clientInputId: 'x-1' });
    expect(await ledgerRows(readyB.sessionId, 'x-1')).toHaveLength(0);
    expect(await ledgerRows(readyA.sessionId, 'x-1')).toHaveLength(0);

    const forger = await connect();
    const other = new TokenSigner('another-secret-of-at-least-thirty-two-chars');
    forger.send({ type: 'hello', v: PROTOCOL_VERSION, token: other.sign({ sub: 'p', sid: readyB.sessionId, scope: ['play', 'debug'] }) });
    expect(await forger.next('error')).toMatchObject({ code: 'AUTH_INVALID' });
    expect((await forger.closed).code).toBe(CLOSE.AUTH_FAILED);
  });

  it('the debug subscription needs the debug scope; with it, agent replies stream per turn', async () => {
    await boot();
    const s = await connect();
    const ready = await s.start();
    s.send({ type: 'debug.subscribe' });
    expect(await s.next('error')).toMatchObject({ code: 'AUTH_FORBIDDEN', ref: 'debug.subscribe' });
    await s.play('c-1', 'look');
    expect(s.all('debug')).toHaveLength(0);

    const dev = await connect();
    await dev.resume(tokens.sign({ sub: 'dev', sid: ready.sessionId, scope: ['play', 'debug'] }), ready.sessionId);
    dev.send({ type: 'debug.subscribe' });
    await dev.play('c-2', 'look again');
    const records = dev.all('debug');
    expect(records.map((r) => r.kind)).toContain('agent.done');
    const members = records.filter((r) => r.kind === 'agent.done').map((r) => (r.data as { requestId: string }).requestId.split(':')[1]);
    expect(members).toEqual(expect.arrayContaining(['stage1', 'stage2', 'stage3', 'narrator']));
    // The ordinary player on the same session saw none of it.
    expect(s.all('debug')).toHaveLength(0);
  });

  it('refuses what breaks the protocol with typed errors and documented closes', async () => {
    await boot({ limits: { heartbeatTimeoutMs: HEARTBEAT_MS, rate: { perSecond: 1, burst: 5 }, rateStrikes: 3, maxFrameBytes: 1024 } });
    // Not a hello first.
    const early = await connect();
    early.send({ type: 'input', clientInputId: 'c-1', text: 'hi' });
    expect(await early.next('error')).toMatchObject({ code: 'AUTH_REQUIRED' });
    expect((await early.closed).code).toBe(CLOSE.AUTH_FAILED);
    // Unknown version.
    const old = await connect();
    old.send({ type: 'hello', v: 99 });
    expect(await old.next('error')).toMatchObject({ code: 'PROTOCOL_VERSION_UNSUPPORTED' });
    expect((await old.closed).code).toBe(CLOSE.VERSION_UNSUPPORTED);
    // Malformed, oversized and out-of-order frames after hello.
    const s = await connect();
    await s.hello();
    s.send('{not json');
    expect(await s.next('error')).toMatchObject({ code: 'PROTOCOL_FRAME_INVALID' });
    s.send(JSON.stringify({ type: 'input', clientInputId: 'c-1', text: 'x'.repeat(2000) }));
    expect(await s.next('error')).toMatchObject({ code: 'PROTOCOL_FRAME_TOO_LARGE' });
    s.send({ type: 'input', clientInputId: 'c-1', text: 'no session yet' });
    expect(await s.next('error')).toMatchObject({ code: 'PROTOCOL_OUT_OF_ORDER', clientInputId: 'c-1' });
    // The bucket (burst 5, no time passes) is empty now: refused, then closed after 3 strikes.
    s.send({ type: 'ping' });
    s.send({ type: 'ping' });
    expect(await s.next('error')).toMatchObject({ code: 'RATE_LIMITED' });
    for (let i = 0; i < 5; i++) s.send({ type: 'ping' });
    expect((await s.closed).code).toBe(CLOSE.RATE_LIMITED);
    // Over the hard limit (4 × maxFrameBytes): uWebSockets closes the socket itself.
    const big = await connect();
    await big.hello();
    big.send('x'.repeat(8 * 1024));
    expect((await big.closed).code).toBe(1006);
    const m = await gateway.metrics.registry.getSingleMetricAsString('storyteller_gateway_frames_rejected_total');
    expect(m).toContain('code="RATE_LIMITED"');
    expect(m).toContain('code="AUTH_REQUIRED"');
  });

  it('limits connections per address (HTTP 429 on upgrade) and serves /healthz, /readyz and /metrics', async () => {
    await boot({ maxConnectionsPerIp: 2 });
    const s = await connect();
    await s.start();
    await s.play('c-1', 'look');
    await connect();
    await expect(GatewaySocket.open(`ws://127.0.0.1:${gateway.port}/ws`)).rejects.toThrow('HTTP 429');

    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, database: true });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/storyteller_gateway_ack_ms_count 1\b/);
    expect(metrics).toMatch(/storyteller_gateway_turn_ms_count 1\b/);
    expect(metrics).toMatch(/storyteller_gateway_connections 2\b/);
    expect(metrics).toMatch(/storyteller_gateway_sessions\{state="active"\} 1\b/);
    expect(metrics).toContain('storyteller_scene_entry_step_ms_bucket');
    expect(metrics).toContain('storyteller_sessions_active 1');
  });
});
