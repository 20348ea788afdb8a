import WebSocket from 'ws';
import { decodeServerFrame, PROTOCOL_VERSION, type ServerFrame, type ServerFrameOf, type ServerFrameType } from '../../src/gateway/protocol.ts';

/**
 * A real WebSocket to the gateway for tests: every frame received is decoded with the
 * protocol schema (a malformed server frame fails the test) and kept; `next(type)`
 * awaits the next one of a type (no sleeps: promises resolved by socket events).
 */
export class GatewaySocket {
  readonly frames: ServerFrame[] = [];
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  closeCode: number | null = null;
  /** Frames that failed the protocol schema (a server bug). */
  readonly undecodable: string[] = [];
  #cursor = new Map<string, number>();
  #waiters: Array<() => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data) => {
      try {
        this.frames.push(decodeServerFrame(data.toString()));
      } catch {
        this.undecodable.push(data.toString().slice(0, 500));
      }
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
  }

  static async open(url: string): Promise<GatewaySocket> {
    const s = new GatewaySocket(url);
    await s.opened;
    return s;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame of `type` after the previous one returned for that type (or `match`). */
  async next<T extends ServerFrameType>(type: T, match: (f: ServerFrameOf<T>) => boolean = () => true): Promise<ServerFrameOf<T>> {
    const key = type;
    for (;;) {
      const start = this.#cursor.get(key) ?? 0;
      for (let i = start; i < this.frames.length; i++) {
        const f = this.frames[i] as ServerFrame;
        if (f.type === type && match(f as ServerFrameOf<T>)) {
          this.#cursor.set(key, i + 1);
          return f as ServerFrameOf<T>;
        }
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed (${this.closeCode}) while waiting for ${type}; got ${JSON.stringify(this.frames.map((f) => f.type))}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  all<T extends ServerFrameType>(type: T): Array<ServerFrameOf<T>> {
    return this.frames.filter((f) => f.type === type) as Array<ServerFrameOf<T>>;
  }

  async hello(token?: string): Promise<ServerFrameOf<'welcome'>> {
    this.send({ type: 'hello', v: PROTOCOL_VERSION, ...(token ? { token } : {}) });
    return this.next('welcome');
  }

  /** hello + session.start: a new session. */
  async start(): Promise<ServerFrameOf<'session.ready'>> {
    await this.hello();
    this.send({ type: 'session.start' });
    return this.next('session.ready');
  }

  async resume(token: string, sessionId: string): Promise<ServerFrameOf<'session.ready'>> {
    await this.hello(token);
    this.send({ type: 'session.resume', sessionId });
    return this.next('session.ready');
  }

  /** Sends an input and resolves with its ack and its answer. */
  async play(clientInputId: string, text: string): Promise<{ ack: ServerFrameOf<'ack'>; done: ServerFrameOf<'narrative.done'> }> {
    this.send({ type: 'input', clientInputId, text });
    const ack = await this.next('ack', (a) => a.clientInputId === clientInputId);
    const done = await this.next('narrative.done', (d) => d.clientInputId === clientInputId);
    return { ack, done };
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }

  /** Drops the TCP connection without a close frame (a dead network). */
  kill(): Promise<{ code: number; reason: string }> {
    this.ws.terminate();
    return this.closed;
  }
}
