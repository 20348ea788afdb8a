/**
 * AGE's connection settings and statistics on a real Apache AGE (AGE_DATABASE_URL, or
 * Docker; skipped otherwise). The first test is the regression test for the shared-pool
 * search_path bug: the store used to `SET search_path = ag_catalog, …` on the engine's own
 * pooled connections, after which `migrate` created every project table inside ag_catalog.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolAgeConnections } from '../../../src/persistence/graph/age-connections.ts';
import { AgeGraphStore } from '../../../src/persistence/graph/age-graph-store.ts';
import { migrate } from '../../../src/persistence/migrations.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { createAgeDatabase, resolveAgeServer } from '../../support/age-service.ts';
import { generateGraph } from '../../support/graph-fixtures.ts';

const server = await resolveAgeServer();
afterAll(async () => {
  await server?.stop();
});

const describeAge = server ? describe : describe.skip;

// Without AGE the four tests report themselves skipped (set AGE_DATABASE_URL, or start Docker).
describeAge('AGE connections on a real Apache AGE', () => {
  let database: Awaited<ReturnType<typeof createAgeDatabase>>;
  let db: PgDatabase;
  let store: AgeGraphStore;
  let serverDefaults: { search_path: string; jit: string };

  beforeAll(async () => {
    database = await createAgeDatabase(server!.url);
    // One connection: whatever the store does to a pooled connection, the engine gets it next.
    db = new PgDatabase({ connectionString: database.url, maxConnections: 1 });
    await migrate(db);
    const { rows } = await db.query<{ search_path: string; jit: string }>(
      `SELECT current_setting('search_path') AS search_path, current_setting('jit') AS jit`,
    );
    serverDefaults = rows[0]!;
    store = await AgeGraphStore.open(db);
  });

  afterAll(async () => {
    await store?.close();
    await db?.close();
    await database?.drop();
  });

  /** Project tables (those migrate made in public) that also exist in ag_catalog. */
  const projectTablesInAgCatalog = async () =>
    (await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_catalog.pg_tables a WHERE a.schemaname = 'ag_catalog'
          AND a.tablename IN (SELECT p.tablename FROM pg_catalog.pg_tables p WHERE p.schemaname = 'public')`,
    )).rows[0]!.n;

  it("leaves the engine's connections alone: after an AGE read, migrate and ordinary queries still use public", async () => {
    await store.upsertVertices('story', [{ label: 'Character', id: 'mara', name: 'Mara' }]);
    expect((await store.relationalSubgraph('story', ['mara'])).characters).toEqual([{ id: 'mara', name: 'Mara' }]);

    await migrate(db);
    expect(await projectTablesInAgCatalog()).toBe('0');
    const session = randomUUID();
    await db.query('INSERT INTO sessions (id) VALUES ($1)', [session]);
    expect((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM public.sessions WHERE id = $1', [session])).rows[0]!.n).toBe('1');
    expect((await db.query<{ schema: string }>(`SELECT n.nspname AS schema FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'sessions'::regclass`)).rows[0]!.schema).toBe('public');
    const { rows } = await db.query<{ search_path: string; jit: string }>(`SELECT current_setting('search_path') AS search_path, current_setting('jit') AS jit`);
    expect(rows[0]).toEqual(serverDefaults);
  });

  it("writes in a caller's transaction with transaction-local settings, restored for the rest of it and gone after it", async () => {
    await store.upsertVertices('story', [{ label: 'Character', id: 'tomas', name: 'Tomas' }]);
    const inside = await db.transaction(async (tx) => {
      await store.applyEdgeUpdates('story', [{ from: 'mara', to: 'tomas', deltas: { debt: 0.25 } }], tx);
      return (await tx.query<{ search_path: string; jit: string }>(`SELECT current_setting('search_path') AS search_path, current_setting('jit') AS jit`)).rows[0];
    });
    expect(inside).toEqual(serverDefaults);
    const after = await db.query<{ search_path: string; jit: string }>(`SELECT current_setting('search_path') AS search_path, current_setting('jit') AS jit`);
    expect(after.rows[0]).toEqual(serverDefaults);
    expect((await store.relationalSubgraph('story', ['mara', 'tomas'])).edges.map((e) => [e.from, e.to, e.debt])).toEqual([['mara', 'tomas', 0.25]]);
  });

  it("runs the store's own statements with ag_catalog first and JIT off, whatever the server's defaults", async () => {
    const connections = PoolAgeConnections.forDatabase(db);
    try {
      const { rows } = await connections.run((q) =>
        q.query<{ search_path: string; jit: string; random_page_cost: string }>(`SELECT current_setting('search_path') AS search_path, current_setting('jit') AS jit, current_setting('random_page_cost') AS random_page_cost`),
      );
      expect(rows[0]).toEqual({ search_path: 'ag_catalog,"$user",public', jit: 'off', random_page_cost: '1.1' });
    } finally {
      await connections.close();
    }
  });

  it('refreshes planner statistics after a bulk load and after a fork', async () => {
    const reltuples = async (label: string) =>
      Number((await db.query<{ n: string }>(`SELECT reltuples::text AS n FROM pg_catalog.pg_class WHERE oid = $1::regclass`, [`storyteller."${label}"`])).rows[0]!.n);
    const graph = generateGraph({ characters: 150, seed: 3 });
    const characters = graph.vertices.filter((v) => v.label === 'Character').length;
    const relations = graph.edges.filter((e) => e.label === 'RELATES_TO').length;
    await store.upsertVertices('bulk', graph.vertices);
    await store.upsertEdges('bulk', graph.edges);
    // Small tables are read whole by ANALYZE, so the counts are exact: 2 characters from the tests above.
    expect(await reltuples('Character')).toBe(characters + 2);
    expect(await reltuples('RELATES_TO')).toBe(relations + 1);
    await store.forkScope('bulk', 'bulk-session');
    expect(await reltuples('Character')).toBe(2 * characters + 2);
    expect(await reltuples('RELATES_TO')).toBe(2 * relations + 1);
  });
});

