/**
 * Ledger benchmark: group-committed `appendInput` against a plain autocommitted INSERT
 * of the same row, side by side in one run, on the PostgreSQL at DATABASE_URL (loopback).
 * Creates and drops its own database. Writes bench/results/ledger.json.
 *
 *   npm run bench:ledger
 *
 * Fields:
 *   raw_commit_p50_ms       one client, one autocommitted INSERT per row (pg, no pool)
 *   append_input_p50_ms     one client, Ledger.appendInput (group commit of one)
 *   append_input_p99_ms
 *   ratio_c1                append_input_p50_ms / raw_commit_p50_ms            (target ≤ 1.3)
 *   raw_commits_per_s       one client, back-to-back autocommitted INSERTs: one commit per row
 *   appends_per_s_c100      100 sessions appending concurrently through one Ledger
 *   throughput_ratio_c100   appends_per_s_c100 / raw_commits_per_s             (target ≥ 10)
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { Ledger } from '../src/persistence/ledger.ts';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';

const LATENCY_SAMPLES = 2_000;
const WARMUP = 300;
const THROUGHPUT_MS = 2_500;
const ROUNDS = 3;
const CONCURRENCY = 100;

const baseUrl = process.env.DATABASE_URL;
if (!baseUrl) {
  console.error('bench:ledger needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  process.exit(2);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const name = `ledger_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(baseUrl!);
  url.pathname = `/${name}`;
  const db = new PgDatabase({ connectionString: url.toString(), maxConnections: 4, applicationName: 'ledger-bench' });
  const raw = new pg.Client({ connectionString: url.toString() });
  try {
    await migrate(db);
    await raw.connect();
    const rawSession = randomUUID();
    const c1Session = randomUUID();
    const crowd = Array.from({ length: CONCURRENCY }, () => randomUUID());
    await db.query('INSERT INTO sessions (id) SELECT unnest($1::uuid[])', [[rawSession, c1Session, ...crowd]]);
    const ledger = new Ledger(db, { maxPayloadBytes: 64 * 1024, maxBatch: 512, flushMs: 20 });

    // The same row appendInput writes: a PlayerInput with its payload and client id.
    let rawTs = 0;
    const rawInsert = () => {
      rawTs += 1;
      const clientInputId = `raw-${rawTs}`;
      return raw.query(
        `INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, confidence, source, narrative_ts, client_input_id, session_started_at)
         VALUES ($1, NULL, $2, 'PlayerInput', $3::jsonb, NULL, 'player', $4, $5, (SELECT created_at FROM sessions WHERE id = $1))`,
        [rawSession, 1, JSON.stringify({ clientInputId, text: 'I open the door.' }), rawTs, clientInputId],
      );
    };
    let appendSeq = 0;
    const append = (sessionId: string) => {
      appendSeq += 1;
      return ledger.appendInput({ sessionId, clientInputId: `app-${appendSeq}`, text: 'I open the door.', sceneId: null, turn: 1 });
    };

    for (let i = 0; i < WARMUP; i += 1) {
      await rawInsert();
      await append(c1Session);
    }

    // Latency at one client: alternate the two so both see the same machine load.
    const rawMs: number[] = [];
    const appendMs: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i += 1) {
      const order = i % 2 === 0;
      for (const which of order ? ['raw', 'append'] : ['append', 'raw']) {
        const start = performance.now();
        if (which === 'raw') await rawInsert();
        else await append(c1Session);
        (which === 'raw' ? rawMs : appendMs).push(performance.now() - start);
      }
    }
    rawMs.sort((a, b) => a - b);
    appendMs.sort((a, b) => a - b);

    // Throughput, alternating rounds: one commit per row vs 100 sessions through the group commit.
    const rawRates: number[] = [];
    const crowdRates: number[] = [];
    const batchSizes: number[] = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      let n = 0;
      let start = performance.now();
      while (performance.now() - start < THROUGHPUT_MS) {
        await rawInsert();
        n += 1;
      }
      rawRates.push(n / ((performance.now() - start) / 1000));

      const before = { ...ledger.inputStats };
      let done = 0;
      start = performance.now();
      const deadline = start + THROUGHPUT_MS;
      await Promise.all(
        crowd.map(async (sessionId) => {
          while (performance.now() < deadline) {
            await append(sessionId);
            done += 1;
          }
        }),
      );
      crowdRates.push(done / ((performance.now() - start) / 1000));
      const after = ledger.inputStats;
      batchSizes.push((after.requests - before.requests) / Math.max(1, after.batches - before.batches));
    }
    await ledger.close();

    const result = {
      raw_commit_p50_ms: round3(percentile(rawMs, 50)),
      append_input_p50_ms: round3(percentile(appendMs, 50)),
      append_input_p99_ms: round3(percentile(appendMs, 99)),
      ratio_c1: round3(percentile(appendMs, 50) / percentile(rawMs, 50)),
      raw_commits_per_s: Math.round(median(rawRates)),
      appends_per_s_c100: Math.round(median(crowdRates)),
      throughput_ratio_c100: round3(median(crowdRates) / median(rawRates)),
    };

    const table: Array<[string, string, string]> = [
      ['raw_commit_p50_ms', String(result.raw_commit_p50_ms), ''],
      ['raw_commit_p99_ms (info)', String(round3(percentile(rawMs, 99))), ''],
      ['append_input_p50_ms', String(result.append_input_p50_ms), ''],
      ['append_input_p99_ms', String(result.append_input_p99_ms), ''],
      ['ratio_c1', String(result.ratio_c1), result.ratio_c1 <= 1.3 ? 'target ≤ 1.3: met' : 'target ≤ 1.3: MISSED'],
      ['raw_commits_per_s', String(result.raw_commits_per_s), `rounds: ${rawRates.map(Math.round).join(', ')}`],
      ['appends_per_s_c100', String(result.appends_per_s_c100), `rounds: ${crowdRates.map(Math.round).join(', ')}; mean batch ${batchSizes.map((b) => b.toFixed(1)).join(', ')}`],
      ['throughput_ratio_c100', String(result.throughput_ratio_c100), result.throughput_ratio_c100 >= 10 ? 'target ≥ 10: met' : 'target ≥ 10: MISSED'],
    ];
    const w0 = Math.max(...table.map((r) => r[0].length));
    const w1 = Math.max(...table.map((r) => r[1].length));
    const [load1] = loadavg();
    console.log(`\nload average (1 min) ${load1!.toFixed(1)} on ${cpus().length} CPUs — shared machines make absolute numbers noisy; the ratios are measured side by side`);
    console.log(`ledger bench — PostgreSQL ${(await raw.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?'}, ${LATENCY_SAMPLES} samples at 1 client, ${ROUNDS}×${THROUGHPUT_MS} ms throughput rounds\n`);
    for (const [k, v, note] of table) console.log(`  ${k.padEnd(w0)}  ${v.padStart(w1)}  ${note}`);
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    await writeFile(new URL('./results/ledger.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
    console.log('\nwrote bench/results/ledger.json');
  } finally {
    await raw.end().catch(() => undefined);
    await db.close().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

await main();
