import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StorytellerError } from '../errors.ts';
import type { Database } from './database.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../db/migrations/', import.meta.url));

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: number;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Any fixed number: serialises engines that start together against one database.
const MIGRATION_LOCK_KEY = 4_242_001;

export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const fileName of names) {
    const match = FILE_PATTERN.exec(fileName);
    if (!match) throw new StorytellerError('MIGRATION_FAILED', `migration file name ${fileName} is not NNNN_name.sql`);
    const sql = await readFile(join(dir, fileName), 'utf8');
    files.push({ version: Number(match[1]), name: fileName, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  const seen = new Set<number>();
  for (const file of files) {
    if (seen.has(file.version)) throw new StorytellerError('MIGRATION_FAILED', `two migrations share version ${file.version}`);
    seen.add(file.version);
  }
  return files;
}

/**
 * Applies pending migrations in order, each in its own transaction, and records
 * its checksum. A file changed after it was applied is refused: migrations are
 * history, not configuration.
 */
export async function migrate(db: Database, dir: string = MIGRATIONS_DIR): Promise<MigrationReport> {
  const files = await readMigrations(dir);
  // Under the same lock: two engines starting together on a new database would otherwise race
  // CREATE TABLE IF NOT EXISTS into a duplicate pg_type row.
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
  )`);
  });
  const { rows } = await db.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  const applied = new Map(rows.map((row) => [row.version, row]));
  for (const file of files) {
    const existing = applied.get(file.version);
    if (existing && existing.checksum !== file.checksum) {
      throw new StorytellerError(
        'MIGRATION_CHECKSUM_MISMATCH',
        `migration ${file.name} was changed after it was applied (recorded ${existing.checksum.slice(0, 12)}…, file ${file.checksum.slice(0, 12)}…); add a new migration instead`,
        { details: { version: file.version, name: file.name } },
      );
    }
  }
  const report: MigrationReport = { applied: [], alreadyApplied: applied.size };
  for (const file of files) {
    if (applied.has(file.version)) continue;
    try {
      const ran = await db.transaction(async (tx) => {
        // Transaction-scoped lock: engines starting together apply each file once.
        await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        const done = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [file.version]);
        if (done.rowCount > 0) return false;
        await tx.exec(file.sql);
        await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          file.version,
          file.name,
          file.checksum,
        ]);
        return true;
      });
      if (ran) report.applied.push(file.name);
    } catch (error) {
      throw new StorytellerError('MIGRATION_FAILED', `migration ${file.name} failed and was rolled back: ${(error as Error).message}`, {
        cause: error,
        details: { version: file.version, name: file.name },
      });
    }
  }
  return report;
}
