import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/persistence/migrations.ts';
import { PgDatabase } from '../../src/persistence/pg-database.ts';
import { reportHolds, runCrashTrials, type DriverReport } from '../support/crash-trials.ts';
import { createEmptyPgDatabase } from '../support/test-database.ts';

/**
 * CI's seeded subset of `npm run test:crash` (≥ 20 SIGKILL trials of the real engine
 * process, both drivers): the build fails on any lost, unanswered or twice-answered input,
 * any checkpoint that differs from the ledger's replay from zero, any scene exit not
 * written in one transaction, any PGlite data directory that does not reopen.
 */
const TRIALS = { pg: Number(process.env.CI_CRASH_TRIALS_PG ?? 12), pglite: Number(process.env.CI_CRASH_TRIALS_PGLITE ?? 8) };

function expectHolds(report: DriverReport, trials: number): void {
  expect(report.violations).toEqual([]);
  expect(reportHolds(report), JSON.stringify(report)).toBe(true);
  expect(report.trials).toBe(trials);
  // Not vacuous: the trials acknowledged inputs, crossed scene exits and killed at fault points.
  expect(report.acked_inputs).toBeGreaterThan(trials);
  expect(report.scene_exits).toBeGreaterThan(0);
  expect(report.kills.fault + report.kills.random).toBeGreaterThan(0);
}

describe('SIGKILL trials of the engine process (seeded subset)', () => {
  it(`PostgreSQL: ${TRIALS.pg} trials, every guarantee holds`, { timeout: 20 * 60_000 }, async () => {
    const url = await createEmptyPgDatabase();
    const auditDb = new PgDatabase({ connectionString: url, maxConnections: 2 });
    await migrate(auditDb);
    try {
      const report = await runCrashTrials({ driver: 'pg', trials: TRIALS.pg, seed: 11, databaseUrl: url, auditDb, cliEvery: 6 });
      expectHolds(report, TRIALS.pg);
    } finally {
      await auditDb.close();
    }
  });

  it(`embedded PGlite: ${TRIALS.pglite} trials, every guarantee holds and the data directory reopens after each SIGKILL`, { timeout: 20 * 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'st-crash-ci-'));
    try {
      const report = await runCrashTrials({ driver: 'pglite', trials: TRIALS.pglite, seed: 12, dataDir, cliEvery: 5 });
      expectHolds(report, TRIALS.pglite);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
