import type { LedgerRecord, NewEvent } from '../domain/events.ts';
import { isStorytellerError, StorytellerError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { AppendOutcome, AppendRow } from './ledger-append.ts';
import { rowToRecord } from './ledger-rows.ts';

/**
 * The asynchronous, batched writer behind `Ledger.appendEvents`: NarrativeEvents,
 * InterpretiveJudgments and TurnCompleted rows are off the player's critical path, so
 * they are collected for `flushMs` (or until `maxBatch` rows) and written in one
 * statement for all sessions.
 *
 * Failure behaviour (never a silent drop):
 * - A batch failing for a transient reason (connection, lock timeout, a raised
 *   exception) is retried with exponential backoff, `retry.attempts` times.
 * - If it still fails, its requests go back to the head of the queue in order, every
 *   pending `flush()` covering them rejects with LEDGER_WRITE_FAILED, the error is
 *   logged, and the writer keeps retrying every `retry.maxMs` in the background. The
 *   `appendEvents` promises stay pending until their rows are durable.
 * - A batch failing for a data reason (SQLSTATE class 22/23) is split: each request is
 *   written alone, so only the offending request fails (its promise rejects with
 *   LEDGER_WRITE_FAILED, and flush reports it).
 * - Rows for an unknown session reject with SESSION_NOT_FOUND, a stale epoch with
 *   LEDGER_FENCED; neither is retried.
 * - `close()` flushes; whatever still cannot be written is rejected with
 *   LEDGER_WRITE_FAILED and handed back in the error's `details.unwritten`.
 */
export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 25, maxMs: 2_000 };

export interface EventWriterOptions {
  maxBatch: number;
  flushMs: number;
  retry: RetryPolicy;
  logger: Logger;
  /** Writes one batch in one statement (the ledger binds this to `appendRows`). */
  write: (rows: readonly AppendRow[]) => Promise<AppendOutcome[]>;
  /** Called before each retry of a failed batch (metrics). */
  onRetry?: () => void;
  /** Called as each batch write starts, with how long each of its requests waited (ms; metrics). */
  onBatch?: (waitsMs: number[]) => void;
}

type Outcome = { ok: true } | { ok: false; error: unknown };

interface EventRequest {
  sessionId: string;
  events: NewEvent[];
  rows: AppendRow[];
  /** performance.now() at enqueue (the commit-wait metric). */
  at: number;
  state: 'queued' | 'writing' | 'done' | 'failed';
  resolve: (records: LedgerRecord[]) => void;
  reject: (error: unknown) => void;
  /** flush() callers waiting for this request's next outcome. */
  waiters: Array<(outcome: Outcome) => void>;
  error?: unknown;
}

export interface UnwrittenEvents {
  sessionId: string;
  events: NewEvent[];
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | null)?.code;
  return typeof code === 'string' && code.length === 5 ? code : undefined;
}

/** Data exceptions and integrity violations do not heal by retrying. */
function isPermanent(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class EventWriter {
  readonly #o: EventWriterOptions;
  #queue: EventRequest[] = [];
  #inFlight: EventRequest[] = [];
  #writing = false;
  #flushRequested = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Requests that failed for good while no flush() was waiting: the next flush reports them. */
  #unreported: EventRequest[] = [];

  constructor(options: EventWriterOptions) {
    this.#o = options;
  }

  /** Queues validated events of one session; resolves with their records once durable. */
  enqueue(sessionId: string, events: NewEvent[], rows: AppendRow[]): Promise<LedgerRecord[]> {
    if (this.#closed) return Promise.reject(new StorytellerError('ENGINE_SHUTTING_DOWN', 'the ledger is closed'));
    const promise = new Promise<LedgerRecord[]>((resolve, reject) => {
      this.#queue.push({ sessionId, events, rows, at: performance.now(), state: 'queued', resolve, reject, waiters: [] });
    });
    // Callers may ignore the promise: failures are reported through flush() and the log.
    promise.catch(() => undefined);
    if (this.#queuedRows() >= this.#o.maxBatch) this.#kick(true);
    else this.#arm(this.#o.flushMs);
    return promise;
  }

  /** Rows queued or being written (the backlog metric). */
  get backlogRows(): number {
    return this.#queuedRows() + this.#inFlight.reduce((n, r) => n + r.rows.length, 0);
  }

  /** Events queued or in flight, per session (for diagnostics and shutdown reports). */
  pending(sessionId?: string): UnwrittenEvents[] {
    return [...this.#inFlight, ...this.#queue]
      .filter((r) => (sessionId === undefined || r.sessionId === sessionId) && (r.state === 'queued' || r.state === 'writing'))
      .map((r) => ({ sessionId: r.sessionId, events: r.events }));
  }

  /**
   * Writes now everything queued before the call (for one session or all) and resolves
   * once it is durable; rejects with LEDGER_WRITE_FAILED if any of it failed (LEDGER_FENCED
   * when all that failed was fenced by a newer owner).
   *
   * `ownerEpoch`: the caller owns the session at this epoch, so requests of an older epoch
   * belong to a superseded owner (an actor released during an outage, say, whose writes are
   * still queued): they can only be fenced, and their outcome is not this flush's. Without
   * it, a new owner's scene exit would fail on its predecessor's stale batch.
   */
  async flush(sessionId?: string, ownerEpoch?: number): Promise<void> {
    const ofSession = (r: EventRequest) => sessionId === undefined || r.sessionId === sessionId;
    const superseded = (r: EventRequest) => ownerEpoch !== undefined && (r.rows[0]?.epoch ?? ownerEpoch) < ownerEpoch;
    const mine = (r: EventRequest) => ofSession(r) && !superseded(r);
    const targets = [...this.#inFlight, ...this.#queue].filter((r) => mine(r) && (r.state === 'queued' || r.state === 'writing'));
    const earlier: Outcome[] = this.#unreported.filter(mine).map((r) => ({ ok: false, error: r.error }));
    // A superseded owner's failures are dropped with this session's own: nobody else would report them.
    this.#unreported = this.#unreported.filter((r) => !ofSession(r));
    if (targets.length === 0 && earlier.length === 0) return;
    const outcomes = Promise.all(targets.map((r) => new Promise<Outcome>((resolve) => r.waiters.push(resolve))));
    if (targets.length > 0) this.#kick(true);
    const failed = [...earlier, ...(await outcomes)].filter((o): o is { ok: false; error: unknown } => !o.ok);
    if (failed.length > 0) {
      const first = failed[0]!.error;
      // Only fencing: this caller is the superseded owner, and says so with the specific code
      // (the gateway moves its players on: LEDGER_FENCED), not as a write failure.
      if (failed.every((f) => isStorytellerError(f.error, 'LEDGER_FENCED'))) throw first;
      throw new StorytellerError('LEDGER_WRITE_FAILED', `${failed.length} of ${targets.length + earlier.length} event requests were not written: ${(first as Error).message}`, {
        cause: first,
        details: {
          failed: failed.length,
          codes: [...new Set(failed.map((f) => (isStorytellerError(f.error) ? f.error.code : (sqlState(f.error) ?? 'UNKNOWN'))))],
          stillQueued: this.pending(sessionId).reduce((n, p) => n + p.events.length, 0),
        },
      });
    }
  }

  /**
   * Flushes, stops timers, and rejects whatever could not be written, handing it back in
   * the error's `details.unwritten`. Requests that already failed for good (and were
   * reported to their promise) are only logged here.
   */
  async close(): Promise<void> {
    this.#closed = true;
    let failure: unknown;
    try {
      await this.flush();
    } catch (error) {
      failure = error;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const unwritten = this.pending();
    if (unwritten.length === 0) {
      if (failure !== undefined) this.#o.logger.warn({ err: failure }, 'ledger closed; some event requests had failed earlier');
      return;
    }
    const error = new StorytellerError('LEDGER_WRITE_FAILED', `ledger closed with ${unwritten.reduce((n, u) => n + u.events.length, 0)} events unwritten`, {
      cause: failure,
      details: { unwritten },
    });
    for (const r of this.#queue.splice(0)) this.#settle(r, error);
    this.#o.logger.error({ err: error, unwritten: unwritten.length }, 'ledger closed with unwritten events');
    throw error;
  }

  #queuedRows(): number {
    return this.#queue.reduce((n, r) => n + r.rows.length, 0);
  }

  #arm(ms: number): void {
    if (this.#timer || this.#writing || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick(false);
    }, ms);
  }

  #kick(urgent: boolean): void {
    if (urgent) this.#flushRequested = true;
    if (this.#writing) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    let stalled = false;
    while (this.#queue.length > 0) {
      const batch: EventRequest[] = [];
      let rows = 0;
      while (this.#queue.length > 0 && (batch.length === 0 || rows + this.#queue[0]!.rows.length <= this.#o.maxBatch)) {
        const next = this.#queue.shift()!;
        rows += next.rows.length;
        next.state = 'writing';
        batch.push(next);
      }
      this.#inFlight = batch;
      if (this.#o.onBatch) {
        const now = performance.now();
        this.#o.onBatch(batch.map((r) => now - r.at));
      }
      const delivered = await this.#writeWithRetry(batch);
      this.#inFlight = [];
      if (!delivered) {
        stalled = true;
        break;
      }
      // Natural batching: keep going while someone waits or a full batch is ready.
      if (!this.#flushRequested && this.#queuedRows() < this.#o.maxBatch) break;
    }
    this.#writing = false;
    if (this.#queue.length === 0) this.#flushRequested = false;
    if (this.#queue.length > 0) {
      if (stalled) this.#arm(this.#o.retry.maxMs);
      else if (this.#flushRequested) this.#kick(true);
      else this.#arm(this.#o.flushMs);
    }
  }

  /** Returns false when the batch was put back (transient failure after every attempt). */
  async #writeWithRetry(batch: EventRequest[]): Promise<boolean> {
    const { attempts, baseMs, maxMs } = this.#o.retry;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#writeOnce(batch);
        return true;
      } catch (error) {
        if (isPermanent(error)) {
          if (batch.length > 1) {
            // Isolate the offending request: write each alone.
            for (const request of batch) await this.#writeWithRetry([request]);
            return true;
          }
          const failure = new StorytellerError('LEDGER_WRITE_FAILED', `event batch rejected by the database: ${(error as Error).message}`, {
            cause: error,
            details: { sessionId: batch[0]!.sessionId, sqlState: sqlState(error) },
          });
          this.#o.logger.error({ err: error, sessionId: batch[0]!.sessionId }, 'ledger event batch rejected');
          this.#settle(batch[0]!, failure);
          return true;
        }
        if (attempt >= attempts) {
          const failure = new StorytellerError('LEDGER_WRITE_FAILED', `event batch not written after ${attempts} attempts (still queued): ${(error as Error).message}`, {
            cause: error,
            details: { attempts, requests: batch.length },
          });
          this.#o.logger.error({ err: error, attempts, requests: batch.length }, 'ledger event batch failed; kept queued for retry');
          for (const request of batch) request.state = 'queued';
          this.#queue.unshift(...batch);
          for (const request of batch) for (const wake of request.waiters.splice(0)) wake({ ok: false, error: failure });
          return false;
        }
        this.#o.logger.warn({ err: error, attempt }, 'ledger event batch failed; retrying');
        this.#o.onRetry?.();
        await delay(Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
      }
    }
  }

  async #writeOnce(batch: EventRequest[]): Promise<void> {
    // Fold repeated idempotency keys inside the batch onto their first row.
    const unique: AppendRow[] = [];
    const firstIndex = new Map<string, number>();
    const slots: number[][] = batch.map((request) =>
      request.rows.map((row) => {
        const key = row.idempotencyKey === null ? null : `${row.sessionId}\u0000${row.idempotencyKey}`;
        const seen = key === null ? undefined : firstIndex.get(key);
        if (seen !== undefined) return seen;
        unique.push(row);
        if (key !== null) firstIndex.set(key, unique.length - 1);
        return unique.length - 1;
      }),
    );
    const outcomes = await this.#o.write(unique);
    const retry: EventRequest[] = [];
    batch.forEach((request, i) => {
      const mine = slots[i]!.map((slot) => outcomes[slot]!);
      const bad = mine.find((o) => o.status === 'no_session' || o.status === 'fenced');
      if (bad?.status === 'no_session') {
        this.#settle(request, new StorytellerError('SESSION_NOT_FOUND', `no session ${request.sessionId}`, { details: { sessionId: request.sessionId } }));
      } else if (bad?.status === 'fenced') {
        this.#settle(
          request,
          new StorytellerError('LEDGER_FENCED', `session ${request.sessionId} is owned by epoch ${bad.ownerEpoch}`, {
            details: { sessionId: request.sessionId, epoch: request.rows[0]?.epoch, ownerEpoch: bad.ownerEpoch },
          }),
        );
      } else if (mine.some((o) => o.status === 'conflict')) {
        // Lost a race on an idempotency key to another writer: the next round sees its row.
        retry.push(request);
      } else {
        try {
          this.#settle(request, null, mine.map((o) => rowToRecord(o.row)));
        } catch (error) {
          this.#settle(request, error);
        }
      }
    });
    if (retry.length > 0) {
      for (const request of retry) request.state = 'queued';
      this.#queue.unshift(...retry);
      this.#flushRequested = true;
    }
  }

  #settle(request: EventRequest, error: unknown, records?: LedgerRecord[]): void {
    if (error === null && records) {
      request.state = 'done';
      request.resolve(records);
      for (const wake of request.waiters.splice(0)) wake({ ok: true });
      return;
    }
    request.state = 'failed';
    request.error = error;
    request.reject(error);
    if (request.waiters.length === 0 && !this.#closed) this.#unreported.push(request);
    for (const wake of request.waiters.splice(0)) wake({ ok: false, error });
  }
}
