import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * How long this process's event loop was held up since the last reset (1 ms resolution):
 * nothing (an ack, a reply, a generator's send or its timestamp) happens while the loop is
 * busy, so each bench process reports it beside the latencies it took part in.
 */
export function loopDelayMonitor(): { reset(): void; p99Ms(): number; maxMs(): number } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return {
    reset: () => histogram.reset(),
    p99Ms: () => Number((histogram.percentile(99) / 1e6).toFixed(2)),
    maxMs: () => Number((histogram.max / 1e6).toFixed(2)),
  };
}
