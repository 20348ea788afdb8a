/**
 * A token bucket per connection: `perSecond` frames refill continuously up to `burst`.
 * Time comes from the injected wall clock, so tests drive it without sleeping.
 */
export class RateLimiter {
  #tokens: number;
  #at: number;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;

  constructor(options: { perSecond: number; burst: number; now: () => number }) {
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#perMs = options.perSecond / 1000;
    this.#now = options.now;
    this.#at = options.now();
  }

  /** Takes one token; false when the bucket is empty (the frame is refused). */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
