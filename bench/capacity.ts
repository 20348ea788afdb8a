/**
 * Capacity figures for docs/operations.md ("Capacity model"): the sample story's full
 * walkthrough (15 turns, 5 scenes, 4 scene exits and the ending) played by N
 * sessions at once (one run per LEVELS entry) through ONE engine (StoryBehaviour, scripted LLM roles, the rule frame
 * model) on real PostgreSQL at DATABASE_URL. Creates and drops its own database, so the
 * database-side counters (pg_stat_database) are this run's alone. Writes
 * bench/results/capacity.json.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/capacity.ts   (LEVELS=1,100: sessions at once per run)
 *
 * Fields (per completed turn unless named otherwise):
 *   xact_commits_per_turn        PostgreSQL transactions committed (pg_stat_database.xact_commit, reads included)
 *   write_statements_per_turn    ledger write statements (input group commits + event batches), from the ledger metrics
 *   input_rows_per_statement     group-commit amortisation of the input path at this concurrency
 *   event_rows_per_statement     the same for the asynchronous event writer
 *   ledger_rows_per_turn         event_ledger rows written
 *   tuples_written_per_turn      tup_inserted + tup_updated (ledger, checkpoints, sessions, outbox, graph …)
 *   scene_exits_per_turn         scene-exit transactions (checkpoint + outbox row + snapshots)
 *   cpu_ms_per_turn              engine process CPU (user + system) over the run / turns
 *   heap_bytes_per_session       heap slope: (heap with N warm sessions − heap with N/2) / (N/2), sessions mid-story
 *   heap_bytes_all_in_per_session (heap with N warm − heap before any) / N: includes the story's shared caches
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { Registry } from 'prom-client';
import { StoryBehaviour } from '../src/actors/story-behaviour.ts';
import { loadStoryFile } from '../src/domain/story/loader.ts';
import { SessionEngine, type SessionHandle } from '../src/engine/engine.ts';
import { silentLogger } from '../src/logger.ts';
import { openGraphStore } from '../src/persistence/graph/open-graph-store.ts';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';
import { storeStory, storySource } from '../src/persistence/story-store.ts';

/** Concurrency levels, each a separate run on the same engine (LEVELS=1,100). */
const LEVELS = (process.env.LEVELS ?? '1,100').split(',').map(Number);
const WALKTHROUGH = [
  'look', 'ask Ewan about the light', 'go to the inn', 'ask Silas about the Curlew', 'take the key', 'give the letter to Ada', 'go to the cliff path', 'take the lamp',
  'ask Nell about the lamp', 'go to the lighthouse', 'go up', 'unlock the door', 'go up', 'ask Tobias about Davey', 'give the lamp to Tobias',
];

const baseUrl = process.env.DATABASE_URL;
if (!baseUrl) {
  console.error('bench/capacity.ts needs DATABASE_URL');
  process.exit(2);
}
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const name = `capacity_${process.pid}`;
const admin = new pg.Client({ connectionString: baseUrl });
await admin.connect();
await admin.query(`CREATE DATABASE "${name}"`);
const url = new URL(baseUrl);
url.pathname = `/${name}`;
const db = new PgDatabase({ connectionString: url.toString(), maxConnections: 16, applicationName: 'capacity-bench' });
const stats = async () => {
  const { rows } = await admin.query<{ xact_commit: string; tup_inserted: string; tup_updated: string }>('SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = $1', [name]);
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const r = rows[0]!;
  return { commits: Number(r.xact_commit), written: Number(r.tup_inserted) + Number(r.tup_updated) };
};
try {
  await migrate(db);
  const graph = await openGraphStore(db, { graphStore: 'sql' });
  const story = await storeStory(db, graph, await loadStoryFile('db/stories/the-lighthouse-keeper.yaml'));
  const registry = new Registry();
  const engine = new SessionEngine({
    db,
    graph,
    behaviour: new StoryBehaviour({ stories: storySource(db, { defaultStoryId: story.storyId }), graph }),
    logger: silentLogger,
    inspect: null,
    ledgerOptions: { maxPayloadBytes: 65_536, maxBatch: 512, flushMs: 20, registry },
  });
  const counters = async () => {
    const metrics = await registry.getMetricsAsJSON();
    const value = (metric: string, path: string, suffix: string): number => {
      const m = metrics.find((x) => x.name === metric) as { values: Array<{ labels: Record<string, string>; value: number; metricName?: string }> } | undefined;
      return m?.values.find((v) => v.labels.path === path && v.metricName === `${metric}${suffix}`)?.value ?? 0;
    };
    const q1 = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
    return {
      inputStatements: value('storyteller_ledger_batch_rows', 'input', '_count'),
      inputRows: value('storyteller_ledger_batch_rows', 'input', '_sum'),
      eventStatements: value('storyteller_ledger_batch_rows', 'events', '_count'),
      eventRows: value('storyteller_ledger_batch_rows', 'events', '_sum'),
      ledgerRows: await q1('SELECT count(*) AS n FROM event_ledger'),
      sceneExits: await q1(`SELECT count(*) AS n FROM checkpoints WHERE checkpoint_type = 'scene_exit'`),
    };
  };
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  let turns = 0;
  const run = async (n: number) => {
    turns = 0;
  const heapBefore = heapUsed();
  // pg_stat_database is updated when a backend reports (at transaction end, throttled); a
  // stats snapshot taken after a flush-forcing pause is what the run wrote.
  await new Promise((r) => setTimeout(r, 2_000));
  const before = await stats();
  const c0 = await counters();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const play = async (h: SessionHandle, from: number, to: number): Promise<void> => {
    for (const [i, text] of WALKTHROUGH.entries()) {
      if (i < from || i >= to) continue;
      const id = `c-${i + 1}`;
      await new Promise<void>((resolve, reject) => {
        const offA = h.on('answer', (e) => {
          if (e.clientInputId !== id) return;
          offA();
          const offR = h.on('turnRecorded', (r) => {
            if (r.inputId !== e.inputId) return;
            offR();
            offF();
            turns += 1;
            resolve();
          });
        });
        const offF = h.on('failed', (f) => reject(new Error(f.error.message)));
        h.input(id, text);
      });
    }
  };
  // Heap per session as a slope: two waves of sessions, each warm mid-story (8 turns in, the
  // third scene), so the story's shared caches and the engine's fixed cost drop out.
  const MID = 8;
  const half = Math.max(1, Math.floor(n / 2));
  const wave = async (n: number): Promise<SessionHandle[]> => {
    const hs = await Promise.all(Array.from({ length: n }, () => engine.createSession({ storyId: story.storyId })));
    await Promise.all(hs.map((h) => play(h, 0, MID)));
    return hs;
  };
  const first = await wave(half);
  const heap1 = heapUsed();
  const second = await wave(n - half);
  const heap2 = heapUsed();
  const heapSlope = (heap2 - heap1) / Math.max(1, n - half);
  await Promise.all([...first, ...second].map((h) => play(h, MID, WALKTHROUGH.length)));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await engine.ledger.flush();
  await new Promise((r) => setTimeout(r, 2_000));
  const after = await stats();
  const c1 = await counters();
  const inputStatements = c1.inputStatements - c0.inputStatements;
  const inputRows = c1.inputRows - c0.inputRows;
  const eventStatements = c1.eventStatements - c0.eventStatements;
  const eventRows = c1.eventRows - c0.eventRows;
  const ledgerRows = c1.ledgerRows - c0.ledgerRows;
  const sceneExits = c1.sceneExits - c0.sceneExits;
  return {
    sessions: n,
    turns,
    seconds: r3(seconds),
    turns_per_s: r3(turns / seconds),
    xact_commits_per_turn: r3((after.commits - before.commits) / turns),
    write_statements_per_turn: r3((inputStatements + eventStatements) / turns),
    input_rows_per_statement: r3(inputRows / inputStatements),
    event_rows_per_statement: r3(eventRows / eventStatements),
    ledger_rows_per_turn: r3(ledgerRows / turns),
    tuples_written_per_turn: r3((after.written - before.written) / turns),
    scene_exits_per_turn: r3(sceneExits / turns),
    cpu_ms_per_turn: r3((cpu.user + cpu.system) / 1000 / turns),
    heap_bytes_per_session: n >= 2 ? Math.round(heapSlope) : null,
    heap_bytes_all_in_per_session: Math.round((heap2 - heapBefore) / n),
    loadavg_after: loadavg().map(r3),
  };
  };
  const runs = [];
  for (const n of LEVELS) runs.push(await run(n));
  await engine.shutdown();
  await graph.close();
  const result = {
    benchmark: 'capacity',
    date: new Date().toISOString(),
    runs,
    machine: { cpus: cpus().length, loadavg_at_end: loadavg().map(r3), node: process.version },
    note: 'one engine process, PostgreSQL 15 on the same shared 2-core machine (loopback), other engineers\' tests running (see loadavg); scripted LLM roles, rule frame model — CPU excludes LLM inference and network',
  };
  console.table(runs.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === 'number'))));
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/capacity.json', `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
}
