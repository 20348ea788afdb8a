/**
 * Leader/follower batching ("natural batching"): the first request starts a write at
 * once; requests arriving while a write is in flight wait for it and then go out
 * together as the next write. There is no fixed wait, so a lone caller pays one
 * write's latency and a crowd shares one write per round. One write runs at a time,
 * which also keeps each session's rows in arrival order across batches.
 *
 * @example
 *   const committer = new GroupCommitter<Row, Stored>(async (rows) => writeAll(rows), 512);
 *   const stored = await committer.submit(row); // resolves only after its batch committed
 */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

export type BatchWriter<Req, Res> = (batch: readonly Req[]) => Promise<BatchResult<Res>[]>;

interface Pending<Req, Res> {
  request: Req;
  /** performance.now() at submit (the commit-wait metric). */
  at: number;
  resolve: (value: Res) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitStats {
  /** Writes issued so far. */
  batches: number;
  /** Requests answered so far. */
  requests: number;
  /** Largest batch written. */
  largestBatch: number;
}

export class GroupCommitter<Req, Res> {
  readonly #write: BatchWriter<Req, Res>;
  readonly #maxBatch: number;
  #queue: Pending<Req, Res>[] = [];
  #running = false;
  #idle: Array<() => void> = [];
  readonly stats: GroupCommitStats = { batches: 0, requests: 0, largestBatch: 0 };

  readonly #onBatch: ((waitsMs: number[]) => void) | undefined;

  /** `onBatch`: called as each write starts, with how long each of its requests waited (ms). */
  constructor(write: BatchWriter<Req, Res>, maxBatch: number, onBatch?: (waitsMs: number[]) => void) {
    this.#onBatch = onBatch;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    this.#write = write;
    this.#maxBatch = maxBatch;
  }

  /** Queues one request; resolves (or rejects) with its own outcome once its batch is written. */
  submit(request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.#queue.push({ request, at: performance.now(), resolve, reject });
      if (!this.#running) {
        this.#running = true;
        // nextTick, not a microtask: it runs once the current microtask queue has drained,
        // so callers woken by the same I/O event (and their promise chains) all get into the
        // first batch. No timer: nothing waits, and fake timers in tests do not stall it.
        process.nextTick(() => void this.#drain());
      }
    });
  }

  /** Requests waiting for the next write (not counting the one in flight). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Resolves once nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      if (this.#onBatch) {
        const now = performance.now();
        this.#onBatch(batch.map((p) => now - p.at));
      }
      let results: BatchResult<Res>[];
      try {
        results = await this.#write(batch.map((p) => p.request));
        if (results.length !== batch.length) throw new Error(`batch writer returned ${results.length} results for ${batch.length} requests`);
      } catch (error) {
        results = batch.map(() => ({ ok: false, error }));
      }
      this.stats.batches += 1;
      this.stats.requests += batch.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
      batch.forEach((pending, i) => {
        const result = results[i]!;
        if (result.ok) pending.resolve(result.value);
        else pending.reject(result.error);
      });
    }
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
