import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { isStorytellerError } from '../../../src/errors.ts';
import { ageAvailable, openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { SqlGraphStore } from '../../../src/persistence/graph/sql-graph-store.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

describe('STORYTELLER_GRAPH_STORE', () => {
  it('defaults to sql and accepts only sql or age', () => {
    expect(loadConfig({}).graphStore).toBe('sql');
    expect(loadConfig({ STORYTELLER_GRAPH_STORE: 'age' }).graphStore).toBe('age');
    expect(() => loadConfig({ STORYTELLER_GRAPH_STORE: 'neo4j' })).toThrow(/STORYTELLER_GRAPH_STORE/);
  });
});

describe.each(DRIVERS)('openGraphStore on %s', (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await t.close();
  });

  it('opens the SQL store by default', async () => {
    const store = await openGraphStore(t.db, loadConfig({}));
    expect(store).toBeInstanceOf(SqlGraphStore);
    expect(store.kind).toBe('sql');
    await store.upsertVertices('s', [{ label: 'Setting', id: 'harbor', name: 'The harbor' }]);
    expect(await store.adjacentSettings('s', 'harbor')).toEqual([]);
  });

  it('opens AGE only where the extension exists, else fails with GRAPH_STORE_UNAVAILABLE', async () => {
    const available = driver === 'pg' && (await ageAvailable(t.db));
    const result = await openGraphStore(t.db, { graphStore: 'age' }).catch((e: unknown) => e);
    if (available) {
      expect((result as GraphStore).kind).toBe('age');
      await (result as GraphStore).close(); // the AGE store's own pool
    } else {
      expect(isStorytellerError(result, 'GRAPH_STORE_UNAVAILABLE')).toBe(true);
      expect((result as Error).message).toContain('STORYTELLER_GRAPH_STORE=sql');
    }
  });
});
