import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import type { Queryable } from '../persistence/database.ts';

/**
 * Outbox backlog and age, read from the database at scrape time (the outbox is shared by
 * every engine instance, so each instance reports the same figures: alert on `max`, not
 * `sum`). Two queries on partial indexes per scrape; a failing query leaves the previous
 * values (the database being away is reported by /readyz and storage error lines).
 *
 * storyteller_outbox_backlog{kind,stage}             stage: unpublished | awaiting_completion
 * storyteller_outbox_oldest_age_seconds{kind,stage}  age of the oldest such row (since created / since published; 0 when none)
 */
const rowSchema = z.object({ kind: z.string(), stage: z.enum(['unpublished', 'awaiting_completion']), n: z.coerce.number(), age_s: z.coerce.number().nullable() });

const KINDS = ['scene_exit', 'between_sessions'];
const STAGES = ['unpublished', 'awaiting_completion'] as const;

export function registerOutboxMetrics(registry: Registry, db: Queryable, logger: Logger): void {
  if (registry.getSingleMetric('storyteller_outbox_backlog')) return;
  let last: Array<z.infer<typeof rowSchema>> = [];
  let pending: Promise<void> | null = null;
  const read = (): Promise<void> =>
    (pending ??= db
      .query(
        `SELECT kind, CASE WHEN published_at IS NULL THEN 'unpublished' ELSE 'awaiting_completion' END AS stage,
                count(*) AS n, EXTRACT(EPOCH FROM NOW() - min(COALESCE(published_at, created_at))) AS age_s
           FROM outbox
          WHERE published_at IS NULL OR completed_at IS NULL
          GROUP BY 1, 2`,
      )
      .then((r) => {
        last = r.rows.map((row) => rowSchema.parse(row));
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'outbox metrics: the backlog query failed'))
      .finally(() => {
        pending = null;
      }));
  const fill = (gauge: Gauge<'kind' | 'stage'>, pick: (row: z.infer<typeof rowSchema>) => number): void => {
    for (const kind of KINDS) for (const stage of STAGES) gauge.set({ kind, stage }, 0);
    for (const row of last) gauge.set({ kind: row.kind, stage: row.stage }, pick(row));
  };
  new Gauge({
    name: 'storyteller_outbox_backlog',
    help: 'Outbox rows not yet published, or published and awaiting their completion (shared by all instances)',
    labelNames: ['kind', 'stage'],
    registers: [registry],
    async collect() {
      await read();
      fill(this, (row) => row.n);
    },
  });
  new Gauge({
    name: 'storyteller_outbox_oldest_age_seconds',
    help: 'Age of the oldest outbox row in the stage (s; 0 when none)',
    labelNames: ['kind', 'stage'],
    registers: [registry],
    async collect() {
      await read();
      fill(this, (row) => row.age_s ?? 0);
    },
  });
}
