import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE, PROTOCOL_VERSION } from '../../../src/gateway/protocol.ts';
import { startGateway, type Gateway } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * Fuzz (issue 15): more than 10,000 random and mutated frames against a running
 * gateway over real sockets. Frames are invalid *by construction* (the generators
 * below break the protocol on purpose, independently of the server's schema), so each
 * one must be answered by exactly one typed error — counted per batch, closed off by a
 * ping/pong — or end the connection with a documented close code. Random sequences of
 * valid frames must only ever produce frames that decode with the protocol schema. The
 * server process is this one: a crash fails the run; afterwards it still plays a turn.
 */
const SECRET = 'fuzz-secret-of-at-least-thirty-two-characters!';
const MAX_FRAME = 4096;
const MAX_INVALID = 50;
const DOCUMENTED_CLOSES = new Set<number>([...Object.values(CLOSE), 1006, 1007]);
const KNOWN_TYPES = ['hello', 'session.start', 'session.resume', 'input', 'save', 'hint', 'ping', 'debug.subscribe'];

// ------------------------------------------------------------------ invalid by construction

const notJson = fc.string({ maxLength: 200 }).map((s) => `{${s}`.replace(/^\{\}$/, '{"x"'));
const nonObjectJson = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.string(), fc.array(fc.jsonValue(), { maxLength: 5 })).map((v) => JSON.stringify(v));
const unknownType = fc
  .record({ type: fc.string({ maxLength: 30 }).filter((t) => !KNOWN_TYPES.includes(t)), payload: fc.jsonValue() })
  .map((r) => JSON.stringify(r));
const noType = fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== 'type'), fc.jsonValue(), { maxKeys: 5 }).map((d) => JSON.stringify(d));
const badClientInputId = fc.oneof(fc.constant(''), fc.string({ minLength: 65, maxLength: 80 }), fc.string({ maxLength: 20 }).map((s) => `bad id ${s}`), fc.integer());
/** A known frame type with one field broken (wrong type, out of range, or an extra key on a strict frame). */
const mutatedKnown = fc.oneof(
  fc.record({ type: fc.constant('input'), clientInputId: badClientInputId, text: fc.string({ maxLength: 50 }) }),
  fc.record({ type: fc.constant('input'), clientInputId: fc.constant('ok-1'), text: fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string())) }),
  fc.record({ type: fc.constant('input'), text: fc.string({ maxLength: 20 }) }),
  fc.record({ type: fc.constant('hello'), v: fc.oneof(fc.string(), fc.constant(null), fc.double({ min: 0.1, max: 0.9 })) }),
  fc.record({ type: fc.constant('session.resume'), sessionId: fc.string({ maxLength: 40 }) }),
  fc.record({ type: fc.constant('session.start'), storyId: fc.oneof(fc.constant(''), fc.integer(), fc.string({ minLength: 201, maxLength: 220 })) }),
  fc.record({ type: fc.constantFrom('ping', 'save', 'hint', 'debug.subscribe'), x_extra: fc.jsonValue() }),
  fc.record({ type: fc.constant('ping'), t: fc.oneof(fc.string(), fc.boolean()) }),
).map((r) => JSON.stringify(r));
/** Over maxFrameBytes but within uWS's hard limit: PROTOCOL_FRAME_TOO_LARGE. */
const oversized = fc.integer({ min: MAX_FRAME + 1, max: MAX_FRAME * 3 }).map((n) => JSON.stringify({ type: 'input', clientInputId: 'big', text: 'y'.repeat(n) }));
const invalidText = fc.oneof(
  { weight: 3, arbitrary: mutatedKnown },
  { weight: 2, arbitrary: notJson },
  { weight: 1, arbitrary: nonObjectJson },
  { weight: 2, arbitrary: unknownType },
  { weight: 1, arbitrary: noType },
  { weight: 1, arbitrary: oversized },
);
type Invalid = { text: string } | { binary: Uint8Array };
const invalidFrame: fc.Arbitrary<Invalid> = fc.oneof(
  { weight: 12, arbitrary: invalidText.map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((binary) => ({ binary })) },
);

// ------------------------------------------------------------------ valid, in random order

const uuid = fc.uuid();
const validFrame = fc.oneof(
  fc.constant({ type: 'session.start' }),
  uuid.map((sessionId) => ({ type: 'session.resume', sessionId })),
  fc.record({ type: fc.constant('input'), clientInputId: fc.stringMatching(/^[a-z0-9]{1,8}$/), text: fc.string({ maxLength: 300 }) }),
  fc.constantFrom({ type: 'ping' }, { type: 'hint' }, { type: 'save' }, { type: 'debug.subscribe' }, { type: 'hello', v: PROTOCOL_VERSION }),
);

describe('gateway fuzz over real sockets (pg)', () => {
  let tdb: TestDatabase;
  let kit: TestingKit;
  let gateway: Gateway;
  const url = () => `ws://127.0.0.1:${gateway.port}/ws`;

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    kit = await TestingKit.create({ db: tdb.db });
    gateway = await startGateway({
      engine: kit.engine,
      db: tdb.db,
      tokens: new TokenSigner(SECRET),
      defaultStoryId: 'minimal',
      clocks: { clock: kit.clock, now: () => kit.now() },
      limits: { maxFrameBytes: MAX_FRAME, maxInvalidFrames: MAX_INVALID, rate: { perSecond: 1, burst: 1e9 } },
      maxConnectionsPerIp: 10_000,
      staticDir: null,
    });
  });
  afterAll(async () => {
    await gateway.close();
    await kit.shutdown();
    await tdb.close();
  });

  const sendInvalid = (s: GatewaySocket, f: Invalid) => ('text' in f ? s.ws.send(f.text) : s.ws.send(f.binary, { binary: true }));

  it('10,000+ invalid frames: one typed error each, a documented close after too many, no crash', async () => {
    const frames = fc.sample(invalidFrame, { numRuns: 10_200, seed: 15 });
    let sent = 0;
    let errors = 0;
    let closedByLimit = 0;
    let connections = 0;
    for (let i = 0; i < frames.length; ) {
      const s = await GatewaySocket.open(url());
      await s.hello();
      // Every fifth connection goes past the invalid-frame limit and must be closed (4400).
      const overLimit = ++connections % 5 === 0;
      const batch = frames.slice(i, i + (overLimit ? MAX_INVALID : MAX_INVALID - 1));
      i += batch.length;
      for (const f of batch) sendInvalid(s, f);
      sent += batch.length;
      if (overLimit && batch.length === MAX_INVALID) {
        const { code } = await s.closed;
        expect(code).toBe(CLOSE.TOO_MANY_INVALID_FRAMES);
        closedByLimit += 1;
      } else {
        s.send({ type: 'ping', t: i });
        await s.next('pong', (p) => p.t === i);
        s.ws.close();
      }
      expect(s.undecodable).toEqual([]);
      const errs = s.all('error');
      expect(errs).toHaveLength(batch.length);
      for (const e of errs) expect(['PROTOCOL_FRAME_INVALID', 'PROTOCOL_FRAME_TOO_LARGE']).toContain(e.code);
      errors += errs.length;
    }
    expect(sent).toBeGreaterThanOrEqual(10_000);
    expect(errors).toBe(sent);
    expect(closedByLimit).toBeGreaterThan(0);
  });

  it('an invalid first frame (before hello) is refused and closed with 4401; invalid UTF-8 is closed by uWS', async () => {
    const firsts = fc.sample(invalidFrame, { numRuns: 200, seed: 16 });
    for (const f of firsts) {
      const s = await GatewaySocket.open(url());
      sendInvalid(s, f);
      const { code } = await s.closed;
      expect(code).toBe(CLOSE.AUTH_FAILED);
      expect(s.all('error').map((e) => e.code)).toEqual(['AUTH_REQUIRED']);
    }
    const s = await GatewaySocket.open(url());
    await s.hello();
    s.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(DOCUMENTED_CLOSES.has((await s.closed).code)).toBe(true);
  });

  it('random sequences of valid frames only ever get schema-valid answers or documented closes; the server still plays afterwards', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(validFrame, { minLength: 1, maxLength: 40 }), async (sequence) => {
        const s = await GatewaySocket.open(url());
        await s.hello();
        for (const f of sequence) s.send(f);
        s.send({ type: 'ping', t: -1 });
        try {
          await s.next('pong', (p) => p.t === -1);
        } catch {
          expect(DOCUMENTED_CLOSES.has((await s.closed).code)).toBe(true);
        }
        s.ws.terminate();
        // Every frame received decodes with the protocol schema.
        expect(s.undecodable).toEqual([]);
        for (const e of s.all('error')) expect(e.code).toMatch(/^[A-Z_]+$/);
      }),
      { numRuns: 60, seed: 17 },
    );
    const health = await fetch(`http://127.0.0.1:${gateway.port}/healthz`);
    expect(health.status).toBe(200);
    const s = await GatewaySocket.open(url());
    await s.start();
    const { done } = await s.play('after-fuzz', 'still standing');
    expect(done.text).toContain('still standing');
    s.ws.close();
  });
});
