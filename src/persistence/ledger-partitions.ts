import type { Clock, WallClock } from '../engine/clock.ts';
import type { Logger } from '../logger.ts';
import type { Queryable } from './database.ts';

/**
 * Month partitions of `event_ledger` (migration 0007, docs/ledger-retention.md) are created
 * ahead of need: at start-up and once a day, for the current month and the next
 * `MONTHS_AHEAD`. Nothing fails if this never runs — a row whose month has no partition
 * lands in the DEFAULT partition, and the next run moves it into its month's partition.
 */
export const MONTHS_AHEAD = 2;
export const MAINTENANCE_INTERVAL_MS = 24 * 60 * 60 * 1000;

/** Creates the missing month partitions from `now`'s month to `monthsAhead` later; returns how many it created. */
export async function ensureLedgerPartitions(q: Queryable, now: Date = new Date(), monthsAhead: number = MONTHS_AHEAD): Promise<number> {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + monthsAhead, 1));
  const { rows } = await q.query<{ created: number }>('SELECT ledger_ensure_partitions($1::timestamptz, $2::timestamptz) AS created', [now.toISOString(), to.toISOString()]);
  return Number(rows[0]?.created ?? 0);
}

export interface LedgerPartitionInfo {
  name: string;
  /** null for the DEFAULT partition. */
  from: Date | null;
  to: Date | null;
  rows: number;
}

/** The live ledger's partitions (or the archive's), oldest first, DEFAULT last, with exact row counts. */
export async function listLedgerPartitions(q: Queryable, parent: 'event_ledger' | 'event_ledger_archive' = 'event_ledger'): Promise<LedgerPartitionInfo[]> {
  const { rows } = await q.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass ORDER BY c.relname`,
    [parent],
  );
  const out: LedgerPartitionInfo[] = [];
  for (const r of rows) {
    const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(r.bound);
    const count = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${r.name.replace(/"/g, '""')}"`);
    out.push({ name: r.name, from: m ? new Date(m[1]!) : null, to: m ? new Date(m[2]!) : null, rows: Number(count.rows[0]?.n ?? 0) });
  }
  return out.sort((a, b) => (a.from === null ? 1 : b.from === null ? -1 : a.from.getTime() - b.from.getTime()));
}

export interface PartitionMaintenance {
  /** Resolves when the run in progress (if any) has finished. */
  idle(): Promise<void>;
  stop(): void;
}

/**
 * Runs `ensureLedgerPartitions` now and every `intervalMs` on the injected clock (a
 * SimulatedClock in tests), reading the date from `now`. A failed run is logged and retried
 * at the next tick: the DEFAULT partition keeps appends working meanwhile.
 */
export function startPartitionMaintenance(q: Queryable, options: { clock: Clock; now: WallClock; logger?: Logger; intervalMs?: number }): PartitionMaintenance {
  const interval = options.intervalMs ?? MAINTENANCE_INTERVAL_MS;
  let timer: unknown = null;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = ensureLedgerPartitions(q, new Date(options.now()))
      .then((created) => {
        if (created > 0) options.logger?.info({ created }, 'ledger partitions created');
      })
      .catch((err: unknown) => options.logger?.warn({ err, code: 'STORAGE_UNAVAILABLE' }, 'ledger partition maintenance failed; retried at the next run'))
      .finally(() => {
        if (stopped) return;
        timer = options.clock.setTimeout(tick, interval);
        // A real timer must not keep the process alive on its own.
        (timer as { unref?: () => void } | null)?.unref?.();
      });
  };
  tick();
  return {
    idle: () => running,
    stop() {
      stopped = true;
      if (timer !== null) options.clock.clearTimeout(timer);
    },
  };
}
