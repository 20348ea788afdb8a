import type { Database } from '../persistence/database.ts';
import { readMigrations } from '../persistence/migrations.ts';
import type { LeaseStatus } from './ownership-lease.ts';

/**
 * `/readyz`: the database answers, every migration file is applied and (with several
 * instances) the ownership lease was renewed within its TTL.
 */
export interface ReadinessReport {
  ready: boolean;
  database: boolean;
  migrations: { applied: number; expected: number } | null;
  lease: LeaseStatus | null;
  error?: string;
}

export async function readiness(db: Database, lease: LeaseStatus | null = null): Promise<ReadinessReport> {
  try {
    const expected = (await readMigrations()).length;
    const { rows } = await db.query<{ n: number | string }>('SELECT count(*)::int AS n FROM schema_migrations');
    const applied = Number(rows[0]?.n ?? 0);
    return { ready: applied >= expected && (lease === null || lease.healthy), database: true, migrations: { applied, expected }, lease };
  } catch (error) {
    return { ready: false, database: false, migrations: null, lease, error: error instanceof Error ? error.message : String(error) };
  }
}
