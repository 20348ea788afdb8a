/**
 * bench:gateway, the server process: one engine (minimal scripted behaviour, real
 * clocks) and the gateway on a fresh PostgreSQL database at DATABASE_URL. Driven by
 * bench/gateway.ts over IPC: 'stats' → CPU, memory, turns answered so far.
 */
import { writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import { SessionEngine } from '../../src/engine/engine.ts';
import { startGateway } from '../../src/gateway/server.ts';
import { TokenSigner } from '../../src/gateway/tokens.ts';
import { silentLogger } from '../../src/logger.ts';
import { createMinimalBehaviour } from '../../src/testing/minimal-behaviour.ts';
import { freshBenchDatabase } from '../fresh-database.ts';
import { loopDelayMonitor } from './loop-delay.ts';

const fresh = await freshBenchDatabase('bench_gateway');
const db = fresh.db;

// One endless scene: the load never runs out of story.
const behaviour = createMinimalBehaviour({ scenes: [{ key: 'harbour', cast: ['mara'], next: null, exitAtTurn: 1_000_000 }] });
const engine = new SessionEngine({ db, behaviour, logger: silentLogger, inspect: null });
const gateway = await startGateway({
  engine,
  db,
  tokens: new TokenSigner('bench-secret-of-at-least-thirty-two-characters'),
  defaultStoryId: 'minimal',
  limits: { heartbeatTimeoutMs: 120_000, rate: { perSecond: 100, burst: 1000 } },
  maxConnectionsPerIp: 1_000_000,
  staticDir: null,
  debug: null,
});

const turns = async () => {
  const m = await gateway.metrics.turnMs.get();
  return m.values.find((v) => v.metricName === 'storyteller_gateway_turn_ms_count')?.value ?? 0;
};

// WINDOW_PROFILE=<file>: a V8 CPU profile of the first measurement window only (no start-up).
const windowProfile = process.env.WINDOW_PROFILE ?? '';
const inspector = windowProfile ? new InspectorSession() : null;
inspector?.connect();
let profiled = 0;
const post = (method: string) =>
  new Promise<unknown>((resolve, reject) => inspector?.post(method, (err, res) => (err ? reject(err) : resolve(res))));

// How long the event loop was held up during the window: an ack cannot leave while the loop is busy.
const loopDelay = loopDelayMonitor();

process.on('message', (msg: { type: string; gc?: boolean }) => {
  if (msg.type === 'window-start') loopDelay.reset();
  if (inspector && msg.type === 'window-start' && profiled === 0) {
    profiled = 1;
    void post('Profiler.enable').then(() => post('Profiler.start'));
  }
  if (inspector && msg.type === 'window-end' && profiled === 1) {
    profiled = 2;
    void post('Profiler.stop').then((res) => writeFileSync(windowProfile, JSON.stringify((res as { profile: unknown }).profile)));
  }
  if (msg.type === 'stats') {
    const g = msg.gc ? (globalThis as { gc?: () => void }).gc : undefined;
    g?.();
    g?.();
    void turns().then((t) => {
      const mem = process.memoryUsage();
      process.send?.({ type: 'stats', cpu: process.cpuUsage(), rss: mem.rss, heapUsed: mem.heapUsed, turns: t, loopDelayP99Ms: loopDelay.p99Ms(), loopDelayMaxMs: loopDelay.maxMs(), connections: gateway.connections(), sessions: engine.size });
    });
  }
  if (msg.type === 'stop') {
    void (async () => {
      await gateway.close();
      await engine.shutdown();
      await fresh.drop();
      process.exit(0);
    })();
  }
});
process.send?.({ type: 'ready', port: gateway.port });
