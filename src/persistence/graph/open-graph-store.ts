import type { Config } from '../../config.ts';
import { StorytellerError } from '../../errors.ts';
import type { Database, Queryable } from '../database.ts';
import { PgDatabase } from '../pg-database.ts';
import { AgeGraphStore } from './age-graph-store.ts';
import type { GraphStore } from './graph-store.ts';
import { SqlGraphStore } from './sql-graph-store.ts';

/** Whether the server can run Apache AGE (the extension is installed or installable). */
export async function ageAvailable(db: Queryable): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'age'`);
  return rows.length > 0;
}

/**
 * The graph store chosen by STORYTELLER_GRAPH_STORE: `sql` (default; plain tables, works
 * on PostgreSQL and PGlite) or `age` (Apache AGE; needs PostgreSQL with the extension —
 * docker-compose's `postgres` service). Asking for AGE where it is missing fails at start-up
 * with GRAPH_STORE_UNAVAILABLE rather than silently falling back.
 *
 * @example
 * const graph = await openGraphStore(db, loadConfig());
 */
export async function openGraphStore(db: Database, config: Pick<Config, 'graphStore'>): Promise<GraphStore> {
  if (config.graphStore === 'sql') return new SqlGraphStore(db);
  if (!(db instanceof PgDatabase)) {
    throw new StorytellerError(
      'GRAPH_STORE_UNAVAILABLE',
      'STORYTELLER_GRAPH_STORE=age needs PostgreSQL with Apache AGE (set DATABASE_URL); the embedded PGlite database has no AGE — use STORYTELLER_GRAPH_STORE=sql',
    );
  }
  if (!(await ageAvailable(db))) {
    throw new StorytellerError(
      'GRAPH_STORE_UNAVAILABLE',
      'STORYTELLER_GRAPH_STORE=age but this PostgreSQL server has no Apache AGE extension — run the apache/age image (docker compose up postgres) or use STORYTELLER_GRAPH_STORE=sql',
    );
  }
  return AgeGraphStore.open(db);
}
