import { EventEmitter } from 'node:events';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { z } from 'zod';
import { decodeServerFrame, PROTOCOL_VERSION, type ClientFrame, type ServerFrame } from './protocol.ts';

/**
 * A protocol client for Node (the terminal's `play --url`, tests, the load generator's
 * model): the same buffering as the web client. Every line is stored (a JSON file when
 * `storePath` is given) before it is sent, tracked pending → saved → answered, and sent
 * again in order after each reconnect; the connection comes back with exponential
 * backoff and full jitter. Events: 'frame' (every server frame), 'status'
 * ('connecting' | 'ready' | 'offline'), 'line' (a line's state changed).
 */
const lineState = z.enum(['pending', 'saved', 'answered', 'refused']);
const storeSchema = z.object({
  token: z.string().nullable(),
  sessionId: z.string().nullable(),
  device: z.string(),
  seq: z.number().int().nonnegative(),
  lines: z.array(z.object({ clientInputId: z.string(), text: z.string(), state: lineState, inputId: z.number().optional() })),
});
export type ClientStore = z.infer<typeof storeSchema>;
export type LineState = z.infer<typeof lineState>;

export interface PlayerClientOptions {
  /** The gateway; several (instances behind no load balancer): the next one is tried after each close. */
  url: string | readonly string[];
  /** Where the token, the session and the lines are kept (none: memory only). */
  storePath?: string;
  /** Start a new game instead of resuming the stored one. */
  fresh?: boolean;
  storyId?: string;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

const MAX_UNACKED = 16;

export class PlayerClient {
  readonly events = new EventEmitter();
  readonly #options: PlayerClientOptions;
  #store: ClientStore = { token: null, sessionId: null, device: randomBytes(4).toString('hex'), seq: 0, lines: [] };
  #ws: WebSocket | null = null;
  #ready = false;
  #closed = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();
  #requests: ClientFrame[] = [];
  /** Lines to send, in order; at most MAX_UNACKED on the wire (the server's rate limit allows a burst of 40). */
  #outbox: string[] = [];
  #unacked = 0;
  /** Lines refused with a retryable code while connected, resent after a backoff. */
  #resendTimer: NodeJS.Timeout | null = null;
  #resendAttempt = 0;
  #urlIndex = 0;

  constructor(options: PlayerClientOptions) {
    this.#options = options;
  }

  get store(): Readonly<ClientStore> {
    return this.#store;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Lines not yet answered (pending or saved). */
  unanswered(): number {
    return this.#store.lines.filter((l) => l.state === 'pending' || l.state === 'saved').length;
  }

  /** Resolves once the store file holds every change made so far. */
  persisted(): Promise<void> {
    return this.#writing;
  }

  async start(): Promise<void> {
    if (this.#options.storePath) {
      try {
        const parsed = storeSchema.safeParse(JSON.parse(await readFile(this.#options.storePath, 'utf8')));
        if (parsed.success) this.#store = parsed.data;
      } catch {
        // no store yet
      }
    }
    if (this.#options.fresh) this.#store = { ...this.#store, sessionId: null, lines: [] };
    this.#connect();
  }

  /** Types a line: kept, then sent (now or after the next reconnect). Returns its clientInputId. */
  input(text: string): string {
    this.#store.seq += 1;
    const clientInputId = `t-${this.#store.device}-${this.#store.seq}`;
    this.#store.lines.push({ clientInputId, text, state: 'pending' });
    this.#persist();
    this.#outbox.push(clientInputId);
    this.#pump();
    return clientInputId;
  }

  /** A frame that needs the session (hint, save): sent now, or once the session is ready (in order with the lines). */
  request(frame: Extract<ClientFrame, { type: 'hint' | 'save' }>): void {
    if (this.#ready) this.#send(frame);
    else this.#requests.push(frame);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#resendTimer) clearTimeout(this.#resendTimer);
    const ws = this.#ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
      });
    }
    await this.#writing;
  }

  #connect(): void {
    if (this.#closed) return;
    this.events.emit('status', 'connecting');
    const urls = typeof this.#options.url === 'string' ? [this.#options.url] : this.#options.url;
    const ws = new WebSocket(urls[this.#urlIndex % urls.length] as string);
    this.#ws = ws;
    ws.on('open', () => {
      this.#attempt = 0;
      this.#send({ type: 'hello', v: PROTOCOL_VERSION, ...(this.#store.token ? { token: this.#store.token } : {}), client: 'terminal' });
    });
    ws.on('message', (data) => {
      let frame: ServerFrame;
      try {
        frame = decodeServerFrame(data.toString());
      } catch {
        return;
      }
      this.#onFrame(frame);
      this.events.emit('frame', frame);
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      this.#ready = false;
      if (this.#heartbeat) clearInterval(this.#heartbeat);
      this.events.emit('closed', code);
      if (this.#closed) return;
      // With several gateways: the next one (the session moves with its token, docs/protocol.md).
      this.#urlIndex += 1;
      if (code === 4401 && this.#store.token) {
        this.#store.token = null;
        this.#store.sessionId = null;
      }
      this.events.emit('status', 'offline');
      // Moved (4503 graceful shutdown, 4409 another instance took the session): reconnect soon
      // (within one base backoff, jittered so a drained instance's clients do not arrive at once).
      const moved = code === 4409 || code === 4503;
      const cap = moved ? (this.#options.backoffBaseMs ?? 500) : Math.min(this.#options.backoffMaxMs ?? 15_000, (this.#options.backoffBaseMs ?? 500) * 2 ** this.#attempt);
      this.#attempt += 1;
      this.#timer = setTimeout(() => this.#connect(), Math.round(Math.random() * cap));
    });
  }

  #onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'welcome':
        this.#store.token = f.token;
        if (this.#heartbeat) clearInterval(this.#heartbeat);
        this.#heartbeat = setInterval(() => this.#send({ type: 'ping' }), Math.max(1000, Math.floor(f.heartbeatMs / 3)));
        this.#heartbeat.unref();
        if (this.#store.sessionId && f.sessionId === this.#store.sessionId) this.#send({ type: 'session.resume', sessionId: this.#store.sessionId });
        else this.#send({ type: 'session.start', ...(this.#options.storyId ? { storyId: this.#options.storyId } : {}) });
        return;
      case 'session.ready':
        this.#store.token = f.token;
        this.#store.sessionId = f.sessionId;
        this.#ready = true;
        this.#persist();
        this.events.emit('status', 'ready');
        this.#unacked = 0;
        this.#outbox = this.#store.lines.filter((l) => l.state === 'pending' || l.state === 'saved').map((l) => l.clientInputId);
        this.#pump();
        for (const r of this.#requests.splice(0)) this.#send(r);
        return;
      case 'ack':
        this.#resendAttempt = 0;
        this.#setLine(f.clientInputId, (l) => (l.state === 'answered' ? l.state : 'saved'), f.inputId);
        this.#unacked = Math.max(0, this.#unacked - 1);
        this.#pump();
        return;
      case 'narrative.done':
        this.#setLine(f.clientInputId, () => 'answered', f.inputId);
        return;
      case 'error':
        if (f.code === 'RATE_LIMITED' && !f.clientInputId) {
          // A dropped frame (which one is not said): every line sent and not yet acked goes again
          // after a backoff; a resend is idempotent (the server acks it with the original ids).
          this.#unacked = 0;
          for (const l of this.#store.lines) if (l.state === 'pending') this.#resendLater(l.clientInputId);
          return;
        }
        if (f.clientInputId) {
          this.#unacked = Math.max(0, this.#unacked - 1);
          this.#pump();
        }
        if (f.clientInputId && f.code !== 'STORAGE_UNAVAILABLE' && f.code !== 'ENGINE_SHUTTING_DOWN') this.#setLine(f.clientInputId, () => 'refused');
        else if (f.clientInputId) this.#resendLater(f.clientInputId);
        if (f.ref === 'session.resume' && (f.code === 'STORAGE_UNAVAILABLE' || f.code === 'ENGINE_SHUTTING_DOWN')) {
          // The session is fine, this server cannot open it now: ask again later (not a new game).
          const sessionId = this.#store.sessionId;
          const retry = setTimeout(() => {
            if (!this.#ready && sessionId) this.#send({ type: 'session.resume', sessionId });
          }, this.#options.backoffBaseMs ?? 500);
          retry.unref();
        } else if (f.ref === 'session.resume') {
          // The stored session cannot be resumed here: start a new game.
          this.#store.sessionId = null;
          this.#send({ type: 'session.start', ...(this.#options.storyId ? { storyId: this.#options.storyId } : {}) });
        }
        return;
      default:
        return;
    }
  }

  #setLine(clientInputId: string, next: (l: ClientStore['lines'][number]) => LineState, inputId?: number): void {
    const l = this.#store.lines.find((x) => x.clientInputId === clientInputId);
    if (!l) return;
    const state = next(l);
    if (state === l.state && (inputId === undefined || l.inputId === inputId)) return;
    const was = l.state;
    l.state = state;
    if (inputId !== undefined) l.inputId = inputId;
    // Answered lines beyond the last 200 are forgotten.
    const answered = this.#store.lines.filter((x) => x.state === 'answered' || x.state === 'refused');
    if (answered.length > 200) {
      const drop = new Set(answered.slice(0, answered.length - 200));
      this.#store.lines = this.#store.lines.filter((x) => !drop.has(x));
    }
    this.#persist();
    this.events.emit('line', { clientInputId, state, was, inputId: l.inputId });
  }

  /**
   * A line refused because the server cannot store it now (a database outage, a shutdown):
   * kept, and sent again after a backoff (doubling, with full jitter) — also without a
   * reconnect, since the connection itself is fine.
   */
  #resendLater(clientInputId: string): void {
    if (!this.#outbox.includes(clientInputId)) {
      // In typing order, ahead of the lines typed after it.
      const order = new Map(this.#store.lines.map((l, i) => [l.clientInputId, i]));
      this.#outbox = [...this.#outbox, clientInputId].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    }
    if (this.#resendTimer) return;
    const cap = Math.min(this.#options.backoffMaxMs ?? 15_000, (this.#options.backoffBaseMs ?? 500) * 2 ** this.#resendAttempt);
    this.#resendAttempt += 1;
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = null;
      this.#pump();
    }, Math.max(50, Math.round(Math.random() * cap)));
    this.#resendTimer.unref();
  }

  #pump(): void {
    if (this.#resendTimer) return;
    while (this.#ready && this.#outbox.length > 0 && this.#unacked < MAX_UNACKED) {
      const id = this.#outbox.shift() as string;
      const l = this.#store.lines.find((x) => x.clientInputId === id);
      if (!l || (l.state !== 'pending' && l.state !== 'saved')) continue;
      this.#send({ type: 'input', clientInputId: l.clientInputId, text: l.text });
      this.#unacked += 1;
    }
  }

  #send(frame: ClientFrame): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(frame));
  }

  #persist(): void {
    const path = this.#options.storePath;
    if (!path) return;
    const text = JSON.stringify(this.#store);
    // Writes in order; atomically (a crash leaves the previous file).
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.tmp`, text);
      await rename(`${path}.tmp`, path);
    }).catch(() => undefined);
  }
}
