import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Database } from '../../src/persistence/database.ts';
import { migrate } from '../../src/persistence/migrations.ts';
import { PgDatabase } from '../../src/persistence/pg-database.ts';
import { PgliteDatabase } from '../../src/persistence/pglite-database.ts';

export type Driver = 'pg' | 'pglite';
export const DRIVERS: readonly Driver[] = ['pg', 'pglite'];

export interface TestDatabase {
  db: Database;
  /** Connection string of the fresh PostgreSQL database (pg driver only). */
  url: string | undefined;
  close(): Promise<void>;
}

/** A new, empty PostgreSQL database on the test server; dropped at the end of the run. */
export async function createEmptyPgDatabase(): Promise<string> {
  const base = new URL(inject('databaseUrl'));
  const name = `${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  base.pathname = `/${name}`;
  return base.toString();
}

/** A fresh database for one test file, migrated unless told otherwise. */
export async function createTestDatabase(driver: Driver, options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  let db: Database;
  let url: string | undefined;
  if (driver === 'pg') {
    url = await createEmptyPgDatabase();
    db = new PgDatabase({ connectionString: url, maxConnections: 10 });
  } else {
    db = await PgliteDatabase.open();
  }
  if (options.migrated !== false) await migrate(db);
  return { db, url, close: () => db.close() };
}
