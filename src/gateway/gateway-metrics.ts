import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The gateway's own metrics; `/metrics` serves them merged with the engine's, the
 * ledger's and the LLM layer's registries. Latencies are measured from the moment an
 * input frame is read off the socket.
 */
export interface GatewayMetrics {
  registry: Registry;
  ackMs: Histogram;
  turnMs: Histogram;
  connections: Gauge;
  framesRejected: Counter<'code'>;
  closes: Counter<'code'>;
  sessions: Gauge<'state'>;
}

export function createGatewayMetrics(sessionCounts: () => Record<string, number>): GatewayMetrics {
  const registry = new Registry();
  const ms = [1, 2, 5, 10, 15, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  return {
    registry,
    ackMs: new Histogram({ name: 'storyteller_gateway_ack_ms', help: 'Input frame received → ack sent (the input is durable) (ms)', buckets: ms, registers: [registry] }),
    turnMs: new Histogram({ name: 'storyteller_gateway_turn_ms', help: 'Input frame received → narrative.done sent (ms)', buckets: ms, registers: [registry] }),
    connections: new Gauge({ name: 'storyteller_gateway_connections', help: 'Open WebSocket connections', registers: [registry] }),
    framesRejected: new Counter({ name: 'storyteller_gateway_frames_rejected_total', help: 'Client frames refused, by error code', labelNames: ['code'], registers: [registry] }),
    closes: new Counter({ name: 'storyteller_gateway_closes_total', help: 'Connections closed by the server, by close code', labelNames: ['code'], registers: [registry] }),
    sessions: new Gauge({
      name: 'storyteller_gateway_sessions',
      help: 'Sessions by state: active (connected), disconnected (in the grace period), suspended (attached clients, actor released)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const counts = sessionCounts();
        for (const state of ['active', 'disconnected', 'suspended']) this.set({ state }, counts[state] ?? 0);
      },
    }),
  };
}
