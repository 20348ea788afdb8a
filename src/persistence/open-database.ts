import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { Database } from './database.ts';
import { PgDatabase } from './pg-database.ts';
import { PgliteDatabase } from './pglite-database.ts';

/** PostgreSQL when DATABASE_URL is set, otherwise the embedded PGlite file database. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Database> {
  if (config.databaseUrl) return new PgDatabase({ connectionString: config.databaseUrl });
  return PgliteDatabase.open(join(config.dataDir, 'pglite'));
}
