/**
 * The graph contract against Apache AGE. Runs when AGE_DATABASE_URL is set or Docker can
 * start the apache/age image; otherwise it is reported as skipped (the build machines have
 * neither — see docs/graph.md).
 */
import { afterAll, describe, it } from 'vitest';
import { migrate } from '../../../src/persistence/migrations.ts';
import { AgeGraphStore } from '../../../src/persistence/graph/age-graph-store.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { createAgeDatabase, resolveAgeServer } from '../../support/age-service.ts';
import { describeGraphStoreContract } from './graph-store-contract.ts';

const server = await resolveAgeServer();
afterAll(async () => {
  await server?.stop();
});

if (server) {
  describeGraphStoreContract('AgeGraphStore on Apache AGE', async () => {
    const database = await createAgeDatabase(server.url);
    const db = new PgDatabase({ connectionString: database.url, maxConnections: 5 });
    await migrate(db);
    const store = await AgeGraphStore.open(db);
    return {
      store,
      db,
      close: async () => {
        await db.close();
        await database.drop();
      },
    };
  });
} else {
  describe('GraphStore contract: AgeGraphStore on Apache AGE', () => {
    it.skip('needs PostgreSQL with Apache AGE: set AGE_DATABASE_URL (docker compose up postgres) or start Docker', () => undefined);
  });
}
