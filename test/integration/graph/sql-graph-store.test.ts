import { SqlGraphStore } from '../../../src/persistence/graph/sql-graph-store.ts';
import { createTestDatabase, DRIVERS } from '../../support/test-database.ts';
import { describeGraphStoreContract } from './graph-store-contract.ts';

// The plain-SQL store on both drivers: PostgreSQL and the embedded PGlite default.
for (const driver of DRIVERS) {
  describeGraphStoreContract(`SqlGraphStore on ${driver}`, async () => {
    const t = await createTestDatabase(driver);
    return { store: new SqlGraphStore(t.db), db: t.db, close: () => t.close() };
  });
}
