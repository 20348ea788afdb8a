import { EventEmitter } from 'node:events';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { z } from 'zod';
import { decodeServerFrame, PROTOCOL_VERSION, RETRYABLE_INPUT_CODES, type ClientFrame, type ServerFrame } from './protocol.ts';

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
/** The share of the server's announced rate this client uses (pings and requests count too). */
const RATE_SHARE = 0.8;

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
  /** Lines to send, in the order typed; at most MAX_UNACKED on the wire, paced below the server's rate. */
  #outbox: string[] = [];
  /** Lines sent on this connection and not yet acked or refused. */
  readonly #onWire = new Set<string>();
  /** A line refused for now (rate, storage): sending pauses until this timer fires. */
  #retryTimer: NodeJS.Timeout | null = null;
  #retries = 0;
  #paceTimer: NodeJS.Timeout | null = null;
  #bucket = { tokens: 0, at: 0, perMs: 0, burst: 0 };
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
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#paceTimer) clearTimeout(this.#paceTimer);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
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
      case 'welcome': {
        // Pace below the announced rate (20/s, burst 40 when the server does not say).
        const rate = f.rate ?? { perSecond: 20, burst: 40 };
        const burst = Math.max(1, Math.floor(rate.burst * RATE_SHARE) - 2);
        // hello has used one token already.
        this.#bucket = { tokens: burst - 1, at: performance.now(), perMs: (rate.perSecond * RATE_SHARE) / 1000, burst };
        this.#store.token = f.token;
        if (this.#heartbeat) clearInterval(this.#heartbeat);
        this.#heartbeat = setInterval(() => this.#send({ type: 'ping' }), Math.max(1000, Math.floor(f.heartbeatMs / 3)));
        this.#heartbeat.unref();
        if (this.#store.sessionId && f.sessionId === this.#store.sessionId) this.#send({ type: 'session.resume', sessionId: this.#store.sessionId });
        else this.#send({ type: 'session.start', ...(this.#options.storyId ? { storyId: this.#options.storyId } : {}) });
        return;
      }
      case 'session.ready':
        this.#store.token = f.token;
        this.#store.sessionId = f.sessionId;
        this.#ready = true;
        this.#persist();
        this.events.emit('status', 'ready');
        this.#onWire.clear();
        this.#retries = 0;
        if (this.#retryTimer) clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
        this.#outbox = this.#store.lines.filter((l) => l.state === 'pending' || l.state === 'saved').map((l) => l.clientInputId);
        this.#pump();
        for (const r of this.#requests.splice(0)) this.#send(r);
        return;
      case 'ack':
        this.#setLine(f.clientInputId, (l) => (l.state === 'answered' ? l.state : 'saved'), f.inputId);
        if (this.#onWire.delete(f.clientInputId)) this.#retries = 0;
        this.#pump();
        return;
      case 'narrative.done':
        this.#setLine(f.clientInputId, () => 'answered', f.inputId);
        return;
      case 'error':
        if (f.clientInputId) {
          this.#onWire.delete(f.clientInputId);
          if (RETRYABLE_INPUT_CODES.has(f.code)) this.#retryLater(f.clientInputId);
          else this.#setLine(f.clientInputId, () => 'refused');
          this.#pump();
        }
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
   * A line refused for now: it goes back into the outbox at its place in the order typed
   * (the server refuses the lines sent after it too, so none overtakes it), and sending
   * pauses for a backoff with jitter before it is sent again on this connection.
   */
  #retryLater(clientInputId: string): void {
    const line = this.#store.lines.find((x) => x.clientInputId === clientInputId);
    if (!line || (line.state !== 'pending' && line.state !== 'saved')) return;
    if (!this.#outbox.includes(clientInputId)) {
      const order = new Map(this.#store.lines.map((l, i) => [l.clientInputId, i]));
      this.#outbox.push(clientInputId);
      this.#outbox.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    }
    if (this.#retryTimer) return;
    const cap = Math.min(this.#options.backoffMaxMs ?? 15_000, (this.#options.backoffBaseMs ?? 500) * 2 ** this.#retries);
    this.#retries += 1;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#pump();
    }, Math.round(cap / 2 + Math.random() * (cap / 2)));
  }

  #pump(): void {
    while (this.#ready && !this.#retryTimer && this.#outbox.length > 0 && this.#onWire.size < MAX_UNACKED) {
      const id = this.#outbox[0] as string;
      const l = this.#store.lines.find((x) => x.clientInputId === id);
      if (!l || (l.state !== 'pending' && l.state !== 'saved') || this.#onWire.has(id)) {
        this.#outbox.shift();
        continue;
      }
      if (!this.#take()) {
        this.#paceTimer ??= setTimeout(() => {
          this.#paceTimer = null;
          this.#pump();
        }, Math.ceil((1 - this.#bucket.tokens) / this.#bucket.perMs));
        return;
      }
      this.#outbox.shift();
      this.#send({ type: 'input', clientInputId: l.clientInputId, text: l.text }, false);
      this.#onWire.add(id);
    }
  }

  /** One token of the client's own bucket (every frame it sends takes one). */
  #take(force = false): boolean {
    const b = this.#bucket;
    const now = performance.now();
    b.tokens = Math.min(b.burst, b.tokens + (now - b.at) * b.perMs);
    b.at = now;
    if (b.tokens < 1 && !force) return false;
    b.tokens -= 1;
    return true;
  }

  #send(frame: ClientFrame, take = true): void {
    // Frames other than inputs are few (hello, ping, hint): they are counted, never held.
    if (take) this.#take(true);
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
