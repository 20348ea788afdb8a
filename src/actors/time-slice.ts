/**
 * Cooperative time slicing for the turn cycle. Members that answer at once (rules, scripted
 * replies) would let one burst of turns — a group commit acknowledging twenty inputs, say —
 * run for tens of milliseconds without returning to the event loop, and every socket and
 * database reply (the next acks) waits behind it. A slicer says when the current stretch of
 * work has run longer than `sliceMs`: the agent shell then starts the next turn on a later
 * event-loop iteration (setImmediate), after pending I/O. Under light load it never says
 * so, and the turn starts at once.
 *
 * @example
 * const slicer = createTimeSlicer();
 * if (slicer.expired()) await new Promise((r) => setImmediate(r));
 */
export interface TimeSlicer {
  /** True once the stretch that began with this event-loop iteration's first call is over `sliceMs`. */
  expired(): boolean;
}

export const DEFAULT_SLICE_MS = 2;

export function createTimeSlicer(options: { sliceMs?: number; now?: () => number; defer?: (fn: () => void) => void } = {}): TimeSlicer {
  const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
  const now = options.now ?? (() => performance.now());
  const defer = options.defer ?? ((fn: () => void) => void setImmediate(fn));
  let started = 0;
  let open = false;
  return {
    expired() {
      const t = now();
      if (!open) {
        // The first call of a stretch; the stretch ends when the loop next reaches its check phase.
        open = true;
        started = t;
        defer(() => {
          open = false;
        });
        return false;
      }
      return t - started > sliceMs;
    },
  };
}
