import pg from 'pg';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';

/**
 * A new, migrated PostgreSQL database on `base` for one bench run (with the `minimal`
 * story the scripted behaviour plays), and how to drop it afterwards.
 *
 * @example
 * const fresh = await freshBenchDatabase('bench_gateway');
 * try { … fresh.db … } finally { await fresh.drop(); }
 */
export async function freshBenchDatabase(prefix: string, options: { base?: string; maxConnections?: number } = {}): Promise<{ db: PgDatabase; url: string; drop(): Promise<void> }> {
  const base = options.base ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `${prefix}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = new PgDatabase({ connectionString: url.toString(), maxConnections: options.maxConnections ?? 10 });
  await migrate(db);
  await db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ('minimal', 'minimal', '{}'::jsonb, 'bench')`);
  return {
    db,
    url: url.toString(),
    async drop() {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}
