/**
 * bench:engine-cpu — the session engine's CPU per turn without the gateway: S sessions on
 * the minimal scripted behaviour, PostgreSQL at DATABASE_URL (a fresh database), each
 * playing T turns in lockstep rounds (every session sends one input, all answers and their
 * TurnCompleted rows come back, then the next round). Process CPU (user + system, all
 * threads) over the measured rounds / turns. Writes bench/results/engine-cpu.json.
 *
 *   npm run bench:engine-cpu            (S=100 T=30; PROF=<file> writes a CPU profile of the measured rounds)
 *   NARRATOR_TOKENS=60 npm run bench:engine-cpu   the narrator streams 240 characters in 60 chunks, as an LLM's tokens arrive
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector';
import { cpus, loadavg } from 'node:os';
import type { SceneBehaviour } from '../src/actors/behaviour.ts';
import { SessionEngine, type SessionHandle } from '../src/engine/engine.ts';
import { silentLogger } from '../src/logger.ts';
import { createMinimalBehaviour } from '../src/testing/minimal-behaviour.ts';
import { freshBenchDatabase } from './fresh-database.ts';
import { loopDelayMonitor } from './gateway/loop-delay.ts';

const S = Number(process.env.S ?? 100);
const T = Number(process.env.T ?? 30);
const WARMUP_ROUNDS = 5;
const fresh = await freshBenchDatabase('bench_engine_cpu');
const db = fresh.db;
const NARRATOR_TOKENS = Number(process.env.NARRATOR_TOKENS ?? 0);
const minimal = createMinimalBehaviour({ scenes: [{ key: 'harbour', cast: ['mara'], next: null, exitAtTurn: 1_000_000 }] });
const behaviour: SceneBehaviour =
  NARRATOR_TOKENS > 0
    ? {
        ...minimal,
        // NARRATOR_TOKENS chunks of four characters (an LLM token's typical size): prose of that length.
        narrator: async (req, onChunk) => {
          const base = await minimal.narrator(req, () => undefined);
          const text = `${base.text} The tide turns. `.repeat(NARRATOR_TOKENS).slice(0, NARRATOR_TOKENS * 4);
          for (let i = 0; i < text.length; i += 4) onChunk(text.slice(i, i + 4));
          return { ...base, text };
        },
      }
    : minimal;
const engine = new SessionEngine({ db, behaviour, logger: silentLogger, inspect: null });

const sessions: SessionHandle[] = [];
for (let i = 0; i < S; i++) {
  const h = await engine.createSession({ storyId: 'minimal' });
  await new Promise<void>((resolve) => {
    const off = h.on('sceneEntered', () => (off(), resolve()));
  });
  sessions.push(h);
}
const play = (h: SessionHandle, k: number) =>
  new Promise<void>((resolve) => {
    const off = h.on('turnRecorded', () => (off(), resolve()));
    h.input(`c${k}`, `look around ${k}`);
  });
const round = (k: number) => Promise.all(sessions.map((h) => play(h, k)));
for (let k = 0; k < WARMUP_ROUNDS; k++) await round(k);

const profile = process.env.PROF ? new Session() : null;
const post = (method: string) => new Promise<unknown>((resolve, reject) => profile?.post(method, (err, res) => (err ? reject(err) : resolve(res))));
if (profile) {
  profile.connect();
  await post('Profiler.enable');
  await post('Profiler.start');
}
// Each round is a burst (every session's input at once): how long it holds the event loop.
const loopDelay = loopDelayMonitor();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let k = WARMUP_ROUNDS; k < WARMUP_ROUNDS + T; k++) await round(k);
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - t0;
if (profile) writeFileSync(process.env.PROF as string, JSON.stringify(((await post('Profiler.stop')) as { profile: unknown }).profile));

const turns = S * T;
const report = {
  sessions: S,
  turns,
  narrator_chunks_per_turn: NARRATOR_TOKENS > 0 ? NARRATOR_TOKENS : 2,
  cpu_ms_per_turn: Number(((cpu.user + cpu.system) / 1000 / turns).toFixed(3)),
  wall_ms_per_turn: Number((wallMs / turns).toFixed(3)),
  loop_delay_p99_ms: loopDelay.p99Ms(),
  loop_delay_max_ms: loopDelay.maxMs(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', loadavg_at_end: loadavg(), node: process.version },
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/engine-cpu.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
console.log('\nbench:engine-cpu');
console.log(`${'sessions × turns'.padEnd(24)} ${`${S} × ${T}`.padStart(10)}`);
console.log(`${'CPU ms / turn'.padEnd(24)} ${String(report.cpu_ms_per_turn).padStart(10)}`);
console.log(`${'wall ms / turn'.padEnd(24)} ${String(report.wall_ms_per_turn).padStart(10)}`);
console.log(`${'loop delay p99 / max ms'.padEnd(24)} ${`${report.loop_delay_p99_ms} / ${report.loop_delay_max_ms}`.padStart(10)}`);
await engine.shutdown();
await fresh.drop();
