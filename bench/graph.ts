/**
 * Graph store benchmark (seed open consideration 5: profile the graph queries against
 * representative data). Generated graphs at 100, 1,000 and 10,000 characters (~10
 * RELATES_TO each; 10% as many scenes and settings), each forked into a session scope the
 * way a session starts; p50/p99 of every GraphStore query on that session scope.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:graph
 *   (+ AGE_DATABASE_URL=postgres://… to add AgeGraphStore on a PostgreSQL with Apache AGE)
 *   BENCH_GRAPH_SIZES=100,1000 (SQL stores), BENCH_GRAPH_AGE_SIZES=1000 (AGE) to choose sizes.
 *
 * Implementations: SqlGraphStore on PostgreSQL (DATABASE_URL, loopback), SqlGraphStore on
 * PGlite (in memory, 1,000 characters: the zero-configuration default), and
 * AgeGraphStore when AGE_DATABASE_URL is set. Creates and drops its own databases.
 * Writes bench/results/graph.json. Key figure: scene_entry_graph_load_p99_ms — what scene
 * entry step 3 runs (loadSceneGraphContext: relational subgraph of a 6-character cast,
 * scenes 1..3 hops ahead, adjacent settings) at 1,000 characters on PostgreSQL; target ≤ 10 ms.
 * With AGE, also `age_over_sql` (AGE ÷ SQL store on PostgreSQL, same size, same run) and
 * `age_targets` (issue 10's targets for AGE at 1,000 characters).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import type { Database } from '../src/persistence/database.ts';
import { AgeGraphStore } from '../src/persistence/graph/age-graph-store.ts';
import type { GraphStore } from '../src/persistence/graph/graph-store.ts';
import { loadSceneGraphContext } from '../src/persistence/graph/scene-graph-context.ts';
import { SqlGraphStore } from '../src/persistence/graph/sql-graph-store.ts';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';
import { PgliteDatabase } from '../src/persistence/pglite-database.ts';
import { characterId, generateGraph, sceneId, seededRandom, settingId } from '../test/support/graph-fixtures.ts';

const sizes = (value: string | undefined, fallback: number[]) => (value ? value.split(',').map(Number) : fallback);
const SIZES: readonly number[] = sizes(process.env.BENCH_GRAPH_SIZES, [100, 1_000, 10_000]); // e.g. BENCH_GRAPH_SIZES=1000 for a quick look
const AGE_SIZES: readonly number[] = sizes(process.env.BENCH_GRAPH_AGE_SIZES, [...SIZES]);
const PGLITE_SIZES = new Set<number>([1_000]);
const TARGET_P99_MS = 10;
/** Issue 10's targets for AgeGraphStore at 1,000 characters (p99 ms; load and fork in ms). */
const AGE_TARGETS = {
  scene_entry_graph_load: 10,
  relational_subgraph: 20,
  shortest_relational_path: 20,
  trusting_characters: 20,
  reachable_scenes: 20,
  tense_scenes_ahead: 20,
  adjacent_settings: 20,
  scenes_near_setting: 20,
  tension_with_snapshots: 20,
  apply_edge_updates_8: 10,
  load_ms: 3_000,
  fork_ms: 1_000,
} as const;
const iterationsFor = (characters: number) => (characters >= 10_000 ? 100 : 300);
const WARMUP = 30;

const baseUrl = process.env.DATABASE_URL;
if (!baseUrl) {
  console.error('bench:graph needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  process.exit(2);
}

interface Stat {
  p50_ms: number;
  p99_ms: number;
  n: number;
  /** p99 of each run of 100 consecutive samples: shows whether the tail is steady or a burst of machine load. */
  p99_by_100?: number[];
}
interface SizeResult {
  implementation: string;
  characters: number;
  vertices: number;
  edges: number;
  load_ms: number;
  fork_ms: number;
  queries: Record<string, Stat>;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.max(0, Math.ceil(p * s.length) - 1)]!;
  return { p50_ms: round3(rank(0.5)), p99_ms: round3(rank(0.99)), n: s.length };
}

async function time(label: string, iterations: number, fn: (i: number) => Promise<unknown>): Promise<Stat> {
  for (let i = 0; i < WARMUP; i++) await fn(i + 1_000_000);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  const result = stat(samples);
  if (samples.length >= 200) {
    result.p99_by_100 = [];
    for (let i = 0; i + 100 <= samples.length; i += 100) result.p99_by_100.push(stat(samples.slice(i, i + 100)).p99_ms);
  }
  if (process.env.BENCH_VERBOSE) console.error(`  ${label}: p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms`);
  return result;
}

async function createPgDatabase(serverUrl: string, prefix: string): Promise<{ db: PgDatabase; drop(): Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = new PgDatabase({ connectionString: url.toString(), maxConnections: 4, applicationName: 'graph-bench' });
  await migrate(db);
  return {
    db,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

async function benchSize(implementation: string, store: GraphStore, db: Database, characters: number): Promise<SizeResult> {
  const fixture = generateGraph({ characters, seed: characters });
  const story = `bench-story-${characters}`;
  const session = randomUUID();
  const scenes = Math.max(3, Math.round(characters * 0.1));
  const settings = scenes;

  let t0 = performance.now();
  await store.upsertVertices(story, fixture.vertices);
  await store.upsertEdges(story, fixture.edges);
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  await store.forkScope(story, session);
  const forkMs = performance.now() - t0;

  // Snapshots for a tenth of the characters (those a session has met so far).
  await db.query('INSERT INTO sessions (id) VALUES ($1)', [session]);
  const met = Array.from({ length: Math.ceil(characters / 10) }, (_, i) => characterId(i * 10));
  await db.query(
    `INSERT INTO entity_snapshots (session_id, entity_id, kind, components)
     SELECT $1, e, 'character', jsonb_build_object('mood', 0.5, 'tensor', jsonb_build_array(0.1, 0.2, 0.3)) FROM unnest($2::text[]) AS e`,
    [session, met],
  );
  // A running database has statistics for its snapshot table; a fresh one gets them from autovacuum within
  // a minute. Without them the planner may join the AGE tension query from the wrong side (270 ms instead of 20).
  await db.query('ANALYZE entity_snapshots');

  const random = seededRandom(characters * 7 + 1);
  const pick = (n: number) => Math.floor(random() * n);
  const iterations = iterationsFor(characters);
  const count = iterations + WARMUP;
  const casts = Array.from({ length: count }, () => Array.from({ length: 6 }, () => characterId(pick(characters))));
  const pairs = Array.from({ length: count }, () => [characterId(pick(characters)), characterId(pick(characters))] as const);
  const sceneIds = Array.from({ length: count }, () => sceneId(pick(scenes)));
  const settingIds = Array.from({ length: count }, () => settingId(pick(settings)));
  const at = <T>(xs: readonly T[], i: number) => xs[i % xs.length]!;

  const queries: Record<string, Stat> = {};
  // The headline figure gets more samples: a p99 over 1,000 is a steadier estimate than over 300.
  queries.scene_entry_graph_load = await time('scene_entry_graph_load', characters >= 10_000 ? iterations * 3 : 1_000, (i) =>
    loadSceneGraphContext(store, { scope: session, castIds: at(casts, i), sceneId: at(sceneIds, i), settingId: at(settingIds, i) }),
  );
  queries.relational_subgraph = await time('relational_subgraph', iterations, (i) => store.relationalSubgraph(session, at(casts, i)));
  queries.shortest_relational_path = await time('shortest_relational_path', iterations, (i) => store.shortestRelationalPath(session, ...at(pairs, i)));
  queries.trusting_characters = await time('trusting_characters', iterations, (i) => store.trustingCharacters(session, at(pairs, i)[0]));
  queries.reachable_scenes = await time('reachable_scenes', iterations, (i) => store.reachableScenes(session, at(sceneIds, i), 3));
  queries.tense_scenes_ahead = await time('tense_scenes_ahead', iterations, (i) => store.tenseScenesAhead(session, at(sceneIds, i)));
  queries.adjacent_settings = await time('adjacent_settings', iterations, (i) => store.adjacentSettings(session, at(settingIds, i)));
  queries.scenes_near_setting = await time('scenes_near_setting', iterations, (i) => store.scenesNearSetting(session, at(settingIds, i)));
  queries.tension_with_snapshots = await time('tension_with_snapshots', Math.min(iterations, 100), () => store.tensionWithSnapshots(session, session));
  // The scene-exit batch: 8 relational shifts among a cast, in its own transaction.
  queries.apply_edge_updates_8 = await time('apply_edge_updates_8', iterations, (i) =>
    db.transaction((tx) =>
      store.applyEdgeUpdates(
        session,
        at(casts, i).flatMap((from, k) => (k < 4 ? [{ from, to: at(casts, i)[k + 1]!, deltas: { trust_benevolence: 0.01, debt: -0.01 } }, { from: at(casts, i)[k + 1]!, to: from, deltas: { affection: 0.02 } }] : [])),
        tx,
      ),
    ),
  );
  return { implementation, characters, vertices: fixture.vertices.length, edges: fixture.edges.length, load_ms: Math.round(loadMs), fork_ms: Math.round(forkMs), queries };
}

function printTable(results: SizeResult[]): string {
  const names = Object.keys(results[0]!.queries);
  const header = `| query | ${results.map((r) => `${r.implementation} ${r.characters.toLocaleString('en-US')}`).join(' | ')} |`;
  const rule = `|---|${results.map(() => '---:').join('|')}|`;
  const lines = names.map((q) => `| ${q} | ${results.map((r) => (r.queries[q] ? `${r.queries[q].p50_ms} / ${r.queries[q].p99_ms}` : '–')).join(' | ')} |`);
  const load = `| load story graph (ms) | ${results.map((r) => String(r.load_ms)).join(' | ')} |`;
  const fork = `| fork into session scope (ms) | ${results.map((r) => String(r.fork_ms)).join(' | ')} |`;
  const size = `| vertices / edges | ${results.map((r) => `${r.vertices} / ${r.edges}`).join(' | ')} |`;
  return [header, rule, ...lines, load, fork, size].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg()[0]!;
  const results: SizeResult[] = [];
  const serverVersion = await (async () => {
    const c = new pg.Client({ connectionString: baseUrl });
    await c.connect();
    const { rows } = await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
    await c.end();
    return rows[0]!.v;
  })();

  const pgDb = await createPgDatabase(baseUrl!, 'graph_bench');
  try {
    const store = new SqlGraphStore(pgDb.db);
    for (const n of SIZES) {
      results.push(await benchSize('sql/pg', store, pgDb.db, n));
      console.error(`sql/pg ${n}: done (${Math.round((performance.now() - started) / 1000)} s)`);
    }
  } finally {
    await pgDb.drop();
  }

  for (const n of SIZES) {
    if (!PGLITE_SIZES.has(n)) continue;
    const lite = await PgliteDatabase.open();
    try {
      await migrate(lite);
      results.push(await benchSize('sql/pglite', new SqlGraphStore(lite), lite, n));
      console.error(`sql/pglite ${n}: done (${Math.round((performance.now() - started) / 1000)} s)`);
    } finally {
      await lite.close();
    }
  }

  let age = 'not measured: AGE_DATABASE_URL not set (Apache AGE is packaged neither for Debian nor for PGlite)';
  let ageServer: { postgres: string; age: string; jit: string; shared_preload_libraries: string } | null = null;
  if (process.env.AGE_DATABASE_URL) {
    const ageDb = await createPgDatabase(process.env.AGE_DATABASE_URL, 'graph_bench_age');
    try {
      const store = await AgeGraphStore.open(ageDb.db);
      const { rows } = await ageDb.db.query<{ postgres: string; age: string; jit: string; shared_preload_libraries: string }>(
        `SELECT current_setting('server_version') AS postgres, (SELECT extversion FROM pg_extension WHERE extname = 'age') AS age,
                current_setting('jit') AS jit, current_setting('shared_preload_libraries') AS shared_preload_libraries`,
      );
      ageServer = rows[0]!;
      for (const n of AGE_SIZES) {
        results.push(await benchSize('age', store, ageDb.db, n));
        console.error(`age ${n}: done (${Math.round((performance.now() - started) / 1000)} s)`);
      }
      await store.close();
      age = 'measured';
    } finally {
      await ageDb.drop();
    }
  }

  const headline = results.find((r) => r.implementation === 'sql/pg' && r.characters === 1_000)!.queries.scene_entry_graph_load!.p99_ms;
  const age1000 = results.find((r) => r.implementation === 'age' && r.characters === 1_000);
  const ageHeadline = age1000?.queries.scene_entry_graph_load?.p99_ms ?? null;
  const table = printTable(results);
  // AGE ÷ SQL store on PostgreSQL at the same size, from this run.
  const ageOverSql: Record<string, Record<string, { p50: number; p99: number } | number>> = {};
  for (const a of results.filter((r) => r.implementation === 'age')) {
    const sql = results.find((r) => r.implementation === 'sql/pg' && r.characters === a.characters);
    if (!sql) continue;
    const ratio = (x: number, y: number) => Math.round((x / Math.max(y, 0.001)) * 10) / 10;
    const row: Record<string, { p50: number; p99: number } | number> = {};
    for (const [q, st] of Object.entries(a.queries)) {
      const base = sql.queries[q];
      if (base) row[q] = { p50: ratio(st.p50_ms, base.p50_ms), p99: ratio(st.p99_ms, base.p99_ms) };
    }
    row.load_ms = ratio(a.load_ms, sql.load_ms);
    row.fork_ms = ratio(a.fork_ms, sql.fork_ms);
    ageOverSql[String(a.characters)] = row;
  }
  const ageTargets = age1000
    ? Object.fromEntries(
        Object.entries(AGE_TARGETS).map(([k, limit]) => {
          const value = k === 'load_ms' ? age1000.load_ms : k === 'fork_ms' ? age1000.fork_ms : age1000.queries[k]!.p99_ms;
          return [k, { value, target: limit, met: value <= limit }];
        }),
      )
    : null;
  const output = {
    benchmark: 'graph',
    generated_at: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      postgres: serverVersion,
      loopback: true,
      // Shared build machine: other jobs' load inflates the p99 tails.
      load_avg_1m_before: round3(loadBefore),
      load_avg_1m_after: round3(os.loadavg()[0]!),
    },
    units: 'milliseconds; each cell p50 / p99',
    scene_entry_graph_load_p99_ms: headline,
    scene_entry_graph_load_p50_ms: results.find((r) => r.implementation === 'sql/pg' && r.characters === 1_000)!.queries.scene_entry_graph_load!.p50_ms,
    scene_entry_graph_load_p99_by_100_ms: results.find((r) => r.implementation === 'sql/pg' && r.characters === 1_000)!.queries.scene_entry_graph_load!.p99_by_100 ?? [],
    scene_entry_graph_load_p99_ms_age: ageHeadline,
    target_p99_ms: TARGET_P99_MS,
    meets_target: headline <= TARGET_P99_MS,
    age,
    age_server: ageServer,
    age_sizes: ageServer ? AGE_SIZES : [],
    age_targets: ageTargets,
    age_over_sql: ageOverSql,
    duration_s: Math.round((performance.now() - started) / 1000),
    results,
    table,
  };
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(new URL('./results/graph.json', import.meta.url), `${JSON.stringify(output, null, 2)}\n`);
  console.log(table);
  console.log(
    `\nscene_entry_graph_load_p99_ms (1,000 characters, PostgreSQL) = ${headline} ms (target ≤ ${TARGET_P99_MS} ms: ${output.meets_target ? 'met' : 'NOT met'}; ` +
      `p99 per 100 samples: ${output.scene_entry_graph_load_p99_by_100_ms.join(', ')}; load avg ${output.machine.load_avg_1m_before} → ${output.machine.load_avg_1m_after} on ${output.machine.cpus} CPUs); AGE: ${age}`,
  );
  if (ageTargets) {
    const missed = Object.entries(ageTargets).filter(([, t]) => !t.met);
    console.log(
      `AGE ${ageServer?.age} (1,000 characters): scene_entry_graph_load p99 = ${ageHeadline} ms (target ≤ ${AGE_TARGETS.scene_entry_graph_load} ms); ` +
        `load ${age1000!.load_ms} ms, fork ${age1000!.fork_ms} ms; targets ${missed.length === 0 ? 'all met' : `NOT met: ${missed.map(([k, t]) => `${k} ${t.value} > ${t.target}`).join(', ')}`}`,
    );
  }
}

await main();
