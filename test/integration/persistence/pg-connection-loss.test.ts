import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

/**
 * The server ends a connection that no query of ours is using (what `pg_ctl stop -m fast`
 * does to every backend: FATAL 57P01). pg reports that as an 'error' event on the client, and
 * an 'error' event nobody listens to ends the process — `storyteller serve` died that way in
 * the PostgreSQL restart test. Real PostgreSQL; the backend is terminated from another
 * connection while our client is checked out and idle.
 */
describe('pg driver: a connection ended by the server (pg)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('a checked-out idle client whose backend is terminated does not end the process; the next use fails as STORAGE_UNAVAILABLE', async () => {
    const db = new PgDatabase({ connectionString: tdb.url as string, maxConnections: 2 });
    try {
      const client = await db.pool.connect();
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      // Without a listener of its own, pg would throw this 'error' event out of the socket's callback.
      const delivered = new Promise<Error>((resolve) => client.once('error', resolve));
      const listenersBefore = client.listenerCount('error') - 1;
      await tdb.db.query('SELECT pg_terminate_backend($1)', [pid]);
      const error = await delivered;
      expect((error as { code?: string }).code).toBe('57P01');
      expect(listenersBefore).toBeGreaterThanOrEqual(1);
      client.release(true);
      // The pool opens a fresh connection for the next query.
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      // And a transaction whose connection dies says so with the typed code.
      const failed = await db
        .transaction(async (tx) => {
          const own = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
          await tdb.db.query('SELECT pg_terminate_backend($1)', [own]);
          await tx.query('SELECT 1');
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(isStorytellerError(failed, 'STORAGE_UNAVAILABLE')).toBe(true);
    } finally {
      await db.close();
    }
  });
});
