import { type Clock, systemClock } from './clock.ts';

/**
 * Token bucket per provider: up to `capacity` calls at once, refilled at `refillPerSecond`.
 * Callers wait in FIFO order; a waiting call can be cancelled through its AbortSignal.
 *
 * @example
 * const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 5 });
 * await bucket.acquire(signal); // resolves when a token is available
 */
export interface TokenBucketOptions {
  capacity: number;
  refillPerSecond: number;
  clock?: Clock;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly queue: Waiter[] = [];
  private cancelTimer: (() => void) | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: TokenBucketOptions) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) throw new RangeError('token bucket needs capacity ≥ 1 and a positive refill rate');
    this.clock = options.clock ?? systemClock;
    this.tokens = options.capacity;
    this.last = this.clock.now();
  }

  /** Tokens available now (fractional while refilling). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Number of callers waiting for a token. */
  get waiting(): number {
    return this.queue.length;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal?.reason);
          this.schedule();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      this.schedule();
    });
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.options.capacity, this.tokens + (elapsed / 1000) * this.options.refillPerSecond);
  }

  /** Serves waiters that can go now, then sets one timer for when the next token is due. */
  private schedule(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      const waiter = this.queue.shift()!;
      this.tokens -= 1;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    if (this.queue.length === 0) return;
    const waitMs = Math.ceil(((1 - this.tokens) / this.options.refillPerSecond) * 1000);
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = undefined;
      this.schedule();
    }, waitMs);
  }
}
