import { collectDefaultMetrics, Registry } from 'prom-client';
import type { InspectionEvent } from 'xstate';
import type { Config } from '../config.ts';
import { createStoryBehaviour } from '../actors/create-story-behaviour.ts';
import { loadStoryFile } from '../domain/story/loader.ts';
import { SessionEngine } from '../engine/engine.ts';
import { inspectorFromEnvironment } from '../engine/inspector.ts';
import { loggerFromConfig, type Logger } from '../logger.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import { startPartitionMaintenance } from '../persistence/ledger-partitions.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { DebugTap } from './debug-tap.ts';
import { openWorkflows, type OpenedWorkflows } from '../workflows/open-workflows.ts';
import type { FrameReport } from '../actors/frame-observer.ts';
import type { LlmCallRecord } from '../inference/llm/router.ts';
import { realClocks } from '../engine/clock.ts';
import { OwnershipLease } from './ownership-lease.ts';
import { previousGatewaySecrets, resolveGatewaySecret } from './secret.ts';
import { CLOSE } from './protocol.ts';
import { startGateway, type Gateway } from './server.ts';
import type { SceneInfo } from './session-hub.ts';
import { TokenSigner } from './tokens.ts';

/**
 * `storyteller serve` / `npm run serve`: database (embedded PGlite under ./data when
 * DATABASE_URL is unset) migrated, the story (STORYTELLER_STORY, the sample by default)
 * stored, the engine with the production story behaviour, and the gateway serving the
 * web client at http://STORYTELLER_HOST:STORYTELLER_PORT/.
 */
export interface RunningServer {
  gateway: Gateway;
  engine: SessionEngine;
  tokens: TokenSigner;
  storyId: string;
  /**
   * Graceful stop (SIGTERM; docs/failures.md): stop listening and refuse inputs (retryable),
   * suspend every live session (checkpoint, ledger flushed), then close the sockets with
   * 4503 (moved: clients reconnect to another instance), then the rest.
   */
  stop(): Promise<void>;
}

export async function serve(config: Config, options: { storyPath?: string; logger?: Logger } = {}): Promise<RunningServer> {
  const logger = options.logger ?? loggerFromConfig(config);
  const db = await openDatabase(config);
  await migrate(db);
  // Month partitions of the ledger, ahead of need (docs/ledger-retention.md).
  const partitions = startPartitionMaintenance(db, { ...realClocks(), logger });
  await partitions.idle();
  const graph = await openGraphStore(db, config);
  const registry = new Registry();
  // Process CPU, heap and event-loop lag beside the runtime's own (the capacity model reads them).
  collectDefaultMetrics({ register: registry });
  const story = await loadStoryFile(options.storyPath ?? config.storyPath);
  let gateway: Gateway | null = null;
  const debug = config.gateway.debug ? new DebugTap() : null;
  const setup = await createStoryBehaviour({
    db,
    graph,
    config,
    logger,
    story,
    registry,
    onStorykeeper: (sessionId, output) => gateway?.storykeeper(sessionId, output),
    // Each character frame (decoded prediction + frame text) reaches the session's debug subscribers.
    ...(debug ? { onFrame: (r: FrameReport) => debug.publish({ sessionId: r.sessionId, kind: 'frame', data: r }) } : {}),
    // …and each LLM role's prompt and raw reply.
    ...(debug ? { onLlmCall: (r: LlmCallRecord) => {
          if (r.sessionId !== null) debug.publish({ sessionId: r.sessionId, kind: 'llm', data: r });
        }, } : {}),
  });
  const local = inspectorFromEnvironment(config.env);
  const observers = [debug?.observer, local?.inspect].filter((o) => o !== undefined);
  const inspect =
    observers.length === 0 ? null : observers.length === 1 ? observers[0] : { next: (e: InspectionEvent) => observers.forEach((o) => o.next?.(e)) };
  const engine = new SessionEngine({
    db,
    behaviour: setup.behaviour,
    graph,
    logger,
    gracePeriodMs: config.gracePeriodMs,
    checkpointFullEvery: config.checkpoints.fullEvery,
    ...(config.instanceId ? { instanceId: config.instanceId } : {}),
    ledgerOptions: { maxPayloadBytes: config.ledger.maxPayloadBytes, maxBatch: config.ledger.maxBatch, flushMs: config.ledger.eventFlushMs, logger, registry },
    inspect: inspect ?? null,
    onSceneExitCommitted: () => workflows?.bridge.wake(),
  });
  // The deferred scene-boundary pipeline (docs/workflows.md): in-process on the embedded default.
  let workflows: OpenedWorkflows | null = null;
  workflows = await openWorkflows({ config, db, graph, logger, registry, sessions: { get: (id) => engine.get(id) } });
  const pipeline = workflows;
  const tokens = new TokenSigner(await resolveGatewaySecret(config.env, config.dataDir), Date.now, previousGatewaySecrets(config.env));
  const clocks = realClocks();
  // Renews this instance's sessions; takes over (and recovers) those of instances that died.
  const lease = new OwnershipLease({ engine, db, ttlMs: config.gateway.leaseTtlMs, clock: clocks.clock, now: clocks.now, gracePeriodMs: config.gracePeriodMs, logger, registry });
  const scenes = new Map<string, SceneInfo>(story.scenes.map((s) => [s.id, { name: s.name, description: s.description, hint: s.hints[0] ?? null }]));
  gateway = await startGateway({
    engine,
    db,
    tokens,
    defaultStoryId: setup.story.storyId,
    host: config.host,
    port: config.port,
    limits: {
      heartbeatTimeoutMs: config.gateway.heartbeatTimeoutMs,
      maxFrameBytes: config.gateway.maxFrameBytes,
      rate: config.gateway.rate,
    },
    maxConnectionsPerIp: config.gateway.maxConnectionsPerIp,
    ackTimeoutMs: config.gateway.ackTimeoutMs,
    describeScene: (key) => scenes.get(key) ?? null,
    registries: [registry],
    debug,
    lease,
    logger,
  });
  lease.start();
  const g = gateway;
  let stopping: Promise<void> | null = null;
  return {
    gateway: g,
    engine,
    tokens,
    storyId: setup.story.storyId,
    stop() {
      stopping ??= (async () => {
        lease.stop();
        g.drain();
        await engine.shutdown();
        await g.close(CLOSE.SHUTDOWN_MOVED, 'server shutting down; reconnect: your session continues on another instance');
        await pipeline.close();
        await setup.close();
        await graph.close();
        local?.stop();
        partitions.stop();
        await partitions.idle();
        await db.close();
      })();
      return stopping;
    },
  };
}
