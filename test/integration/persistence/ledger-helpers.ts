import { randomUUID } from 'node:crypto';
import type { Database } from '../../../src/persistence/database.ts';
import { Ledger, type LedgerOptions } from '../../../src/persistence/ledger.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import type { TestDatabase } from '../../support/test-database.ts';

/** Shared fixtures of the ledger test files (one fresh database per file). */
export const LEDGER_OPTIONS: LedgerOptions = { maxPayloadBytes: 64 * 1024, maxBatch: 512, flushMs: 5, retry: { attempts: 3, baseMs: 1, maxMs: 5 } };

export function newLedger(db: Database, options: Partial<LedgerOptions> = {}): Ledger {
  return new Ledger(db, { ...LEDGER_OPTIONS, ...options });
}

/** Inserts `n` bare sessions (no story) and returns their ids. */
export async function createSessions(db: Database, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await db.query('INSERT INTO sessions (id) SELECT unnest($1::uuid[])', [ids]);
  return ids;
}

/**
 * Reads with a connection other than the writer's: a separate pool for pg (what another
 * process would see), the same single connection for PGlite.
 */
export async function withReader<T>(t: TestDatabase, fn: (reader: Database) => Promise<T>): Promise<T> {
  if (t.db.driver !== 'pg') return fn(t.db);
  const reader = new PgDatabase({ connectionString: t.url!, maxConnections: 1 });
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}

export async function caught(promise: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Makes inserts of non-PlayerInput rows fail (transiently, SQLSTATE P0001) the next `times` attempts. */
export async function installFailingEventTrigger(db: Database, times: number): Promise<void> {
  await db.exec(`
    CREATE SEQUENCE IF NOT EXISTS ledger_test_failures;
    CREATE TABLE IF NOT EXISTS ledger_test_failure_plan (remaining BIGINT NOT NULL);
    CREATE OR REPLACE FUNCTION ledger_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Sequences ignore rollback: each failed attempt consumes one value for good.
      IF NEW.event_type <> 'PlayerInput' AND nextval('ledger_test_failures') <= (SELECT max(remaining) FROM ledger_test_failure_plan) THEN
        RAISE EXCEPTION 'injected transient failure';
      END IF;
      RETURN NEW;
    END $$;
    DROP TRIGGER IF EXISTS ledger_test_fail ON event_ledger;
    CREATE TRIGGER ledger_test_fail BEFORE INSERT ON event_ledger FOR EACH ROW EXECUTE FUNCTION ledger_test_fail();
  `);
  await db.query('DELETE FROM ledger_test_failure_plan');
  await db.query(`INSERT INTO ledger_test_failure_plan (remaining) SELECT last_value + $1 - (CASE WHEN is_called THEN 0 ELSE 1 END) FROM ledger_test_failures`, [times]);
}

export async function removeFailingEventTrigger(db: Database): Promise<void> {
  await db.exec('DROP TRIGGER IF EXISTS ledger_test_fail ON event_ledger');
}

/** Rows whose data carries the marker text fail inside the database (SQLSTATE `state`). */
export async function installPoisonTrigger(db: Database, marker: string, state = 'P0001'): Promise<void> {
  await db.exec(`
    CREATE OR REPLACE FUNCTION ledger_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_data::text LIKE '%${marker}%' THEN
        RAISE EXCEPTION 'poisoned row' USING ERRCODE = '${state}';
      END IF;
      RETURN NEW;
    END $$;
    DROP TRIGGER IF EXISTS ledger_test_poison ON event_ledger;
    CREATE TRIGGER ledger_test_poison BEFORE INSERT ON event_ledger FOR EACH ROW EXECUTE FUNCTION ledger_test_poison();
  `);
}

export async function removePoisonTrigger(db: Database): Promise<void> {
  await db.exec('DROP TRIGGER IF EXISTS ledger_test_poison ON event_ledger');
}
