/**
 * Checkpoint-size benchmark (issue 13, open consideration 3; docs/checkpoints.md).
 *
 *   npm run bench:checkpoints [-- --driver pg|pglite --scenes 200 --turns 5000 --entities 50 --full-every 10,20,50 --restores 300]
 *
 * A generated story — 50 entities (player, 14 characters, 35 objects), 20 places, 200
 * scenes, 5,000 turns — is played into the ledger as the engine writes it (PlayerInput,
 * the turn's action/speech/movement/relationship/judgment/world events, TurnCompleted;
 * SceneEntered, arrivals, goals, departures, SceneExited per scene, after the story
 * baseline). At every scene exit the real checkpoint writer (`writeCheckpoint`, the same
 * call the engine's scene-exit transaction makes) stores the checkpoint the engine would:
 * the truth set folded from the ledger rows, the story behaviour's entity state
 * (holders, locations), world view and narrative position. One session per mode gets the
 * same checkpoints: `full` (every checkpoint full — today's format) and `delta-N`
 * (STORYTELLER_CHECKPOINT_FULL_EVERY=N). Running 5,000 real turns through the session
 * machine would add nothing to the checkpoint bytes and take far longer on the shared machine.
 *
 * Figures (bench/results/checkpoints[-pglite].json):
 *   json_bytes       the checkpoint's state as JSON text (what the engine serialises), per row
 *   stored_bytes     pg_column_size of the stored columns (after TOAST compression), per row
 *   today_*          every checkpoint full with pglz — the format before this change
 *   growth           least-squares bytes per scene of the full checkpoint
 *   last chain       the newest full checkpoint and the deltas after it: the steady cost per checkpoint at 5,000 turns
 *   restore p50/p99  restoreNewestCheckpoint + truthSetOfCheckpoint of the newest row (what loadSession does), wall
 *                    clock, and the node process's CPU time for it (less sensitive to a loaded machine)
 *   fallback         loadTruthSet when the newest delta is corrupt: full checkpoint + ledger replay
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import pg from 'pg';
import { baselineEvents, worldView } from '../src/actors/agents/world.ts';
import type { StoryBaseline } from '../src/actors/scene-model.ts';
import { toDurableRecord } from '../src/actors/persistence.ts';
import { EVENT_DATA_SCHEMAS, type EventType } from '../src/domain/events.ts';
import { applyEvents, emptyTruthSet, type TruthSet } from '../src/domain/truth-set.ts';
import { restoreNewestCheckpoint, writeCheckpoint } from '../src/persistence/checkpoints.ts';
import type { Database } from '../src/persistence/database.ts';
import { Ledger } from '../src/persistence/ledger.ts';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';
import { PgliteDatabase } from '../src/persistence/pglite-database.ts';
import { loadTruthSet, truthSetOfCheckpoint } from '../src/persistence/truth-set-replay.ts';
import { replayTruthSet, sameTruthSet } from '../src/testing/ledger-audit.ts';

const program = new Command()
  .option('--driver <driver>', 'pg (DATABASE_URL) or pglite', 'pg')
  .option('--entities <n>', 'entities in the story', '50')
  .option('--scenes <n>', 'scenes played', '200')
  .option('--turns <n>', 'turns played in all', '5000')
  .option('--full-every <list>', 'STORYTELLER_CHECKPOINT_FULL_EVERY values to compare', '10,20,50')
  .option('--restores <n>', 'timed restores per mode', '300')
  .parse();
const opts = program.opts<{ driver: string; entities: string; scenes: string; turns: string; fullEvery: string; restores: string }>();
const ENTITIES = Number(opts.entities);
const SCENES = Number(opts.scenes);
const TURNS = Number(opts.turns);
const FULL_EVERY = opts.fullEvery.split(',').map(Number);
const RESTORES = Number(opts.restores);
const STORY = 'generated-long-story';

/** Deterministic pseudo-random numbers (LCG): every run measures the same session. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const rnd = lcg(20261204);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const sceneUuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

// ---------------------------------------------------------------- the generated story
const characters = Array.from({ length: 14 }, (_, i) => `character-${i}`);
const objects = Array.from({ length: ENTITIES - 1 - characters.length }, (_, i) => `object-${i}`);
const people = ['player', ...characters];
const places = Array.from({ length: 20 }, (_, i) => `place-${i}`);
const worldKeys = Array.from({ length: 60 }, (_, i) => `world-key-${i}`);
const scenes = Array.from({ length: SCENES }, (_, i) => ({
  key: `scene-${String(i).padStart(3, '0')}`,
  id: sceneUuid(i + 1),
  cast: Array.from({ length: 3 + (i % 3) }, (_, j) => characters[(i * 3 + j) % characters.length]!),
  setting: places[i % places.length]!,
}));
const baseline: StoryBaseline = {
  playerStartsAt: places[0]!,
  world: Object.fromEntries(worldKeys.slice(0, 20).map((k, i) => [k, i % 2 === 0 ? 'closed' : 0])),
  holders: Object.fromEntries(objects.slice(0, 10).map((o, i) => [o, people[i % people.length]!])),
  locations: Object.fromEntries(objects.slice(10).map((o, i) => [o, places[i % places.length]!])),
};

interface GenEvent {
  type: EventType;
  data: Record<string, unknown>;
  turn: number;
  sceneId: string | null;
  clientInputId?: string;
}

const TEXTS = ['I look around the room', 'I take the old brass key', 'I ask about the lighthouse keeper', 'I walk to the harbour', 'I give the letter back'];

/** The events of one scene (turns `from`..`to`), in ledger order. */
function sceneEvents(index: number, from: number, to: number): GenEvent[] {
  const s = scenes[index]!;
  const out: GenEvent[] = [];
  const push = (type: EventType, data: Record<string, unknown>, turn: number, extra: Partial<GenEvent> = {}) => {
    EVENT_DATA_SCHEMAS[type].parse(data); // generated data must pass the ledger's schemas
    out.push({ type, data, turn, sceneId: s.id, ...extra });
  };
  push('SceneEntered', { sceneId: s.id, sceneKey: s.key, characters: s.cast }, from);
  for (const c of s.cast) push('CharacterArrival', { character: c, sceneId: s.id }, from);
  for (let turn = from + 1; turn <= to; turn++) {
    const clientInputId = `c-${turn}`;
    push('PlayerInput', { clientInputId, text: `${pick(TEXTS)} (${turn})` }, turn, { clientInputId });
    const inputId = 1; // the PlayerInput's ledger id, set when the rows are numbered
    const actions = 1 + Math.floor(rnd() * 3);
    for (let a = 0; a < actions; a++) {
      const r = rnd();
      if (r < 0.2) push('ActionPerformed', { actor: pick(['player', ...s.cast]), action: pick(['take', 'give', 'drop']), target: pick(objects), recipient: pick(people) }, turn);
      else if (r < 0.35) push('SpeechAct', { speaker: pick(['player', ...s.cast]), addressee: pick(s.cast), content: `a few words about ${pick(objects)}` }, turn);
      else if (r < 0.45) push('MovementAction', { actor: pick(['player', ...s.cast]), from: s.setting, to: pick(places) }, turn);
      else if (r < 0.55) push('ExaminationAction', { actor: 'player', target: pick(objects) }, turn);
      else if (r < 0.7) push('RelationshipShifted', { from: pick(s.cast), to: pick(people), dimension: pick(['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt']), delta: Math.round((rnd() - 0.5) * 100) / 100 }, turn);
      else if (r < 0.85) {
        push('InterpretiveJudgment', {
          id: `j-${turn}-${a}`, sceneId: s.id, category: pick(['TrustShift', 'EmotionExpressed', 'EmotionalRegisterShift', 'ToneDetected', 'IntentInferred']),
          subject: pick(s.cast), confidence: Math.round(rnd() * 100) / 100, evidence: [turn], description: 'observed in the exchange',
          source: { kind: 'classifier' }, provisional: rnd() < 0.5,
        }, turn);
      } else push('WorldStateChanged', { key: pick(worldKeys), old: null, new: pick(['open', 'closed', 1, 2, 3, true]) }, turn);
    }
    push('TurnCompleted', { inputId, turn, degraded: [], outcome: 'played' }, turn);
  }
  if (rnd() < 0.6) push('GoalCompleted', { goalId: `goal-${index}`, sceneId: s.id }, to);
  if (rnd() < 0.4) push('GateFired', { gateId: `gate-${index}`, sceneId: s.id }, to);
  if (rnd() < 0.4) push('InformationRevealed', { gateId: `gate-${index}`, recipient: 'player' }, to);
  push('CharacterDeparture', { character: pick(s.cast), sceneId: s.id, significance: 'casual' }, to);
  push('SceneExited', { sceneId: s.id, sceneKey: s.key, reason: 'goal_completed', nextSceneKey: scenes[index + 1]?.key ?? null }, to);
  return out;
}

// ---------------------------------------------------------------- helpers
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
/** Least-squares slope of ys over 0..n-1. */
function slope(ys: number[]): number {
  const n = ys.length;
  const mx = (n - 1) / 2;
  const my = mean(ys);
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? 0 : num / den;
}

async function openBenchDatabase(): Promise<{ db: Database; close: () => Promise<void>; label: string }> {
  if (opts.driver === 'pglite') {
    const dir = await mkdtemp(join(tmpdir(), 'bench-checkpoints-'));
    const db = await PgliteDatabase.open(dir);
    return { db, label: 'PGlite (embedded)', close: async () => { await db.close(); await rm(dir, { recursive: true, force: true }); } };
  }
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    console.error('bench:checkpoints needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres), or --driver pglite');
    process.exit(2);
  }
  const name = `checkpoint_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const db = new PgDatabase({ connectionString: url.toString(), maxConnections: 4, applicationName: 'checkpoint-bench' });
  const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
  return {
    db,
    label: `PostgreSQL ${version} (loopback)`,
    close: async () => {
      await db.close();
      await admin.query(`DROP DATABASE "${name}"`);
      await admin.end();
    },
  };
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const load = loadavg();
  const { db, close, label } = await openBenchDatabase();
  try {
    await migrate(db);
    const modes = [{ name: 'full', fullEvery: 1 }, ...FULL_EVERY.map((n) => ({ name: `delta-${n}`, fullEvery: n }))];
    const sessions = new Map(modes.map((m) => [m.name, randomUUID()]));
    // The first delta mode's session carries the ledger rows (fallback replay, oracle check).
    const played = sessions.get(modes[1]?.name ?? 'full')!;
    await db.query('INSERT INTO sessions (id) SELECT unnest($1::uuid[])', [[...sessions.values()]]);
    const ledger = new Ledger(db, { maxPayloadBytes: 64 * 1024, maxBatch: 512, flushMs: 1 });
    const compression = (await db.query<{ attname: string; method: string }>(
      `SELECT attname, CASE attcompression WHEN 'l' THEN 'lz4' WHEN 'p' THEN 'pglz' ELSE (SELECT setting FROM pg_settings WHERE name = 'default_toast_compression') END AS method
         FROM pg_attribute WHERE attrelid = 'checkpoints'::regclass AND attname IN ('truth_set', 'delta')`,
    )).rows;

    let ts = 0;
    const insertRows = async (events: GenEvent[]) => {
      // The rows the ledger writer would write (consecutive narrative_ts), in one statement.
      const first = ts + 1;
      ts += events.length;
      const { rows } = await db.query<{ id: string; narrative_ts: string }>(
        `INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, confidence, source, narrative_ts, client_input_id, session_started_at)
         SELECT $1, s, t, e, d::jsonb, c, 'bench', n, ci, (SELECT created_at FROM sessions WHERE id = $1) FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::real[], $7::bigint[], $8::text[]) AS u(s, t, e, d, c, n, ci)
         RETURNING id, narrative_ts`,
        [
          played,
          events.map((e) => e.sceneId),
          events.map((e) => e.turn),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => (e.type === 'InterpretiveJudgment' ? (e.data.confidence as number) : null)),
          events.map((_, i) => first + i),
          events.map((e) => e.clientInputId ?? null),
        ],
      );
      await db.query('UPDATE sessions SET last_narrative_ts = $2 WHERE id = $1', [played, ts]);
      return rows.length;
    };

    // The story baseline, as the world agent writes it once.
    const base = baselineEvents(STORY, baseline).map((e): GenEvent => ({ type: e.type, data: e.data as Record<string, unknown>, turn: 0, sceneId: null }));
    await insertRows(base);
    // Ledger ids are handed out in insertion order (a private database, one writer).
    let lastId = Number((await db.query<{ id: string }>('SELECT max(id) AS id FROM event_ledger')).rows[0]?.id ?? 0);

    let truthSet: TruthSet = emptyTruthSet();
    let folded = 0;
    const writeMs = new Map<string, number[]>(modes.map((m) => [m.name, []]));
    const turnsPerScene = TURNS / SCENES;
    const started = performance.now();
    for (let i = 0; i < SCENES; i++) {
      const from = Math.round(i * turnsPerScene);
      const to = Math.round((i + 1) * turnsPerScene);
      const events = sceneEvents(i, from, to);
      // TurnCompleted.inputId names its PlayerInput's ledger id.
      let id = lastId;
      let input = 0;
      for (const e of events) {
        id += 1;
        if (e.type === 'PlayerInput') input = id;
        if (e.type === 'TurnCompleted') e.data.inputId = input;
      }
      lastId += await insertRows(events);
      const fresh = await ledger.eventsSince(played, truthSet.lastNarrativeTs);
      truthSet = applyEvents(truthSet, fresh.map(toDurableRecord));
      folded += fresh.length;
      const view = worldView(baseline, truthSet);
      const s = scenes[i]!;
      const next = scenes[i + 1]?.key ?? null;
      const cp = {
        sceneId: s.id, turn: to, type: 'scene_exit' as const,
        entityState: { holders: view.holders, locations: view.locations },
        truthSet,
        narrativePosition: {
          storyId: STORY, sceneKey: s.key, nextSceneKey: next, ended: next === null,
          goalsCompleted: truthSet.persistent.filter((p) => p.predicate === 'goal_completed').map((p) => p.args[0]).filter((g) => g === `goal-${i}`),
          posteriors: Object.fromEntries(scenes.slice(i + 1, i + 6).map((n, k) => [n.key, round(1 / (k + 2), 3)])),
        },
        worldState: view,
        ledgerTs: truthSet.lastNarrativeTs,
        sessionState: { sceneIndex: i + 1, sceneKey: next, reason: 'goal_completed', ended: next === null },
      };
      for (const m of modes) {
        const t0 = performance.now();
        await writeCheckpoint(db, { ...cp, sessionId: sessions.get(m.name)! }, { fullEvery: m.fullEvery });
        writeMs.get(m.name)!.push(performance.now() - t0);
      }
    }
    const generateS = (performance.now() - started) / 1000;

    // ------------------------------------------------ sizes
    const { rows: sized } = await db.query<{ session_id: string; encoding: string; json_bytes: number; stored_bytes: number }>(
      `SELECT session_id, encoding,
              (coalesce(octet_length(entity_state::text), 0) + coalesce(octet_length(truth_set::text), 0) + coalesce(octet_length(narrative_position::text), 0)
               + coalesce(octet_length(world_state::text), 0) + coalesce(octet_length(delta::text), 0) + octet_length(session_state::text))::int AS json_bytes,
              (coalesce(pg_column_size(entity_state), 0) + coalesce(pg_column_size(truth_set), 0) + coalesce(pg_column_size(narrative_position), 0)
               + coalesce(pg_column_size(world_state), 0) + coalesce(pg_column_size(delta), 0) + pg_column_size(session_state))::int AS stored_bytes
         FROM checkpoints WHERE session_id = ANY($1::uuid[]) ORDER BY ledger_ts, created_at`,
      [[...sessions.values()]],
    );
    // Today's format: every checkpoint full, TOAST with the default pglz (a copy of the full session's rows).
    await db.exec(`CREATE TEMP TABLE today_checkpoints (e jsonb COMPRESSION pglz, t jsonb COMPRESSION pglz, n jsonb COMPRESSION pglz, w jsonb COMPRESSION pglz, s jsonb COMPRESSION pglz)`);
    // Through text: PostgreSQL copies an already compressed value as it is (no recompression with the target's method).
    await db.query(
      `INSERT INTO today_checkpoints SELECT entity_state::text::jsonb, truth_set::text::jsonb, narrative_position::text::jsonb, world_state::text::jsonb, session_state::text::jsonb
         FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts`,
      [sessions.get('full')],
    );
    const today = (await db.query<{ stored: number }>(
      `SELECT (pg_column_size(e) + pg_column_size(t) + pg_column_size(n) + pg_column_size(w) + pg_column_size(s))::int AS stored FROM today_checkpoints`,
    )).rows.map((r) => r.stored);
    // The last row inserted is the newest; temp table order is insertion order for a fresh heap.
    const perMode = (name: string) => sized.filter((r) => r.session_id === sessions.get(name));
    const fullRows = perMode('full');
    const todayNewest = today.at(-1) ?? 0;
    const todayMean = mean(today);
    const fullJsonNewest = fullRows.at(-1)?.json_bytes ?? 0;

    // ------------------------------------------------ restore timings (interleaved across modes)
    // restore = restoreNewestCheckpoint + truthSetOfCheckpoint (the truth set's zod read-back), what loadSession does.
    const restoreMs = new Map<string, number[]>(modes.map((m) => [m.name, []]));
    const restoreCpuMs = new Map<string, number[]>(modes.map((m) => [m.name, []]));
    const restoredMode = new Map<string, string>();
    for (let r = 0; r < RESTORES + 20; r++) {
      for (const m of modes) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const restored = await restoreNewestCheckpoint(db, sessions.get(m.name)!);
        if (restored) truthSetOfCheckpoint(restored.checkpoint);
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(c0);
        if (r >= 20) {
          restoreMs.get(m.name)!.push(ms); // 20 warm-up rounds
          restoreCpuMs.get(m.name)!.push((cpu.user + cpu.system) / 1000);
        }
        restoredMode.set(m.name, `${restored?.mode ?? 'none'}${restored?.depth ? ` (${restored.depth} deltas)` : ''}`);
      }
    }
    // The oracle: the delta session's newest checkpoint == the full one's == the replay from the ledger's first row.
    const newestFull = await restoreNewestCheckpoint(db, sessions.get('full')!);
    const newestPlayed = await restoreNewestCheckpoint(db, played);
    const oracle = await replayTruthSet(db, played);
    const verified = sameTruthSet(newestPlayed?.checkpoint.truthSet, oracle) && sameTruthSet(newestFull?.checkpoint.truthSet, oracle);

    // Fallback: the newest delta corrupt → last full checkpoint + ledger replay (then restored again).
    const intactMs: number[] = [];
    const fallbackMs: number[] = [];
    const fallbackRounds = Math.max(10, Math.floor(RESTORES / 10));
    for (let r = 0; r < fallbackRounds + 3; r++) {
      const t0 = performance.now();
      await loadTruthSet(db, ledger, played);
      if (r >= 3) intactMs.push(performance.now() - t0);
    }
    const newestId = newestPlayed?.checkpoint.id;
    const saved = (await db.query<{ delta: unknown }>('SELECT delta FROM checkpoints WHERE id = $1', [newestId])).rows[0]?.delta;
    await db.query(`UPDATE checkpoints SET delta = '{"x": 1}'::jsonb WHERE id = $1 AND encoding = 'delta'`, [newestId]);
    let fallbackVerified = true;
    let replayedRows = 0;
    for (let r = 0; r < fallbackRounds + 3; r++) {
      const t0 = performance.now();
      const loaded = await loadTruthSet(db, ledger, played);
      if (r >= 3) fallbackMs.push(performance.now() - t0);
      replayedRows = loaded.replayed.length;
      fallbackVerified &&= sameTruthSet(loaded.truthSet, oracle);
    }
    if (saved !== undefined) await db.query('UPDATE checkpoints SET delta = $2::jsonb WHERE id = $1', [newestId, JSON.stringify(saved)]);

    // ------------------------------------------------ report
    /** The newest full checkpoint and the deltas after it: what a checkpoint costs at this length of session. */
    const lastChain = <T extends { encoding: string }>(rows: T[]): T[] => rows.slice(rows.map((r) => r.encoding).lastIndexOf('full'));
    const table = modes.map((m) => {
      const rows = perMode(m.name);
      const deltas = rows.filter((r) => r.encoding === 'delta');
      const fulls = rows.filter((r) => r.encoding === 'full');
      const newest = rows.at(-1)!;
      const restore = restoreMs.get(m.name)!;
      return {
        mode: m.name,
        full_every: m.fullEvery,
        checkpoints: rows.length,
        full_rows: fulls.length,
        delta_rows: deltas.length,
        newest_encoding: newest.encoding,
        newest_json_bytes: newest.json_bytes,
        newest_stored_bytes: newest.stored_bytes,
        newest_vs_today_pct: round((100 * newest.stored_bytes) / todayNewest, 2),
        mean_stored_bytes: Math.round(mean(rows.map((r) => r.stored_bytes))),
        mean_vs_today_pct: round((100 * mean(rows.map((r) => r.stored_bytes))) / todayMean, 2),
        mean_delta_stored_bytes: Math.round(mean(deltas.map((r) => r.stored_bytes))),
        max_delta_stored_bytes: Math.max(0, ...deltas.map((r) => r.stored_bytes)),
        total_stored_bytes: rows.reduce((a, r) => a + r.stored_bytes, 0),
        write_p50_ms: round(percentile(writeMs.get(m.name)!, 50)),
        write_p99_ms: round(percentile(writeMs.get(m.name)!, 99)),
        restore_mode: restoredMode.get(m.name),
        restore_p50_ms: round(percentile(restore, 50)),
        restore_p99_ms: round(percentile(restore, 99)),
        restore_cpu_p50_ms: round(percentile(restoreCpuMs.get(m.name)!, 50)),
        restore_cpu_p99_ms: round(percentile(restoreCpuMs.get(m.name)!, 99)),
        last_chain_mean_stored_bytes: Math.round(mean(lastChain(rows).map((r) => r.stored_bytes))),
        last_chain_mean_vs_today_newest_pct: round((100 * mean(lastChain(rows).map((r) => r.stored_bytes))) / todayNewest, 2),
      };
    });
    const result = {
      measured_at: new Date().toISOString(),
      database: label,
      toast_compression: Object.fromEntries(compression.map((c) => [c.attname, c.method])),
      load_avg_1m: round(load[0] ?? 0),
      load_avg_1m_end: round(loadavg()[0] ?? 0),
      story: { entities: ENTITIES, scenes: SCENES, turns: TURNS, ledger_rows: ts, rows_folded: folded },
      generate_s: round(generateS, 1),
      today: {
        newest_json_bytes: fullJsonNewest,
        newest_stored_bytes_pglz: todayNewest,
        mean_stored_bytes_pglz: Math.round(todayMean),
        total_stored_bytes_pglz: today.reduce((a, b) => a + b, 0),
        growth_json_bytes_per_scene: Math.round(slope(fullRows.map((r) => r.json_bytes))),
        growth_stored_bytes_per_scene_pglz: Math.round(slope(today)),
        first_json_bytes: fullRows[0]?.json_bytes ?? 0,
      },
      full_lz4: {
        newest_stored_bytes: fullRows.at(-1)?.stored_bytes ?? 0,
        growth_stored_bytes_per_scene: Math.round(slope(fullRows.map((r) => r.stored_bytes))),
      },
      modes: table,
      fallback: {
        session_mode: modes[1]?.name ?? 'full',
        ledger_rows_replayed: replayedRows,
        intact_load_p50_ms: round(percentile(intactMs, 50)),
        intact_load_p99_ms: round(percentile(intactMs, 99)),
        fallback_load_p50_ms: round(percentile(fallbackMs, 50)),
        fallback_load_p99_ms: round(percentile(fallbackMs, 99)),
        equals_replay_from_first_row: fallbackVerified,
      },
      verified_equal_to_replay: verified,
    };
    const suffix = opts.driver === 'pglite' ? '-pglite' : '';
    await mkdir('bench/results', { recursive: true });
    await writeFile(`bench/results/checkpoints${suffix}.json`, `${JSON.stringify(result, null, 2)}\n`);

    console.log(`checkpoints: ${label}; TOAST ${JSON.stringify(result.toast_compression)}; load ${result.load_avg_1m} → ${result.load_avg_1m_end}`);
    console.log(`story: ${ENTITIES} entities, ${SCENES} scenes, ${TURNS} turns, ${ts} ledger rows (generated + written in ${result.generate_s} s)`);
    console.log(`today (all full, pglz): newest ${todayNewest} B stored / ${fullJsonNewest} B JSON; mean ${Math.round(todayMean)} B; growth ${result.today.growth_json_bytes_per_scene} B JSON (${result.today.growth_stored_bytes_per_scene_pglz} B stored) per scene`);
    console.table(table.map((r) => ({
      mode: r.mode, rows: `${r.full_rows}F+${r.delta_rows}D`, newest: `${r.newest_encoding} ${r.newest_stored_bytes} B`, 'newest/today': `${r.newest_vs_today_pct}%`,
      'mean B': r.mean_stored_bytes, 'mean/today': `${r.mean_vs_today_pct}%`, 'write p50/p99 ms': `${r.write_p50_ms}/${r.write_p99_ms}`,
      'last chain mean/today': `${r.last_chain_mean_vs_today_newest_pct}%`,
      'restore p50/p99 ms': `${r.restore_p50_ms}/${r.restore_p99_ms}`, 'cpu p50/p99 ms': `${r.restore_cpu_p50_ms}/${r.restore_cpu_p99_ms}`, restored: r.restore_mode,
    })));
    console.log(`fallback (corrupt newest delta → full + ${replayedRows} ledger rows): load p50/p99 ${result.fallback.fallback_load_p50_ms}/${result.fallback.fallback_load_p99_ms} ms (intact ${result.fallback.intact_load_p50_ms}/${result.fallback.intact_load_p99_ms} ms); equals replay: ${fallbackVerified}`);
    console.log(`newest checkpoints equal the replay from the ledger's first row: ${verified}`);
    await ledger.close();
    if (!verified || !fallbackVerified) process.exitCode = 1;
  } finally {
    await close();
  }
}

await main();
