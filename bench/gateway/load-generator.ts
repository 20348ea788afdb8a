/**
 * bench:gateway, the load generator (its own process, so its CPU is not the server's):
 * N simulated players over loopback WebSockets, each sending an input at Poisson
 * arrivals (exponential gaps with the given mean, open loop: a player does not wait
 * for its answer). Speaks the storyteller protocol (`gateway`) or Colyseus (`colyseus`,
 * colyseus.js 0.16). Driven over IPC by bench/gateway.ts.
 */
import WebSocket from 'ws';
import { Client as ColyseusClient, type Room } from 'colyseus.js';
import { loopDelayMonitor } from './loop-delay.ts';

type Mode = 'gateway' | 'colyseus';
interface Player {
  send(id: string): void;
  close(): void;
}
interface Sample {
  sentAt: number;
  ack?: number;
  answer?: number;
  measured: boolean;
}

const samples = new Map<string, Sample>();
const players: Player[] = [];
let sockets: WebSocket[] = [];
const reply = (m: object) => process.send?.(m);
// The generator's own stalls would be counted as the server's latency: measured, and reported beside it.
const loopDelay = loopDelayMonitor();
let windowLoopDelayP99Ms = 0;

function onAck(id: string): void {
  const s = samples.get(id);
  if (s && s.ack === undefined) s.ack = performance.now() - s.sentAt;
}
function onAnswer(id: string): void {
  const s = samples.get(id);
  if (s && s.answer === undefined) s.answer = performance.now() - s.sentAt;
}

/** Opens sockets and says hello (gateway), in batches so the accept queue is not flooded. */
async function openGateway(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.once('error', reject);
          ws.once('open', () => {
            ws.send(JSON.stringify({ type: 'hello', v: 1 }));
            ws.once('message', () => resolve(ws));
          });
        }),
      ),
    );
    sockets.push(...batch);
  }
}

async function startGatewaySessions(): Promise<void> {
  for (let i = 0; i < sockets.length; i += 50) {
    await Promise.all(
      sockets.slice(i, i + 50).map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.on('message', (data) => {
              const f = JSON.parse(data.toString()) as { type: string; clientInputId?: string };
              if (f.type === 'session.ready') resolve();
              else if (f.type === 'ack' && f.clientInputId) onAck(f.clientInputId);
              else if (f.type === 'narrative.done' && f.clientInputId) onAnswer(f.clientInputId);
            });
            ws.send(JSON.stringify({ type: 'session.start' }));
            players.push({ send: (id) => ws.send(JSON.stringify({ type: 'input', clientInputId: id, text: `look around ${id}` })), close: () => ws.close() });
          }),
      ),
    );
  }
}

async function openColyseus(url: string, n: number): Promise<void> {
  const client = new ColyseusClient(url);
  for (let i = 0; i < n; i += 50) {
    const rooms = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => client.create('echo') as Promise<Room>));
    for (const room of rooms) {
      room.onMessage('ack', (m: { id: string }) => {
        onAck(m.id);
        onAnswer(m.id);
      });
      players.push({ send: (id) => room.send('input', { id, text: `look around ${id}` }), close: () => void room.leave() });
    }
  }
}

function run(meanMs: number, warmupMs: number, durationMs: number): Promise<void> {
  const t0 = performance.now();
  const windowStart = t0 + warmupMs;
  const end = windowStart + durationMs;
  let started = false;
  let seq = 0;
  return new Promise((resolve) => {
    const startTimer = setTimeout(() => {
      started = true;
      loopDelay.reset();
      reply({ type: 'window-start' });
    }, warmupMs);
    void startTimer;
    setTimeout(() => {
      windowLoopDelayP99Ms = loopDelay.p99Ms();
      reply({ type: 'window-end' });
      resolve();
    }, warmupMs + durationMs);
    players.forEach((p, i) => {
      const next = () => {
        const now = performance.now();
        if (now >= end) return;
        const id = `b${i}-${seq++}`;
        samples.set(id, { sentAt: now, measured: started && now < end });
        p.send(id);
        setTimeout(next, -Math.log(1 - Math.random()) * meanMs);
      };
      setTimeout(next, Math.random() * meanMs);
    });
  });
}

function pct(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number).toFixed(2));
}

async function result(): Promise<void> {
  // Let what was sent in the window arrive (bounded).
  const deadline = performance.now() + 10_000;
  const measured = () => [...samples.values()].filter((s) => s.measured);
  while (performance.now() < deadline && measured().some((s) => s.answer === undefined)) await new Promise((r) => setTimeout(r, 50));
  const m = measured();
  const acks = m.flatMap((s) => (s.ack === undefined ? [] : [s.ack]));
  const answers = m.flatMap((s) => (s.answer === undefined ? [] : [s.answer]));
  reply({
    type: 'result',
    sent: m.length,
    acked: acks.length,
    answered: answers.length,
    ack_p50_ms: pct(acks, 50),
    ack_p99_ms: pct(acks, 99),
    answer_p50_ms: pct(answers, 50),
    answer_p99_ms: pct(answers, 99),
    loop_delay_p99_ms: windowLoopDelayP99Ms,
  });
  samples.clear();
}

process.on('message', (msg: { type: string; mode?: Mode; url?: string; sessions?: number; meanMs?: number; warmupMs?: number; durationMs?: number }) => {
  void (async () => {
    try {
      if (msg.type === 'open') {
        if (msg.mode === 'colyseus') await openColyseus(msg.url as string, msg.sessions as number);
        else await openGateway(msg.url as string, msg.sessions as number);
        reply({ type: 'opened' });
      } else if (msg.type === 'start') {
        if (sockets.length > 0) await startGatewaySessions();
        reply({ type: 'started' });
      } else if (msg.type === 'run') {
        await run(msg.meanMs as number, msg.warmupMs as number, msg.durationMs as number);
        await result();
      } else if (msg.type === 'stop') {
        for (const p of players) p.close();
        for (const ws of sockets) ws.terminate();
        sockets = [];
        process.exit(0);
      }
    } catch (error) {
      reply({ type: 'error', message: error instanceof Error ? error.stack : String(error) });
    }
  })();
});
reply({ type: 'ready' });
