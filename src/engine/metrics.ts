import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Session-runtime metrics (architecture §4: scene-entry step times are exported). One
 * registry per engine so several engines (tests, crash/restart) never collide; the
 * gateway's /metrics merges it.
 */
export interface SessionMetrics {
  registry: Registry;
  sceneEntryStep: Histogram<'step'>;
  turnOverhead: Histogram;
  /** turnStarted → answer, inside the engine (the gateway's storyteller_gateway_turn_ms adds the queue and the socket). */
  turnMs: Histogram;
  /** Session actors by top-level lifecycle state (loading, entering, playing, exiting, suspending…). */
  sessionsByLifecycle: Gauge<'lifecycle'>;
  turnsDegraded: Counter<'member'>;
  activeSessions: Gauge;
  /** Planned effects that were not applied (each also a durable EffectRefused event). */
  effectsRefused: Counter<'effect' | 'code'>;
  /** Delta checkpoints that could not be rebuilt on restore (fell back to a full checkpoint + ledger replay). */
  checkpointFallbacks: Counter<'reason'>;
}

export function createSessionMetrics(lifecycles: () => Record<string, number> = () => ({})): SessionMetrics {
  const registry = new Registry();
  const ms = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
  return {
    registry,
    sceneEntryStep: new Histogram({ name: 'storyteller_scene_entry_step_ms', help: 'Scene-entry step duration (ms)', labelNames: ['step'], buckets: ms, registers: [registry] }),
    turnOverhead: new Histogram({ name: 'storyteller_turn_overhead_ms', help: 'Turn time outside behaviour members (ms)', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50], registers: [registry] }),
    turnMs: new Histogram({ name: 'storyteller_turn_ms', help: 'Turn duration inside the engine: turn started → answer (ms)', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000], registers: [registry] }),
    sessionsByLifecycle: new Gauge({
      name: 'storyteller_sessions',
      help: 'Session actors in this engine by lifecycle state',
      labelNames: ['lifecycle'],
      registers: [registry],
      collect() {
        this.reset();
        for (const lifecycle of ['loading', 'entering', 'playing', 'exiting', 'suspending']) this.set({ lifecycle }, 0);
        for (const [lifecycle, n] of Object.entries(lifecycles())) this.set({ lifecycle }, n);
      },
    }),
    turnsDegraded: new Counter({ name: 'storyteller_turn_degraded_total', help: 'Agents or stages replaced by a fallback', labelNames: ['member'], registers: [registry] }),
    activeSessions: new Gauge({ name: 'storyteller_sessions_active', help: 'Session actors running in this engine', registers: [registry] }),
    effectsRefused: new Counter({
      name: 'storyteller_effects_refused_total',
      help: 'Planned effects refused (edge updates, invalid behaviour events); each is an EffectRefused ledger event',
      labelNames: ['effect', 'code'],
      registers: [registry],
    }),
    checkpointFallbacks: new Counter({
      name: 'storyteller_checkpoint_fallbacks_total',
      help: 'Delta checkpoints whose chain was broken on restore (restored from the last full checkpoint + ledger replay)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
