/**
 * bench:gateway, the comparison process: a Colyseus 0.16 room that answers every
 * message at once, with no durability (no database, nothing written) — what a
 * round-trip through a mainstream Node game server costs on this machine.
 */
import { Room, Server, type Client } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { loopDelayMonitor } from './loop-delay.ts';

class EchoRoom extends Room {
  override onCreate(): void {
    this.maxClients = 1;
    this.onMessage('input', (client: Client, message: unknown) => {
      client.send('ack', message);
    });
  }
}

const server = new Server({ transport: new WebSocketTransport({ maxPayload: 16 * 1024 }), greet: false });
server.define('echo', EchoRoom);
const port = 20_000 + Math.floor(Math.random() * 20_000);
await server.listen(port, '127.0.0.1');

const loopDelay = loopDelayMonitor();
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'window-start') loopDelay.reset();
  if (msg.type === 'stats') {
    const mem = process.memoryUsage();
    process.send?.({ type: 'stats', cpu: process.cpuUsage(), rss: mem.rss, heapUsed: mem.heapUsed, turns: 0, loopDelayP99Ms: loopDelay.p99Ms(), loopDelayMaxMs: loopDelay.maxMs(), connections: 0, sessions: 0 });
  }
  if (msg.type === 'stop') {
    void server.gracefullyShutdown(false).finally(() => process.exit(0));
  }
});
process.send?.({ type: 'ready', port });
