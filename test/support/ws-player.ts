import { PlayerClient, type PlayerClientOptions } from '../../src/gateway/player-client.ts';
import type { ServerFrame, ServerFrameOf } from '../../src/gateway/protocol.ts';
import type { AckedInput } from '../../src/testing/ledger-audit.ts';

/**
 * A player for the outage tests: the real PlayerClient (buffers every line, resends
 * what is unanswered after a reconnect or a retryable refusal) plus a record of what the
 * server said — acks (the oracle's "acknowledged" set), refusals by code, answers, scenes,
 * close codes. Waits are promises resolved by client events (no sleeps).
 */
export class TrackedPlayer {
  readonly client: PlayerClient;
  readonly acks = new Map<string, { inputId: number; sessionId: string | null }>();
  readonly refusals: Array<{ clientInputId: string | undefined; code: string; message: string }> = [];
  readonly answers = new Map<string, number>();
  /** narrative.done frames per clientInputId (a replayed answer counts: the client saw it again). */
  readonly doneFrames: Array<ServerFrameOf<'narrative.done'>> = [];
  readonly scenes: string[] = [];
  readonly closeCodes: number[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(options: PlayerClientOptions) {
    this.client = new PlayerClient({ backoffBaseMs: 100, backoffMaxMs: 1_000, ...options });
    this.client.events.on('frame', (f: ServerFrame) => {
      if (f.type === 'ack') this.acks.set(f.clientInputId, { inputId: f.inputId, sessionId: this.client.store.sessionId });
      else if (f.type === 'error') this.refusals.push({ clientInputId: f.clientInputId, code: f.code, message: f.message });
      else if (f.type === 'narrative.done') {
        this.answers.set(f.clientInputId, f.inputId);
        this.doneFrames.push(f);
      } else if (f.type === 'scene.entered') this.scenes.push(f.scene);
      this.#wake();
    });
    this.client.events.on('closed', (code: number) => {
      this.closeCodes.push(code);
      this.#wake();
    });
    this.client.events.on('status', () => this.#wake());
    this.client.events.on('line', () => this.#wake());
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves once `done()` holds (checked now and after every client event). */
  until(done: () => boolean, what = 'condition'): Promise<void> {
    return new Promise((resolve) => {
      if (done()) {
        resolve();
        return;
      }
      const check = () => {
        if (!done()) return;
        this.#waiters.delete(check);
        resolve();
      };
      check.toString = () => what;
      this.#waiters.add(check);
    });
  }

  get sessionId(): string | null {
    return this.client.store.sessionId;
  }

  start(): Promise<void> {
    return this.client.start();
  }

  type(text: string): string {
    return this.client.input(text);
  }

  acked(clientInputId: string): Promise<void> {
    return this.until(() => this.acks.has(clientInputId), `ack ${clientInputId}`);
  }

  answered(clientInputId: string): Promise<void> {
    return this.until(() => this.answers.has(clientInputId), `answer ${clientInputId}`);
  }

  /** Every line typed so far is answered. */
  allAnswered(): Promise<void> {
    return this.until(() => this.client.unanswered() === 0 && this.client.store.lines.every((l) => this.answers.has(l.clientInputId) || l.state === 'answered'), 'all answered');
  }

  refusedWith(code: string, clientInputId?: string): Promise<void> {
    return this.until(() => this.refusals.some((r) => r.code === code && (clientInputId === undefined || r.clientInputId === clientInputId)), `refusal ${code}`);
  }

  ready(): Promise<void> {
    return this.until(() => this.client.ready, 'ready');
  }

  /** The acknowledged inputs as the ledger oracle takes them. */
  ackedInputs(): AckedInput[] {
    return [...this.acks].flatMap(([clientInputId, a]) => (a.sessionId ? [{ sessionId: a.sessionId, clientInputId, inputId: a.inputId }] : []));
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** What this player still waits for and what it last saw (printed when a test fails or times out). */
  describe(): string {
    const lines = this.client.store.lines.map((l) => `${l.clientInputId}:${l.state}${this.acks.has(l.clientInputId) ? '+ack' : ''}${this.answers.has(l.clientInputId) ? '+done' : ''}`);
    return [
      `session ${this.sessionId ?? '-'} ready=${this.client.ready} unanswered=${this.client.unanswered()}`,
      `  waiting for: ${[...this.#waiters].map(String).join(', ') || 'nothing'}`,
      `  lines: ${lines.join(' ')}`,
      `  scenes: ${this.scenes.join(' → ')}; closes: ${this.closeCodes.join(',') || 'none'}; last refusals: ${JSON.stringify(this.refusals.slice(-3))}`,
    ].join('\n');
  }
}
