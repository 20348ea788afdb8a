import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';
import { reportHolds, runCrashTrials, type DriverReport } from '../test/support/crash-trials.ts';
import { runWsCrashTrials, wsReportHolds, type WsDriverReport } from '../test/support/ws-crash-trials.ts';

/**
 * `npm run test:crash`: randomized SIGKILL trials of the real engine process against
 * PostgreSQL and the embedded PGlite (test/support/crash-trials.ts). Prints a table,
 * writes bench/results/crash.json, exits non-zero when any guarantee was broken.
 *   CRASH_TRIALS=200 (per driver)  CRASH_SEED=1  CRASH_DRIVERS=pg,pglite (or ws: `storyteller serve`
 *   with players over WebSockets, kills also during deferred workflow steps; test/support/ws-crash-trials.ts)
 *   CRASH_OUT=bench/results/crash.json — drivers already in that file from another run
 *   (e.g. the two drivers run as two processes side by side) are kept; this run's replace theirs.
 */
const trials = Number(process.env.CRASH_TRIALS ?? 200);
const seed = Number(process.env.CRASH_SEED ?? 1);
const drivers = (process.env.CRASH_DRIVERS ?? 'pg,pglite').split(',') as Array<'pg' | 'pglite' | 'ws'>;
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const verbose = process.env.CRASH_VERBOSE === '1';

const reports: Array<DriverReport | WsDriverReport> = [];
for (const driver of drivers) {
  const log = (line: string) => {
    if (verbose || /child|failed|violation/.test(line)) process.stderr.write(`${line}\n`);
  };
  if (driver === 'ws' || driver === 'pg') {
    // A private database per driver, dropped afterwards.
    const name = `st_crash_${driver === 'ws' ? 'ws_' : ''}${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    const auditDb = new PgDatabase({ connectionString: url.toString(), maxConnections: 2 });
    await migrate(auditDb);
    try {
      reports.push(
        driver === 'ws'
          ? await runWsCrashTrials({ trials, seed: seed + 2, databaseUrl: url.toString(), auditDb, log })
          : await runCrashTrials({ driver, trials, seed, databaseUrl: url.toString(), auditDb, cliEvery: 7, log }),
      );
    } finally {
      await auditDb.close();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  } else {
    const dataDir = mkdtempSync(join(tmpdir(), 'st-crash-'));
    try {
      reports.push(await runCrashTrials({ driver, trials, seed: seed + 1, dataDir, cliEvery: 7, log }));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

const columns = ['driver', 'trials', 'acked_inputs', 'lost_inputs', 'unanswered_inputs', 'duplicate_turns', 'inconsistent_checkpoints', 'broken_scene_exits', 'pglite_reopen_failures', 'scene_exits', 'checkpoints', 'seconds'] as const;
console.log(columns.join(' | '));
for (const r of reports) console.log(columns.map((c) => String((r as unknown as Record<string, unknown>)[c] ?? '—')).join(' | '));
for (const r of reports) {
  if (r.driver === 'ws') {
    console.log(`ws: kills ${JSON.stringify(r.kills)}; sessions ${r.sessions}, workflows pending ${r.workflows_pending}, applied twice ${r.workflows_broken}, child errors ${r.child_errors}`);
    for (const v of r.violations) console.log(`  VIOLATION ${v}`);
    continue;
  }
  console.log(`${r.driver}: kills ${JSON.stringify(r.kills)}; fault points reached ${JSON.stringify(r.fault_points_reached)}; sessions ${r.sessions}, stories finished ${r.stories_finished}, child errors ${r.child_errors}`);
  for (const v of r.violations) console.log(`  VIOLATION ${v}`);
}
const out = process.env.CRASH_OUT ?? 'bench/results/crash.json';
mkdirSync(dirname(out), { recursive: true });
let kept: Array<DriverReport | WsDriverReport> = [];
let previous: Record<string, unknown> = {};
try {
  previous = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
  kept = ((previous.drivers as Array<DriverReport | WsDriverReport> | undefined) ?? []).filter((d) => !reports.some((r) => r.driver === d.driver));
} catch {
  kept = [];
}
// The earlier drivers' figures and their run's metadata are kept beside this run's (per driver under `runs`).
const run = { date: new Date().toISOString(), seed, trials_per_driver: trials, loadavg: loadavg() };
const runs = { ...((previous.runs as Record<string, unknown> | undefined) ?? {}), ...Object.fromEntries(reports.map((r) => [r.driver, run])) };
const document = kept.length > 0 ? { ...previous, runs, drivers: [...kept, ...reports] } : { bench: 'crash', ...run, runs, drivers: reports };
writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
process.exitCode = reports.every((r) => (r.driver === 'ws' ? wsReportHolds(r) : reportHolds(r))) ? 0 : 1;
