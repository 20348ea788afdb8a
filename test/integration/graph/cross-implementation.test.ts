/**
 * Identical answers across implementations on the same data: one generated graph
 * (300 characters, ~10 relations each, 30 scenes, 30 settings) loaded into SqlGraphStore on
 * PostgreSQL, on PGlite, and into AgeGraphStore when AGE is reachable; every query compared
 * over a sample of inputs (and against the oracle where brute force is affordable).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/persistence/database.ts';
import { AgeGraphStore } from '../../../src/persistence/graph/age-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { SqlGraphStore } from '../../../src/persistence/graph/sql-graph-store.ts';
import { migrate } from '../../../src/persistence/migrations.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { createAgeDatabase, resolveAgeServer } from '../../support/age-service.ts';
import { characterId, generateGraph, sceneId, settingId } from '../../support/graph-fixtures.ts';
import { GraphOracle } from '../../support/graph-oracle.ts';
import { createTestDatabase } from '../../support/test-database.ts';

interface Impl { name: string; store: GraphStore; db: Database; sessionId: string; close(): Promise<void> }

const CHARACTERS = 300;
const fixture = generateGraph({ characters: CHARACTERS, seed: 2026 });
const oracle = new GraphOracle(fixture);
const scope = 'generated-300';

describe('graph stores agree on the same data', () => {
  const impls: Impl[] = [];

  beforeAll(async () => {
    const pg = await createTestDatabase('pg');
    const lite = await createTestDatabase('pglite');
    impls.push({ name: 'sql/pg', store: new SqlGraphStore(pg.db), db: pg.db, sessionId: randomUUID(), close: () => pg.close() });
    impls.push({ name: 'sql/pglite', store: new SqlGraphStore(lite.db), db: lite.db, sessionId: randomUUID(), close: () => lite.close() });
    const server = await resolveAgeServer();
    if (server) {
      const database = await createAgeDatabase(server.url);
      const db = new PgDatabase({ connectionString: database.url, maxConnections: 5 });
      await migrate(db);
      impls.push({
        name: 'age',
        store: await AgeGraphStore.open(db),
        db,
        sessionId: randomUUID(),
        close: async () => {
          await db.close();
          await database.drop();
          await server.stop();
        },
      });
    }
    for (const impl of impls) {
      await impl.store.upsertVertices(scope, fixture.vertices);
      await impl.store.upsertEdges(scope, fixture.edges);
      // Snapshots for two thirds of the characters, the same in every database.
      await impl.db.query('INSERT INTO sessions (id) VALUES ($1)', [impl.sessionId]);
      const ids = Array.from({ length: CHARACTERS }, (_, i) => i).filter((i) => i % 3 !== 0);
      await impl.db.query(
        `INSERT INTO entity_snapshots (session_id, entity_id, kind, components)
         SELECT $1, e, 'character', c::jsonb FROM unnest($2::text[], $3::text[]) AS u(e, c)`,
        [impl.sessionId, ids.map(characterId), ids.map((i) => JSON.stringify({ mood: i % 5, weight: i / 7 }))],
      );
    }
  });
  afterAll(async () => {
    for (const impl of impls) await impl.close();
  });

  /** Runs one query on every implementation and expects one answer. */
  async function agree<T>(run: (store: GraphStore, impl: Impl) => Promise<T>): Promise<T> {
    const answers = [];
    for (const impl of impls) answers.push({ name: impl.name, answer: await run(impl.store, impl) });
    for (const { name, answer } of answers.slice(1)) expect(answer, `${name} vs ${answers[0]!.name}`).toEqual(answers[0]!.answer);
    return answers[0]!.answer;
  }

  it('relational subgraphs, trust and paths', async () => {
    let paths = 0;
    for (let i = 0; i < CHARACTERS; i += 23) {
      const cast = Array.from({ length: 6 }, (_, k) => characterId((i + k * 37) % CHARACTERS));
      expect(await agree((s) => s.relationalSubgraph(scope, cast))).toEqual(oracle.relationalSubgraph(cast));
      expect(await agree((s) => s.trustingCharacters(scope, characterId(i)))).toEqual(oracle.trustingCharacters(characterId(i)));
      const path = await agree((s) => s.shortestRelationalPath(scope, characterId(i), characterId((i * 7 + 11) % CHARACTERS)));
      if (path) paths++;
    }
    expect(paths).toBeGreaterThan(5);
  });

  it('narrative and setting queries', async () => {
    for (let i = 0; i < 30; i += 2) {
      expect(await agree((s) => s.reachableScenes(scope, sceneId(i)))).toEqual(oracle.reachableScenes(sceneId(i)));
      expect(await agree((s) => s.tenseScenesAhead(scope, sceneId(i)))).toEqual(oracle.tenseScenesAhead(sceneId(i)));
      expect(await agree((s) => s.adjacentSettings(scope, settingId(i)))).toEqual(oracle.adjacentSettings(settingId(i)));
      expect(await agree((s) => s.scenesNearSetting(scope, settingId(i)))).toEqual(oracle.scenesNearSetting(settingId(i)));
    }
  });

  it('the graph ↔ snapshot join, and the same scene-exit batch on a forked session scope', async () => {
    const joined = await agree((s, impl) => s.tensionWithSnapshots(scope, impl.sessionId));
    expect(joined.length).toBeGreaterThan(50);
    const session = 'fork-of-generated';
    await agree((s) => s.forkScope(scope, session));
    const updates = Array.from({ length: 20 }, (_, k) => ({
      from: characterId(k * 13),
      to: characterId((k * 13 + 1 + k) % CHARACTERS),
      deltas: { trust_competence: -0.35, debt: 0.1 * (k % 4) },
      ...(k % 5 === 0 ? { set: { affection: 0.75 } } : {}),
    }));
    await agree((s) => s.applyEdgeUpdates(session, updates));
    await agree((s) => s.relationalSubgraph(session, updates.flatMap((u) => [u.from, u.to])));
    await agree((s) => s.tenseScenesAhead(session, sceneId(3)));
  });
});
