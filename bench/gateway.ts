/**
 * Gateway benchmark (issue 15): simulated players over loopback WebSockets against one
 * engine process (minimal scripted behaviour, PostgreSQL at DATABASE_URL, a fresh
 * database), the load generator in a separate process; then the same generator against
 * a Colyseus 0.16 room that answers at once with no durability. Writes
 * bench/results/gateway.json.
 *
 *   npm run bench:gateway          (SESSIONS=200 DURATION_MS=10000 SATURATION=0 for a quick run)
 *
 * Fields:
 *   ack_p50_ms / ack_p99_ms            input sent → ack (PlayerInput committed)          (target p99 ≤ 15 ms)
 *   answer_p99_ms                      input sent → narrative.done                        (target ≤ 50 ms)
 *   engine_cpu_ms_per_turn             server process CPU (engine + gateway) in the window / turns answered
 *   engine_rss_mb                      server RSS at the end of the window
 *   engine_loop_delay_p99_ms / _max_ms  how long the server's event loop was held up in the window
 *   generator_loop_delay_p99_ms        the same for the load generator (its stalls inflate every latency)
 *   heap_bytes_per_socket              (heapUsed with N sockets open, hello done − before) / N
 *   heap_bytes_per_session             (heapUsed with N sessions started − with N sockets) / N
 *   colyseus_roundtrip_p99_ms          the same generator, Colyseus room, message → reply
 *   ack_over_colyseus_p99              ack_p99_ms / colyseus_roundtrip_p99_ms             (target ≤ 2)
 *   max_turns_per_s                    saturation: highest answered rate with ack p99 ≤ 50 ms (target ≥ 1,000)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';

const SESSIONS = Number(process.env.SESSIONS ?? 1_000);
const MEAN_MS = Number(process.env.MEAN_MS ?? 3_000);
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 5_000);
const DURATION_MS = Number(process.env.DURATION_MS ?? 20_000);
const SATURATION = process.env.SATURATION !== '0';
/** bench/results/<RESULT>.json (gateway by default). */
const RESULT = process.env.RESULT ?? 'gateway';

interface Stats { cpu: NodeJS.CpuUsage; rss: number; heapUsed: number; turns: number; loopDelayP99Ms: number; loopDelayMaxMs: number }
interface Result { sent: number; acked: number; answered: number; ack_p50_ms: number | null; ack_p99_ms: number | null; answer_p50_ms: number | null; answer_p99_ms: number | null; loop_delay_p99_ms: number }

/** PROFILE=<dir>: the engine process writes a V8 CPU profile there (`node --cpu-prof`); read it with bench/gateway/profile-summary.ts. */
const PROFILE = process.env.PROFILE ?? '';
/** ENGINE_NODE_ARGS: extra node flags for the engine process only (e.g. `--trace-gc`). */
const ENGINE_NODE_ARGS = (process.env.ENGINE_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
function start(file: string, profile = false): ChildProcess {
  const prof = profile && PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [];
  const extra = profile ? ENGINE_NODE_ARGS : [];
  return fork(new URL(file, import.meta.url), { execArgv: ['--import', 'tsx', '--expose-gc', ...prof, ...extra], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}
function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: { type: string; message?: string }) => {
      if (m.type === 'error') {
        child.off('message', on);
        reject(new Error(m.message));
      } else if (m.type === type) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
  });
}
async function ask<T>(child: ChildProcess, msg: object, type: string): Promise<T> {
  const p = next<T>(child, type);
  child.send(msg);
  return p;
}
/**
 * `gc`: collect garbage first (for the heap-per-socket and per-session figures, taken with
 * no load). Never inside a measurement window: two forced full collections stall the
 * engine for ~90 ms, which the window's percentiles would count as the engine's own.
 */
const stats = (server: ChildProcess, gc = false) => ask<Stats>(server, { type: 'stats', gc }, 'stats');

interface RunOutcome { result: Result; cpuMsPerTurn: number | null; turnsPerS: number; rssMb: number; loopDelayP99Ms: number; loopDelayMaxMs: number }
async function measure(server: ChildProcess, gen: ChildProcess, meanMs: number, durationMs: number): Promise<RunOutcome> {
  let before: Stats | null = null;
  let after: Stats | null = null;
  const onWindow = (m: { type: string }) => {
    if (m.type === 'window-start') void stats(server).then((s) => (before = s));
    if (m.type === 'window-end') void stats(server).then((s) => (after = s));
    if (m.type === 'window-start' || m.type === 'window-end') server.send({ type: m.type });
  };
  gen.on('message', onWindow);
  const result = await ask<Result>(gen, { type: 'run', meanMs, warmupMs: WARMUP_MS, durationMs }, 'result');
  gen.off('message', onWindow);
  while (!after) await new Promise((r) => setTimeout(r, 20));
  const b = before as unknown as Stats;
  const a = after as Stats;
  const cpuMs = (a.cpu.user - b.cpu.user + a.cpu.system - b.cpu.system) / 1000;
  const turns = a.turns - b.turns;
  return { result, cpuMsPerTurn: turns > 0 ? Number((cpuMs / turns).toFixed(3)) : null, turnsPerS: Number((turns / (durationMs / 1000)).toFixed(1)), rssMb: Number((a.rss / 2 ** 20).toFixed(1)), loopDelayP99Ms: a.loopDelayP99Ms, loopDelayMaxMs: a.loopDelayMaxMs };
}

async function main(): Promise<void> {
  // ------------------------------------------------ storyteller gateway
  const server = start('./gateway/engine-server.ts', true);
  const { port } = await next<{ port: number }>(server, 'ready');
  const gen = start('./gateway/load-generator.ts');
  await next(gen, 'ready');
  const s0 = await stats(server, true);
  await ask(gen, { type: 'open', mode: 'gateway', url: `ws://127.0.0.1:${port}/ws`, sessions: SESSIONS }, 'opened');
  const s1 = await stats(server, true);
  await ask(gen, { type: 'start' }, 'started');
  const s2 = await stats(server, true);
  console.log(`gateway: ${SESSIONS} sessions started; measuring ${DURATION_MS / 1000} s at one input per ${MEAN_MS / 1000} s each…`);
  const realistic = await measure(server, gen, MEAN_MS, DURATION_MS);

  const saturation: Array<{ offered_per_s: number; turns_per_s: number; ack_p99_ms: number | null; answer_p99_ms: number | null; cpu_ms_per_turn: number | null }> = [];
  if (SATURATION) {
    for (const mean of [1500, 1000, 750, 500, 350]) {
      const offered = Math.round((SESSIONS * 1000) / mean);
      console.log(`saturation: offering ${offered} turns/s…`);
      const r = await measure(server, gen, mean, 10_000);
      saturation.push({ offered_per_s: offered, turns_per_s: r.turnsPerS, ack_p99_ms: r.result.ack_p99_ms, answer_p99_ms: r.result.answer_p99_ms, cpu_ms_per_turn: r.cpuMsPerTurn });
      if ((r.result.ack_p99_ms ?? Infinity) > 50) break;
    }
  }
  gen.send({ type: 'stop' });
  await new Promise((r) => gen.once('exit', r));
  server.send({ type: 'stop' });
  await new Promise((r) => server.once('exit', r));

  // ------------------------------------------------ Colyseus, same generator, same load
  const cserver = start('./gateway/colyseus-server.ts');
  const { port: cport } = await next<{ port: number }>(cserver, 'ready');
  const cgen = start('./gateway/load-generator.ts');
  await next(cgen, 'ready');
  await ask(cgen, { type: 'open', mode: 'colyseus', url: `ws://127.0.0.1:${cport}`, sessions: SESSIONS }, 'opened');
  console.log(`colyseus: ${SESSIONS} rooms joined; measuring…`);
  const colyseus = await measure(cserver, cgen, MEAN_MS, DURATION_MS);
  cgen.send({ type: 'stop' });
  await new Promise((r) => cgen.once('exit', r));
  cserver.send({ type: 'stop' });
  await new Promise((r) => cserver.once('exit', r));

  const within = saturation.filter((s) => (s.ack_p99_ms ?? Infinity) <= 50);
  const report = {
    sessions: SESSIONS,
    mean_input_interval_ms: MEAN_MS,
    duration_ms: DURATION_MS,
    offered_turns_per_s: Math.round((SESSIONS * 1000) / MEAN_MS),
    turns_per_s: realistic.turnsPerS,
    sent: realistic.result.sent,
    acked: realistic.result.acked,
    answered: realistic.result.answered,
    ack_p50_ms: realistic.result.ack_p50_ms,
    ack_p99_ms: realistic.result.ack_p99_ms,
    answer_p50_ms: realistic.result.answer_p50_ms,
    answer_p99_ms: realistic.result.answer_p99_ms,
    engine_cpu_ms_per_turn: realistic.cpuMsPerTurn,
    engine_rss_mb: realistic.rssMb,
    engine_loop_delay_p99_ms: realistic.loopDelayP99Ms,
    engine_loop_delay_max_ms: realistic.loopDelayMaxMs,
    generator_loop_delay_p99_ms: realistic.result.loop_delay_p99_ms,
    colyseus_loop_delay_p99_ms: colyseus.loopDelayP99Ms,
    colyseus_generator_loop_delay_p99_ms: colyseus.result.loop_delay_p99_ms,
    heap_bytes_per_socket: Math.round((s1.heapUsed - s0.heapUsed) / SESSIONS),
    heap_bytes_per_session: Math.round((s2.heapUsed - s1.heapUsed) / SESSIONS),
    colyseus_roundtrip_p50_ms: colyseus.result.ack_p50_ms,
    colyseus_roundtrip_p99_ms: colyseus.result.ack_p99_ms,
    colyseus_cpu_ms_per_message: colyseus.cpuMsPerTurn,
    ack_over_colyseus_p99: realistic.result.ack_p99_ms !== null && colyseus.result.ack_p99_ms ? Number((realistic.result.ack_p99_ms / colyseus.result.ack_p99_ms).toFixed(2)) : null,
    saturation,
    max_turns_per_s: within.length > 0 ? Math.max(...within.map((s) => s.turns_per_s)) : null,
    unacked_in_window: realistic.result.sent - realistic.result.acked,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', loadavg_at_end: loadavg(), node: process.version },
    note: 'loopback, PostgreSQL 15 on this machine, load generator in its own process; other agents share this 2-core machine (see loadavg)',
  };
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(new URL(`./results/${RESULT}.json`, import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
  const row = (k: string, v: unknown, target = '') => console.log(`${k.padEnd(30)} ${String(v).padStart(12)}  ${target}`);
  console.log('\nbench:gateway');
  row('sessions', SESSIONS);
  row('turns/s (answered)', report.turns_per_s, `offered ${report.offered_turns_per_s}`);
  row('ack p50 ms', report.ack_p50_ms);
  row('ack p99 ms', report.ack_p99_ms, 'target ≤ 15');
  row('answer p99 ms', report.answer_p99_ms, 'target ≤ 50');
  row('engine CPU ms / turn', report.engine_cpu_ms_per_turn);
  row('engine RSS MB', report.engine_rss_mb);
  row('engine loop delay p99/max ms', `${report.engine_loop_delay_p99_ms} / ${report.engine_loop_delay_max_ms}`);
  row('generator loop delay p99 ms', report.generator_loop_delay_p99_ms);
  row('heap B / socket', report.heap_bytes_per_socket);
  row('heap B / session', report.heap_bytes_per_session);
  row('colyseus roundtrip p99 ms', report.colyseus_roundtrip_p99_ms);
  row('ack / colyseus p99', report.ack_over_colyseus_p99, 'target ≤ 2');
  row('max turns/s (ack p99 ≤ 50)', report.max_turns_per_s, 'target ≥ 1000');
  row('loadavg', loadavg().map((l) => l.toFixed(2)).join(' '));
  process.exit(0);
}

await main();
