import { mkdtemp, writeFile, readdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../../../src/persistence/migrations.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

async function copyOfMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
  for (const name of await readdir(MIGRATIONS_DIR)) await copyFile(join(MIGRATIONS_DIR, name), join(dir, name));
  return dir;
}

describe.each(DRIVERS)('migrations on %s', (driver) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('applies every file once, in order, and records checksums', async () => {
    t = await createTestDatabase(driver, { migrated: false });
    const files = await readMigrations();
    const first = await migrate(t.db);
    expect(first.applied).toEqual(files.map((f) => f.name));
    const second = await migrate(t.db);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(files.length);
    const { rows } = await t.db.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.checksum)).toEqual(files.map((f) => f.checksum));
    const tables = await t.db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['sessions', 'event_ledger', 'checkpoints', 'entity_snapshots', 'outbox', 'stories', 'scenes']),
    );
  });

  it('engines starting together on a new database migrate it once, without racing', async () => {
    t = await createTestDatabase(driver, { migrated: false });
    if (driver !== 'pg' || !t.url) return expect(driver).toBe('pglite'); // one process per PGlite directory: nothing to race
    const { PgDatabase } = await import('../../../src/persistence/pg-database.ts');
    const engines = Array.from({ length: 4 }, () => new PgDatabase({ connectionString: t!.url as string, maxConnections: 2 }));
    try {
      const reports = await Promise.all(engines.map((db) => migrate(db)));
      const files = await readMigrations();
      expect(reports.flatMap((r) => r.applied).sort()).toEqual(files.map((f) => f.name).sort());
    } finally {
      await Promise.all(engines.map((db) => db.close()));
    }
  });

  it('refuses an applied migration whose file changed', async () => {
    t = await createTestDatabase(driver, { migrated: false });
    const dir = await copyOfMigrations();
    await migrate(t.db, dir);
    await writeFile(join(dir, '0001_core.sql'), '-- edited\n', { flag: 'a' });
    const error = await migrate(t.db, dir).catch((e: unknown) => e);
    expect(isStorytellerError(error, 'MIGRATION_CHECKSUM_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain('0001_core.sql');
  });

  it('rolls back a failing migration completely', async () => {
    t = await createTestDatabase(driver, { migrated: false });
    const dir = await copyOfMigrations();
    await writeFile(join(dir, '9999_broken.sql'), 'CREATE TABLE half_done (id INT);\nSELECT no_such_function();\n');
    const error = await migrate(t.db, dir).catch((e: unknown) => e);
    expect(isStorytellerError(error, 'MIGRATION_FAILED')).toBe(true);
    const { rows } = await t.db.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'`);
    expect(rows).toHaveLength(0);
    const recorded = await t.db.query('SELECT 1 FROM schema_migrations WHERE version = 9999');
    expect(recorded.rowCount).toBe(0);
  });
});
