import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/persistence/migrations.ts';
import { PgDatabase } from '../../src/persistence/pg-database.ts';
import { createEmptyPgDatabase } from '../support/test-database.ts';
import { runWsCrashTrials, wsReportHolds } from '../support/ws-crash-trials.ts';

/**
 * CI's seeded subset of `CRASH_DRIVERS=ws npm run test:crash`: `storyteller serve` as a
 * child process group, players over WebSockets, SIGKILL at random moments and during a
 * deferred workflow step; the clients come back and resend. Fails on any lost,
 * unanswered or twice-answered input, inconsistent checkpoint, broken scene exit, or
 * scene-exit workflow not applied exactly once.
 */
const TRIALS = Number(process.env.CI_CRASH_TRIALS_WS ?? 4);

describe('SIGKILL trials of `storyteller serve` with players over WebSockets (seeded subset)', () => {
  it(`${TRIALS} trials on PostgreSQL: every guarantee holds`, { timeout: 5 * 60_000 }, async () => {
    const url = await createEmptyPgDatabase();
    const auditDb = new PgDatabase({ connectionString: url, maxConnections: 2 });
    await migrate(auditDb);
    try {
      const report = await runWsCrashTrials({ trials: TRIALS, seed: 21, databaseUrl: url, auditDb, log: (l) => process.env.CRASH_VERBOSE === '1' && console.error(l) });
      expect(report.violations).toEqual([]);
      expect(wsReportHolds(report), JSON.stringify(report)).toBe(true);
      expect(report.trials).toBe(TRIALS);
      // Not vacuous: inputs were acknowledged across kills, scenes were left, workflows ran.
      expect(report.acked_inputs).toBeGreaterThan(TRIALS);
      expect(report.scene_exits).toBeGreaterThan(0);
      expect(report.kills.random + report.kills.deferred).toBeGreaterThan(0);
    } finally {
      await auditDb.close();
    }
  });
});
