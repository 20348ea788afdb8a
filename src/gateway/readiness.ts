import type { Database } from '../persistence/database.ts';
import { readMigrations } from '../persistence/migrations.ts';

/**
 * `/readyz`: the database answers and every migration file is applied. Ownership is
 * per session (epochs fence every ledger append), so a single instance holds nothing
 * else to check; see docs/protocol.md "Several instances".
 */
export interface ReadinessReport {
  ready: boolean;
  database: boolean;
  migrations: { applied: number; expected: number } | null;
  error?: string;
}

export async function readiness(db: Database): Promise<ReadinessReport> {
  try {
    const expected = (await readMigrations()).length;
    const { rows } = await db.query<{ n: number | string }>('SELECT count(*)::int AS n FROM schema_migrations');
    const applied = Number(rows[0]?.n ?? 0);
    return { ready: applied >= expected, database: true, migrations: { applied, expected } };
  } catch (error) {
    return { ready: false, database: false, migrations: null, error: error instanceof Error ? error.message : String(error) };
  }
}
