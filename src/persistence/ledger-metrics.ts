import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AppendOutcome } from './ledger-append.ts';

/**
 * Prometheus metrics of the ledger, on the registry the caller passes (the engine's
 * `/metrics` registry). Registering twice on one registry reuses the existing metrics.
 *
 * storyteller_ledger_batch_rows{path}            rows per write statement; path: input | events
 * storyteller_ledger_write_seconds{path}         duration of one write statement (its COMMIT included)
 * storyteller_ledger_rows_total{path,outcome}    inserted | duplicate | no_session | fenced | conflict | error
 * storyteller_ledger_event_retries_total         failed event batches retried
 * storyteller_ledger_commit_wait_seconds{path}   a request's wait from submit to the start of its write statement
 * storyteller_ledger_backlog_rows{path}          rows queued or being written (input: group-commit queue; events: the async writer)
 */
export type LedgerPath = 'input' | 'events';

export interface LedgerMetrics {
  batchRows: Histogram<'path'>;
  writeSeconds: Histogram<'path'>;
  rows: Counter<'path' | 'outcome'>;
  eventRetries: Counter<string>;
  commitWaitSeconds: Histogram<'path'>;
}

export type LedgerBacklog = () => Record<LedgerPath, number>;

function histogram(registry: Registry, name: string, help: string, buckets: number[]): Histogram<'path'> {
  return (registry.getSingleMetric(name) as Histogram<'path'> | undefined) ?? new Histogram({ name, help, labelNames: ['path'], buckets, registers: [registry] });
}

export function createLedgerMetrics(registry: Registry, backlog?: LedgerBacklog): LedgerMetrics {
  if (backlog && !registry.getSingleMetric('storyteller_ledger_backlog_rows')) {
    new Gauge({
      name: 'storyteller_ledger_backlog_rows',
      help: 'Ledger rows queued or being written, by path',
      labelNames: ['path'],
      registers: [registry],
      collect() {
        const b = backlog();
        this.set({ path: 'input' }, b.input);
        this.set({ path: 'events' }, b.events);
      },
    });
  }
  return {
    commitWaitSeconds: histogram(registry, 'storyteller_ledger_commit_wait_seconds', 'Wait of a ledger request from submit to the start of its write statement (s)', [
      0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5,
    ]),
    batchRows: histogram(registry, 'storyteller_ledger_batch_rows', 'Rows per ledger write statement', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]),
    writeSeconds: histogram(registry, 'storyteller_ledger_write_seconds', 'Duration of one ledger write statement, COMMIT included', [
      0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
    ]),
    rows:
      (registry.getSingleMetric('storyteller_ledger_rows_total') as Counter<'path' | 'outcome'> | undefined) ??
      new Counter({ name: 'storyteller_ledger_rows_total', help: 'Ledger rows by write outcome', labelNames: ['path', 'outcome'], registers: [registry] }),
    eventRetries:
      (registry.getSingleMetric('storyteller_ledger_event_retries_total') as Counter<string> | undefined) ??
      new Counter({ name: 'storyteller_ledger_event_retries_total', help: 'Failed ledger event batches retried', registers: [registry] }),
  };
}

/** Wraps a batch write so it records size, duration and per-row outcomes. */
export function measured<A extends readonly unknown[]>(
  metrics: LedgerMetrics | undefined,
  path: LedgerPath,
  write: (rows: A) => Promise<AppendOutcome[]>,
): (rows: A) => Promise<AppendOutcome[]> {
  if (!metrics) return write;
  return async (rows) => {
    metrics.batchRows.observe({ path }, rows.length);
    const end = metrics.writeSeconds.startTimer({ path });
    try {
      const outcomes = await write(rows);
      for (const o of outcomes) metrics.rows.inc({ path, outcome: o.status });
      return outcomes;
    } catch (error) {
      metrics.rows.inc({ path, outcome: 'error' }, rows.length);
      throw error;
    } finally {
      end();
    }
  };
}
