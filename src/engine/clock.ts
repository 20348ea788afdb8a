/** xstate's scheduler clock (the `clock` option of `createActor`; not re-exported by xstate). */
export interface Clock {
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
}

/**
 * Two clocks, injected (architecture §3): xstate's `Clock` schedules every `after`
 * timer and agent timeout (a `SimulatedClock` in tests), and `WallClock` stamps every
 * timestamp the session reads (grace deadlines). They must agree: in tests the wall
 * clock reads the simulated clock.
 */
export type WallClock = () => number;

export interface EngineClocks {
  clock: Clock;
  now: WallClock;
}

/** The real clocks of a running process. */
export function realClocks(): EngineClocks {
  return {
    clock: {
      setTimeout: (fn: (...args: unknown[]) => void, ms: number) => setTimeout(fn, ms),
      clearTimeout: (id: unknown) => clearTimeout(id as NodeJS.Timeout),
    },
    now: () => Date.now(),
  };
}
