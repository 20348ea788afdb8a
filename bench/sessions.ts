/**
 * Session-runtime benchmark (issue 3): 1,000 concurrent sessions in ONE engine, each
 * playing 10 turns with the deterministic minimal behaviour (scripted agents, no LLM)
 * against real PostgreSQL at DATABASE_URL (loopback). Creates and drops its own
 * database. Writes bench/results/sessions.json.
 *
 *   npm run bench:sessions            (SESSIONS=200 TURNS=5 for a quicker run)
 *
 * Fields:
 *   sessions                          sessions playing concurrently in one engine
 *   heap_bytes_per_session            (heapUsed with every session warm after its turns − before) / sessions   (target ≤ 256 KB)
 *   turn_overhead_p50_ms / _p99_ms    turn start → answer, minus the time spent inside behaviour members
 *                                     ("everything except LLM time"; the ack's durable write is before the
 *                                     turn and reported separately as ack_*)                              (target p99 ≤ 10 ms)
 *   scene_entry_p99_ms                lifecycle enters `entering` → sceneEntered (six steps + child spawn)
 *   resume_from_checkpoint_p50_ms     engine.open() of a released session → sceneEntered: newest checkpoint
 *                                     + ≥ 100 ledger events replayed + full scene entry, one at a time     (target ≤ 20 ms)
 *   turn_overhead_isolated_p50/p99_ms the same, for turns of one session while the other 999 stay warm and quiet
 *                                     (all-at-once turns queue behind each other on one event loop: the group
 *                                     commit wakes hundreds of sessions in the same tick)
 *   turn_cpu_ms                       process CPU time during the concurrent phase / turns played
 *   ack_p50_ms / ack_p99_ms           input sent → ack (durable group-committed PlayerInput), under full load
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { event } from '../src/domain/events.ts';
import { SessionEngine, type SessionHandle } from '../src/engine/engine.ts';
import { silentLogger } from '../src/logger.ts';
import { migrate } from '../src/persistence/migrations.ts';
import { PgDatabase } from '../src/persistence/pg-database.ts';
import { Ledger } from '../src/persistence/ledger.ts';
import { createMinimalBehaviour } from '../src/testing/minimal-behaviour.ts';

const SESSIONS = Number(process.env.SESSIONS ?? 1_000);
const TURNS = Number(process.env.TURNS ?? 10);
const RESUMES = Number(process.env.RESUMES ?? 50);
const EXTRA_EVENTS = 100;
const ISOLATED_TURNS = Number(process.env.ISOLATED_TURNS ?? 200);

const baseUrl = process.env.DATABASE_URL;
if (!baseUrl) {
  console.error('bench:sessions needs DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  process.exit(2);
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

// Scenes long enough for 10 turns: two scene exits per session, never the story's end.
const behaviour = createMinimalBehaviour({
  scenes: [
    { key: 'harbour', cast: ['mara'], next: 'lighthouse', exitAtTurn: 4 },
    { key: 'lighthouse', cast: ['mara', 'tomas'], next: 'summit', exitAtTurn: 8 },
    { key: 'summit', cast: ['tomas'], next: null, exitAtTurn: 1_000_000 },
  ],
});

interface Probe {
  turnStarted: Map<number, number>;
  enteringSince: number | null;
}

async function main(): Promise<void> {
  const name = `sessions_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(baseUrl!);
  url.pathname = `/${name}`;
  const db = new PgDatabase({ connectionString: url.toString(), maxConnections: 16, applicationName: 'sessions-bench' });
  const started = performance.now();
  try {
    await migrate(db);
    await db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ('bench', 'bench', '{}'::jsonb, 'bench')`);
    const ledger = new Ledger(db, { maxPayloadBytes: 64 * 1024, maxBatch: 512, flushMs: 5, logger: silentLogger });
    const engine = new SessionEngine({ db, ledger, behaviour, logger: silentLogger });

    const overhead: number[] = [];
    const ack: number[] = [];
    const entry: number[] = [];
    const baseline = heapUsed();

    // Open every session; each plays its turns one after another, all sessions at once.
    const handles: SessionHandle[] = [];
    const probes = new Map<string, Probe>();
    const watch = (h: SessionHandle): void => {
      const probe: Probe = { turnStarted: new Map(), enteringSince: null };
      probes.set(h.id, probe);
      h.actor.subscribe((s) => {
        const entering = typeof s.value.lifecycle === 'object' && 'entering' in s.value.lifecycle;
        if (entering && probe.enteringSince === null) probe.enteringSince = performance.now();
      });
      h.on('sceneEntered', () => {
        if (probe.enteringSince !== null) entry.push(performance.now() - probe.enteringSince);
        probe.enteringSince = null;
      });
      h.on('turnStarted', (e) => probe.turnStarted.set(e.inputId, performance.now()));
      h.on('answer', (e) => {
        const t0 = probe.turnStarted.get(e.inputId);
        if (t0 !== undefined) overhead.push(performance.now() - t0 - e.behaviourMs);
      });
    };
    for (let i = 0; i < SESSIONS; i++) {
      const h = await engine.createSession({ storyId: 'bench' });
      watch(h);
      handles.push(h);
    }
    const playStart = performance.now();
    const cpuStart = process.cpuUsage();
    await Promise.all(
      handles.map(async (h) => {
        for (let t = 1; t <= TURNS; t++) {
          const clientInputId = `c-${t}`;
          const sent = performance.now();
          await new Promise<void>((resolve, reject) => {
            const offAck = h.on('ack', (a) => {
              if (a.clientInputId === clientInputId) {
                ack.push(performance.now() - sent);
                offAck();
              }
            });
            const offAnswer = h.on('answer', (a) => {
              if (a.clientInputId !== clientInputId) return;
              offAnswer();
              offFail();
              resolve();
            });
            const offFail = h.on('failed', (f) => reject(new Error(`${h.id} failed: ${f.error.code} ${f.error.message}`)));
            h.input(clientInputId, t === 1 ? 'take lamp' : `say line ${t}`);
          });
        }
        // Settled: the turn's events durable, the session idle and warm.
        await new Promise<void>((resolve) => {
          const idle = () => {
            const s = h.actor.getSnapshot();
            return s.context.pendingWrites === 0 && s.context.queue.length === 0 && s.matches({ lifecycle: { playing: 'idle' } });
          };
          if (idle()) return resolve();
          const sub = h.actor.subscribe(() => {
            if (idle()) {
              sub.unsubscribe();
              resolve();
            }
          });
        });
      }),
    );
    const playSeconds = (performance.now() - playStart) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const concurrentOverhead = [...overhead];
    const cpuMsPerTurn = (cpu.user + cpu.system) / 1000 / (SESSIONS * TURNS);
    const heapPerSession = (heapUsed() - baseline) / SESSIONS;

    // The same turn with the other sessions warm but quiet: what one turn costs when it
    // does not share the event loop with hundreds of simultaneous turns.
    const isolated: number[] = [];
    {
      const h = handles[handles.length - 1]!;
      const probe = probes.get(h.id)!;
      for (let t = 0; t < ISOLATED_TURNS; t++) {
        const clientInputId = `iso-${t}`;
        const answered = new Promise<void>((resolve) => {
          const off = h.on('answer', (a) => {
            if (a.clientInputId !== clientInputId) return;
            const t0 = probe.turnStarted.get(a.inputId);
            if (t0 !== undefined) isolated.push(performance.now() - t0 - a.behaviourMs);
            off();
            resolve();
          });
        });
        h.input(clientInputId, `say isolated ${t}`);
        await answered;
      }
    }

    // Resume: append ≥ 100 events after each sampled session's newest checkpoint, then open it
    // on a second engine (the first engine's actors are fenced by the new epoch): checkpoint
    // load + ledger replay + full scene entry, one session at a time.
    const sample = handles.slice(0, Math.min(RESUMES, handles.length));
    for (const h of sample) {
      const events = Array.from({ length: EXTRA_EVENTS }, (_, i) =>
        event('WorldStateChanged', { key: `bench.k${i % 10}`, old: null, new: i }, { source: 'bench', idempotencyKey: `bench:${i}` }),
      );
      await ledger.appendEvents(h.id, events);
    }
    await ledger.flush();
    // The first engine goes away entirely (as after a restart) before the resumes are timed.
    const sampleIds = sample.map((h) => h.id);
    engine.abandon();
    await ledger.close().catch(() => undefined);
    handles.length = 0;
    probes.clear();
    heapUsed();
    const ledger2 = new Ledger(db, { maxPayloadBytes: 64 * 1024, maxBatch: 512, flushMs: 5, logger: silentLogger });
    const engine2 = new SessionEngine({ db, ledger: ledger2, behaviour, logger: silentLogger });
    const resume: number[] = [];
    for (const id of sampleIds) {
      const t0 = performance.now();
      const handle = await engine2.open(id);
      await new Promise<void>((resolve) => handle.on('sceneEntered', () => resolve()));
      resume.push(performance.now() - t0);
    }
    await engine2.shutdown();
    await ledger2.close();

    const result = {
      sessions: SESSIONS,
      turns_per_session: TURNS,
      heap_bytes_per_session: Math.round(heapPerSession),
      turn_overhead_p50_ms: r3(pct(concurrentOverhead, 50)),
      turn_overhead_p99_ms: r3(pct(concurrentOverhead, 99)),
      scene_entry_p99_ms: r3(pct(entry, 99)),
      resume_from_checkpoint_p50_ms: r3(pct(resume, 50)),
      turn_overhead_isolated_p50_ms: r3(pct(isolated, 50)),
      turn_overhead_isolated_p99_ms: r3(pct(isolated, 99)),
      turn_cpu_ms: r3(cpuMsPerTurn),
      ack_p50_ms: r3(pct(ack, 50)),
      ack_p99_ms: r3(pct(ack, 99)),
      turns_measured: concurrentOverhead.length,
      scene_entries_measured: entry.length,
      turns_per_s: Math.round((SESSIONS * TURNS) / playSeconds),
      resumes_measured: resume.length,
      targets: { heap_bytes_per_session: 256 * 1024, turn_overhead_p99_ms: 10, resume_from_checkpoint_p50_ms: 20 },
      machine: { cpus: cpus().length, loadavg_1m: r3(loadavg()[0] ?? 0), node: process.version },
      duration_s: r3((performance.now() - started) / 1000),
    };
    const rows: Array<[string, string, string]> = [
      ['sessions (one engine)', String(result.sessions), ''],
      ['turns per session', String(TURNS), ''],
      ['heap per session', `${(result.heap_bytes_per_session / 1024).toFixed(1)} KB`, '≤ 256 KB'],
      ['turn overhead p50 (all at once)', `${result.turn_overhead_p50_ms} ms`, ''],
      ['turn overhead p99 (all at once)', `${result.turn_overhead_p99_ms} ms`, '≤ 10 ms'],
      ['turn overhead p50 / p99 (one turn)', `${result.turn_overhead_isolated_p50_ms} / ${result.turn_overhead_isolated_p99_ms} ms`, '≤ 10 ms'],
      ['CPU per turn (engine + ledger)', `${result.turn_cpu_ms} ms`, ''],
      ['scene entry p99', `${result.scene_entry_p99_ms} ms`, ''],
      ['resume from checkpoint p50', `${result.resume_from_checkpoint_p50_ms} ms`, '≤ 20 ms'],
      ['ack (durable input) p50 / p99', `${result.ack_p50_ms} / ${result.ack_p99_ms} ms`, ''],
      ['throughput', `${result.turns_per_s} turns/s`, ''],
      ['load average (1 min)', `${result.machine.loadavg_1m} on ${result.machine.cpus} cores`, ''],
    ];
    console.log('\nbench:sessions — 1 engine, minimal behaviour, PostgreSQL (loopback)\n');
    for (const [k, v, t] of rows) console.log(`  ${k.padEnd(36)} ${v.padEnd(24)} ${t}`);
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/sessions.json', `${JSON.stringify(result, null, 2)}\n`);
    console.log('\nwrote bench/results/sessions.json');
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

await main();
