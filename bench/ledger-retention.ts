/**
 * Ledger retention benchmark (issue 13, docs/ledger-retention.md): the same ledger of `--rows`
 * rows, unpartitioned (schema at migration 0006) and partitioned (0007), side by side on the
 * PostgreSQL at DATABASE_URL. Creates two private databases and drops them at the end.
 *
 *   npm run bench:ledger-retention -- --rows 1000000
 *
 * Rows: `--rows` split over sessions of `ROWS_PER_SESSION` rows whose start dates spread over
 * `MONTHS` months (so the partitioned ledger has that many filled partitions), filled with one
 * INSERT … SELECT generate_series per month. Measured, alternating the two databases:
 *   append_p50/p99_ms    one client, one player input per call, into a session of the current month
 *                        (0006: the single-row append statement as it was before 0007; 0007: appendRows today)
 *   replay_p50/p99_ms    one session's whole history read back (eventsSince(…, 0)) and folded into a truth set
 *   retire_month_ms      retiring the oldest month: DELETE of its sessions' rows (0006) vs DETACH PARTITION (0007)
 * Writes bench/results/ledger-retention.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile, copyFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { reconstructTruthSet } from '../src/domain/truth-set.ts';
import { appendRows } from '../src/persistence/ledger-append.ts';
import { Ledger } from '../src/persistence/ledger.ts';
import { ledgerColumnList, rowToRecord } from '../src/persistence/ledger-rows.ts';
import { migrate, MIGRATIONS_DIR } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg('rows', 1_000_000);
const ROWS_PER_SESSION = arg('rows-per-session', 1_000);
const MONTHS = arg('months', 12);
const APPEND_SAMPLES = arg('append-samples', 2_000);
const REPLAY_SAMPLES = arg('replay-samples', 200);

const baseUrl = process.env.DATABASE_URL;
if (!baseUrl) {
  console.error('bench:ledger-retention needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  process.exit(2);
}
if (!Number.isInteger(ROWS) || ROWS < ROWS_PER_SESSION * MONTHS) {
  console.error(`--rows must be an integer ≥ ${ROWS_PER_SESSION * MONTHS}`);
  process.exit(2);
}

/** The single-row player-input append as it was before migration 0007 (git show e00e5ff^:src/persistence/ledger-append.ts). */
const APPEND_0006 = `WITH alloc AS (
  UPDATE sessions SET last_narrative_ts = last_narrative_ts + 1
  WHERE id = $1::uuid
  RETURNING last_narrative_ts, owner_epoch, status = 'ended' AS ended
),
ins AS (
  INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, confidence, source, narrative_ts,
                            client_input_id, input_id, idempotency_key)
  SELECT $1::uuid, $2::uuid, $3::int, $4::text, $5::jsonb, $6::real, $7::text, a.last_narrative_ts, $9::text, $10::bigint, $11::text
  FROM alloc a
  WHERE ($8::bigint IS NULL OR a.owner_epoch = $8::bigint) AND NOT a.ended
  ON CONFLICT (session_id, client_input_id) WHERE client_input_id IS NOT NULL DO NOTHING
  RETURNING id, narrative_ts, created_at
)
SELECT 0 AS ord, a.owner_epoch, a.ended, n.id, n.narrative_ts, n.created_at
FROM (SELECT 1) AS one
LEFT JOIN alloc a ON true
LEFT JOIN ins n ON true`;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function migrationsUpTo(version: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-migrations-'));
  for (const n of await readdir(MIGRATIONS_DIR)) if (Number(n.slice(0, 4)) <= version) await copyFile(join(MIGRATIONS_DIR, n), join(dir, n));
  return dir;
}

interface Bench {
  label: '0006' | '0007';
  db: PgDatabase;
  sessions: string[][]; // per month
  current: string;
}

/** Sessions per month (created_at inside the month), rows per session, one statement per month. */
async function fill(b: Bench, start: Date): Promise<number> {
  const perMonth = Math.floor(ROWS / ROWS_PER_SESSION / MONTHS);
  const t0 = performance.now();
  for (let m = 0; m < MONTHS; m += 1) {
    const monthStart = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + m, 1, 12));
    const ids = Array.from({ length: perMonth }, () => randomUUID());
    b.sessions.push(ids);
    await b.db.query(`INSERT INTO sessions (id, status, created_at, last_narrative_ts) SELECT unnest($1::uuid[]), 'ended', $2::timestamptz, $3`, [ids, monthStart, ROWS_PER_SESSION]);
    const key = b.label === '0007' ? ', session_started_at' : '';
    const keyValue = b.label === '0007' ? ', s.created_at' : '';
    // Two rows in three a player input with a client id, the third a world-state effect with an idempotency key.
    await b.db.query(
      `INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, source, narrative_ts, client_input_id, idempotency_key, created_at${key})
       SELECT s.id, NULL, g / 3, CASE WHEN g % 3 = 0 THEN 'WorldStateChanged' ELSE 'PlayerInput' END,
              CASE WHEN g % 3 = 0 THEN jsonb_build_object('key', 'k' || (g % 17), 'old', g - 3, 'new', g)
                   ELSE jsonb_build_object('clientInputId', 'c-' || g, 'text', 'I open the door and look around.') END,
              'player', g, CASE WHEN g % 3 <> 0 THEN 'c-' || g END, CASE WHEN g % 3 = 0 THEN 'w-' || g END,
              s.created_at + g * INTERVAL '1 second'${keyValue}
       FROM sessions s CROSS JOIN generate_series(1, ${ROWS_PER_SESSION}) AS g
       WHERE s.id = ANY($1::uuid[])`,
      [ids],
    );
    process.stdout.write(`  ${b.label}: month ${m + 1}/${MONTHS} filled (${(((m + 1) * perMonth * ROWS_PER_SESSION) / 1e6).toFixed(2)} M rows, ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  b.current = randomUUID();
  await b.db.query(`INSERT INTO sessions (id) VALUES ($1)`, [b.current]);
  await b.db.exec('ANALYZE');
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  const names = { '0006': `retention_bench_0006_${Date.now().toString(36)}`, '0007': `retention_bench_0007_${Date.now().toString(36)}` } as const;
  const benches: Bench[] = [];
  try {
    for (const label of ['0006', '0007'] as const) {
      await admin.query(`CREATE DATABASE "${names[label]}"`);
      const url = new URL(baseUrl!);
      url.pathname = `/${names[label]}`;
      const db = new PgDatabase({ connectionString: url.toString(), maxConnections: 2, applicationName: 'ledger-retention-bench' });
      await migrate(db, label === '0006' ? await migrationsUpTo(6) : MIGRATIONS_DIR);
      benches.push({ label, db, sessions: [], current: '' });
    }
    const start = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - MONTHS, 1));
    const [b6, b7] = benches as [Bench, Bench];
    await b7.db.query('SELECT ledger_ensure_partitions($1::timestamptz, NOW())', [start]);
    console.log(`filling ${ROWS.toLocaleString()} rows into each database (${MONTHS} months, ${ROWS_PER_SESSION} rows per session)`);
    const fillMs = { '0006': await fill(b6, start), '0007': await fill(b7, start) };
    const sizes: Record<string, string> = {};
    for (const b of benches) sizes[b.label] = (await b.db.query<{ s: string }>('SELECT pg_size_pretty(pg_database_size(current_database())) AS s')).rows[0]!.s;

    // Append latency at one client, alternating.
    const appendMs: Record<'0006' | '0007', number[]> = { '0006': [], '0007': [] };
    let seq = 0;
    const appendOnce = async (b: Bench) => {
      seq += 1;
      const clientInputId = `bench-${seq}`;
      const json = JSON.stringify({ clientInputId, text: 'I open the door.' });
      const t = performance.now();
      if (b.label === '0006') {
        await b.db.query(APPEND_0006, [b.current, null, 1, 'PlayerInput', json, null, 'player', null, clientInputId, null, null], { name: 'append_0006' });
      } else {
        const [o] = await appendRows(b.db, [{ sessionId: b.current, sceneId: null, turn: 1, eventType: 'PlayerInput', json, confidence: null, source: 'player', clientInputId, inputId: null, idempotencyKey: null, epoch: null }], 'client_input_id');
        if (o?.status !== 'inserted') throw new Error(`append ${o?.status}`);
      }
      return performance.now() - t;
    };
    for (let i = 0; i < 200; i += 1) for (const b of benches) await appendOnce(b);
    for (let i = 0; i < APPEND_SAMPLES; i += 1) for (const b of i % 2 === 0 ? [b6, b7] : [b7, b6]) appendMs[b.label].push(await appendOnce(b));

    // Replay of one session's history: read + validate + fold into a truth set.
    const ledger7 = new Ledger(b7.db, { maxPayloadBytes: 65_536, maxBatch: 64, flushMs: 2 });
    const replayMs: Record<'0006' | '0007', number[]> = { '0006': [], '0007': [] };
    const replayOnce = async (b: Bench, sessionId: string) => {
      const t = performance.now();
      const records =
        b.label === '0006'
          ? (await b.db.query(`SELECT ${ledgerColumnList('l')} FROM event_ledger l WHERE session_id = $1 AND narrative_ts > $2 ORDER BY l.narrative_ts`, [sessionId, 0])).rows.map(rowToRecord)
          : await ledger7.eventsSince(sessionId, 0);
      reconstructTruthSet(null, records);
      if (records.length !== ROWS_PER_SESSION) throw new Error(`replayed ${records.length} rows`);
      return performance.now() - t;
    };
    const pick = (b: Bench, i: number) => b.sessions[i % MONTHS]![Math.floor(i / MONTHS) % b.sessions[0]!.length]!;
    for (let i = 0; i < 20; i += 1) for (const b of benches) await replayOnce(b, pick(b, i * 7919));
    for (let i = 0; i < REPLAY_SAMPLES; i += 1) for (const b of i % 2 === 0 ? [b6, b7] : [b7, b6]) replayMs[b.label].push(await replayOnce(b, pick(b, i * 7919 + 13)));
    await ledger7.close();

    // Retiring the oldest month: a mass DELETE vs DETACH PARTITION.
    const oldest = b7.sessions[0]!;
    let t = performance.now();
    const deleted = await b6.db.query('DELETE FROM event_ledger WHERE session_id = ANY($1::uuid[])', [b6.sessions[0]]);
    const deleteMs = performance.now() - t;
    const part = (await b7.db.query<{ name: string }>(
      `SELECT DISTINCT tableoid::regclass::text AS name FROM event_ledger WHERE session_id = $1`, [oldest[0]],
    )).rows[0]!.name;
    t = performance.now();
    await b7.db.exec(`ALTER TABLE event_ledger DETACH PARTITION ${part}`);
    const detachMs = performance.now() - t;

    const summary = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { p50: round3(percentile(s, 50)), p99: round3(percentile(s, 99)) };
    };
    const [load1, load5] = loadavg();
    const result = {
      rows: ROWS,
      rows_per_session: ROWS_PER_SESSION,
      months: MONTHS,
      load_average_1m: round3(load1!),
      load_average_5m: round3(load5!),
      cpus: cpus().length,
      server_version: (await b7.db.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows.map((r) => r.v)[0] ?? '?',
      database_size: sizes,
      fill_s: { '0006': round3(fillMs['0006'] / 1000), '0007': round3(fillMs['0007'] / 1000) },
      append_ms: { '0006': summary(appendMs['0006']), '0007': summary(appendMs['0007']) },
      replay_ms: { '0006': summary(replayMs['0006']), '0007': summary(replayMs['0007']) },
      retire_month: { rows: deleted.rowCount, '0006_delete_ms': round3(deleteMs), '0007_detach_ms': round3(detachMs) },
      samples: { append: APPEND_SAMPLES, replay: REPLAY_SAMPLES },
    };
    console.log(`\nledger retention bench — PostgreSQL ${result.server_version}, ${ROWS.toLocaleString()} rows per database, load average ${load1!.toFixed(1)} / ${load5!.toFixed(1)} on ${cpus().length} CPUs\n`);
    const rows: Array<[string, string, string]> = [
      ['', 'unpartitioned (0006)', 'partitioned (0007)'],
      ['database size', sizes['0006']!, sizes['0007']!],
      ['fill (s)', String(result.fill_s['0006']), String(result.fill_s['0007'])],
      ['append p50 (ms)', String(result.append_ms['0006'].p50), String(result.append_ms['0007'].p50)],
      ['append p99 (ms)', String(result.append_ms['0006'].p99), String(result.append_ms['0007'].p99)],
      [`replay of ${ROWS_PER_SESSION} rows p50 (ms)`, String(result.replay_ms['0006'].p50), String(result.replay_ms['0007'].p50)],
      [`replay of ${ROWS_PER_SESSION} rows p99 (ms)`, String(result.replay_ms['0006'].p99), String(result.replay_ms['0007'].p99)],
      [`retire oldest month (${(deleted.rowCount ?? 0).toLocaleString()} rows, ms)`, `DELETE ${result.retire_month['0006_delete_ms']}`, `DETACH ${result.retire_month['0007_detach_ms']}`],
    ];
    const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) console.log(`  ${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}`);
    await mkdir(new URL('./results/', import.meta.url), { recursive: true });
    // One entry per --rows size: a 1 M and a 10 M run sit side by side in the file.
    const file = new URL('./results/ledger-retention.json', import.meta.url);
    const previous = await readFile(file, 'utf8').then((t) => JSON.parse(t) as { runs?: Record<string, unknown> }).catch(() => ({ runs: {} }));
    const runs = { ...(previous.runs ?? {}), [String(ROWS)]: { ...result, measured_at: new Date().toISOString() } };
    await writeFile(file, `${JSON.stringify({ runs }, null, 2)}\n`);
    console.log('\nwrote bench/results/ledger-retention.json');
  } finally {
    for (const b of benches) await b.db.close().catch(() => undefined);
    for (const n of Object.values(names)) await admin.query(`DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

await main();
