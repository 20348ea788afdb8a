import { describe, expect, it } from 'vitest';
import { backoffDelay, retryWithinCap } from '../../src/inference/llm/backoff.ts';
import { ManualClock, sleep } from '../../src/inference/llm/clock.ts';
import { TokenBucket } from '../../src/inference/llm/rate-limiter.ts';

/** Lets queued promise callbacks run (no timers involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TokenBucket (simulated clock)', () => {
  it('lets a burst of `capacity` through at once, then one per refill interval, in FIFO order', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 2, clock });
    await Promise.all([bucket.acquire(), bucket.acquire(), bucket.acquire()]);
    const order: number[] = [];
    const waiting = [4, 5, 6].map((n) => bucket.acquire().then(() => order.push(n)));
    await settle();
    expect(order).toEqual([]);
    expect(bucket.waiting).toBe(3);

    clock.advance(499);
    await settle();
    expect(order).toEqual([]);
    clock.advance(1);
    await settle();
    expect(order).toEqual([4]);
    clock.advance(500);
    await settle();
    expect(order).toEqual([4, 5]);
    clock.advance(500);
    await Promise.all(waiting);
    expect(order).toEqual([4, 5, 6]);
  });

  it('refills up to capacity only', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 10, clock });
    await bucket.acquire();
    await bucket.acquire();
    expect(bucket.available()).toBe(0);
    clock.advance(60_000);
    expect(bucket.available()).toBe(2);
  });

  it('a waiting caller can be cancelled; the next one still gets the token', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1, clock });
    await bucket.acquire();
    const controller = new AbortController();
    const cancelled = bucket.acquire(controller.signal);
    let secondDone = false;
    const second = bucket.acquire().then(() => (secondDone = true));
    controller.abort(new Error('player left'));
    await expect(cancelled).rejects.toThrow('player left');
    expect(bucket.waiting).toBe(1);
    clock.advance(1000);
    await second;
    expect(secondDone).toBe(true);
  });

  it('rejects nonsense settings', () => {
    expect(() => new TokenBucket({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ capacity: 1, refillPerSecond: 0 })).toThrow(RangeError);
  });
});

describe('ManualClock and sleep', () => {
  it('fires timers in due order and only when due', async () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimer(() => fired.push('b'), 20);
    clock.setTimer(() => fired.push('a'), 10);
    const cancel = clock.setTimer(() => fired.push('never'), 15);
    cancel();
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(20);
    const done = sleep(clock, 5);
    expect(clock.pending).toBe(1);
    clock.advance(5);
    await done;
  });

  it('sleep rejects with the abort reason', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const s = sleep(clock, 1000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(s).rejects.toThrow('stop');
    expect(clock.pending).toBe(0);
  });
});

describe('backoff', () => {
  it('grows exponentially up to the cap, with jitter in [50 %, 100 %]', () => {
    const policy = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay({ ...policy, random: () => 0.999999 }, a))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay({ ...policy, random: () => 0 }, 2)).toBe(200);
  });

  it('waits at least what retry-after asks, and refuses waits beyond the cap', () => {
    expect(backoffDelay({ baseMs: 100, maxMs: 1000, random: () => 0 }, 0, 750)).toBe(750);
    expect(backoffDelay({ baseMs: 100, maxMs: 1000, random: () => 0 }, 3, 10)).toBe(400);
    expect(retryWithinCap({ maxMs: 1000 }, 1000)).toBe(true);
    expect(retryWithinCap({ maxMs: 1000 }, 1001)).toBe(false);
    expect(retryWithinCap({ maxMs: 1000 }, undefined)).toBe(true);
  });
});
