import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { Connection, type ConnectionServices, type Socket } from '../../../src/gateway/connection.ts';
import { CLOSE, type ServerFrame } from '../../../src/gateway/protocol.ts';
import { DEFAULT_LIMITS } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import { silentLogger } from '../../../src/logger.ts';

/**
 * Backpressure (issue 15 §3) as a pure unit: a socket whose buffered amount the test
 * sets (uWS's getBufferedAmount). Over throttleBytes droppable frames (narrative chunks)
 * are skipped — narrative.done carries the whole text — and over closeBytes the slow
 * reader is closed with 4508. Nothing is buffered without bound by the gateway itself.
 * Frames queue for the rest of the event-loop iteration and leave in one corked write
 * (`flush`, which the gateway runs from setImmediate; the tests call it).
 */
class FakeSocket implements Socket {
  buffered = 0;
  sent: string[] = [];
  ended: { code: number; reason: string } | null = null;
  /** Bytes each send adds to the buffer (a reader that reads nothing). */
  growth = 0;
  corks = 0;
  cork(write: () => void): void {
    this.corks += 1;
    write();
  }
  send(text: string): number {
    this.sent.push(text);
    this.buffered += this.growth;
    return 1;
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  end(code: number, reason: string): void {
    this.ended = { code, reason };
  }
}

function connection(socket: FakeSocket) {
  const clock = new SimulatedClock();
  const closes: number[] = [];
  const services: ConnectionServices = {
    tokens: new TokenSigner('unit-secret-of-at-least-thirty-two-characters'),
    limits: { ...DEFAULT_LIMITS, throttleBytes: 1000, closeBytes: 5000 },
    clock,
    now: () => clock.now(),
    logger: silentLogger,
    defaultStoryId: null,
    debug: null,
    startSession: () => Promise.reject(new Error('unused')),
    hub: () => {
      throw new Error('unused');
    },
    rejected: () => undefined,
    closed: (code) => closes.push(code),
  };
  return { c: new Connection(socket, services), closes, clock };
}

const chunk: ServerFrame = { type: 'narrative.chunk', inputId: 1, text: 'word ' };
const done: ServerFrame = { type: 'narrative.done', inputId: 1, clientInputId: 'c-1', turn: 1, text: 'word word', degraded: [], replayed: false };

describe('gateway backpressure', () => {
  it('skips droppable frames above the throttle mark but still sends the rest', () => {
    const socket = new FakeSocket();
    const { c } = connection(socket);
    c.send(chunk, true);
    c.flush();
    expect(socket.sent).toHaveLength(1);
    socket.buffered = 1001;
    c.send(chunk, true);
    c.send(chunk, true);
    c.flush();
    expect(socket.sent).toHaveLength(1);
    c.send(done);
    c.flush();
    expect(socket.sent.map((t) => JSON.parse(t).type)).toEqual(['narrative.chunk', 'narrative.done']);
    expect(socket.ended).toBeNull();
  });

  it('closes a reader that lets the buffer pass closeBytes with 4508, and sends nothing after', () => {
    const socket = new FakeSocket();
    socket.growth = 1200;
    const { c, closes } = connection(socket);
    for (let i = 0; i < 10; i++) c.send(done);
    c.flush();
    expect(socket.ended).toEqual({ code: CLOSE.SLOW_READER, reason: 'slow reader' });
    expect(closes).toEqual([CLOSE.SLOW_READER]);
    // 1200 per frame: the fifth send passes 5000.
    expect(socket.sent).toHaveLength(5);
  });

  it("one iteration's frames leave in one corked write, in order; nothing before the flush", () => {
    const socket = new FakeSocket();
    const { c } = connection(socket);
    c.send(chunk, true);
    c.send(chunk, true);
    c.send(done);
    expect(socket.sent).toHaveLength(0);
    c.flush();
    c.flush();
    expect(socket.corks).toBe(1);
    expect(socket.sent.map((t) => JSON.parse(t).type)).toEqual(['narrative.chunk', 'narrative.chunk', 'narrative.done']);
  });

  it('a close sends what was queued before it first (the error that explains it)', () => {
    const socket = new FakeSocket();
    const { c } = connection(socket);
    c.send({ type: 'error', code: 'AUTH_REQUIRED', message: 'hello first' });
    c.close(CLOSE.AUTH_FAILED, 'hello required');
    expect(socket.sent.map((t) => JSON.parse(t).type)).toEqual(['error']);
    expect(socket.ended?.code).toBe(CLOSE.AUTH_FAILED);
  });

  it('a connection that never says hello is closed by the heartbeat deadline (4408)', () => {
    const socket = new FakeSocket();
    const { c, clock } = connection(socket);
    clock.increment(DEFAULT_LIMITS.heartbeatTimeoutMs - 1);
    expect(socket.ended).toBeNull();
    clock.increment(1);
    expect(socket.ended?.code).toBe(CLOSE.HEARTBEAT_TIMEOUT);
    void c;
  });
});
