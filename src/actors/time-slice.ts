/**
 * Cooperative time slicing for the turn cycle. Members that answer at once (rules, scripted
 * replies) would let one burst of turns — a group commit acknowledging twenty inputs, say —
 * run for tens of milliseconds without returning to the event loop, and every socket and
 * database reply (the next acks) waits behind it. A stretch (one event-loop iteration's
 * work) starts at most `startsPerSlice` turns, and none once it has run `sliceMs`; later
 * starts wait in a queue, and each later iteration (setImmediate, so pending I/O is polled
 * in between) starts the next ones in order. Both limits are needed: a turn's start is
 * cheap and the rest of it runs later in the same stretch (as promise callbacks), so twenty
 * starts woken by one commit would all see an unspent clock. Under light load nothing waits.
 *
 * @example
 * const slicer = createTimeSlicer();
 * slicer.run(() => startTurn());
 */
export interface TimeSlicer {
  /**
   * Runs `task` now, or on a later event-loop iteration when this stretch has used its slice
   * or earlier tasks still wait: tasks always run in the order they were given.
   */
  run(task: () => void): void;
}

export const DEFAULT_SLICE_MS = 2;
/** About 2 ms of turns at ~1 ms of CPU each. */
export const DEFAULT_STARTS_PER_SLICE = 2;

export function createTimeSlicer(options: { sliceMs?: number; startsPerSlice?: number; now?: () => number; defer?: (fn: () => void) => void } = {}): TimeSlicer {
  const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
  const startsPerSlice = options.startsPerSlice ?? DEFAULT_STARTS_PER_SLICE;
  const now = options.now ?? (() => performance.now());
  const defer = options.defer ?? ((fn: () => void) => void setImmediate(fn));
  let started = 0;
  let open = false;
  /** Tasks run in the current stretch. */
  let starts = 0;
  const waiting: Array<() => void> = [];
  let draining = false;

  /** True once the stretch that began with this iteration's first call is over its slice. */
  const expired = (): boolean => {
    const t = now();
    if (!open) {
      // The first call of a stretch; the stretch ends when the loop next reaches its check phase.
      open = true;
      started = t;
      starts = 0;
      defer(() => {
        open = false;
      });
      return false;
    }
    return t - started > sliceMs || starts >= startsPerSlice;
  };

  const drain = (): void => {
    // At least one task per iteration, so waiting starts always progress.
    let ran = 0;
    while (waiting.length > 0) {
      if (expired() && ran > 0) break;
      ran += 1;
      starts += 1;
      (waiting.shift() as () => void)();
    }
    if (waiting.length > 0) defer(drain);
    else draining = false;
  };

  return {
    run(task) {
      if (waiting.length === 0 && !expired()) {
        starts += 1;
        task();
        return;
      }
      waiting.push(task);
      if (!draining) {
        draining = true;
        defer(drain);
      }
    },
  };
}
