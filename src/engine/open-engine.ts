import { createStoryBehaviour, type StoryBehaviourSetup } from '../actors/create-story-behaviour.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Database } from '../persistence/database.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { startPartitionMaintenance } from '../persistence/ledger-partitions.ts';
import { migrate } from '../persistence/migrations.ts';
import { realClocks } from './clock.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { SessionEngine, type SessionEngineOptions } from './engine.ts';
import { openWorkflows, type OpenedWorkflows } from '../workflows/open-workflows.ts';

/**
 * The production wiring of one engine process from the validated configuration: the
 * database (PostgreSQL or the embedded PGlite), migrations, the graph store, the story
 * behaviour (LLM roles, frame model) and the SessionEngine over them. Used by the
 * stdio engine entry point (crash trials, process supervisors) and, later, the gateway.
 *
 * @example
 * const opened = await openEngine(config, logger);
 * const s = await opened.engine.createSession({ storyId: opened.storyId });
 * await opened.close();
 */
export interface OpenedEngine {
  engine: SessionEngine;
  db: Database;
  graph: GraphStore;
  /** The configured story's id (stored in the database). */
  storyId: string;
  /** The deferred scene-boundary pipeline (bridge, and the in-process runner on the embedded default). */
  workflows: OpenedWorkflows;
  close(): Promise<void>;
}

export async function openEngine(config: Config, logger: Logger, options: Pick<SessionEngineOptions, 'faults' | 'instanceId'> = {}): Promise<OpenedEngine> {
  const db = await openDatabase(config);
  await migrate(db);
  // Month partitions of the ledger, ahead of need (docs/ledger-retention.md).
  const partitions = startPartitionMaintenance(db, { ...realClocks(), logger });
  await partitions.idle();
  const graph = await openGraphStore(db, config);
  let setup: StoryBehaviourSetup;
  try {
    setup = await createStoryBehaviour({ db, graph, config, logger });
  } catch (error) {
    partitions.stop();
    await graph.close();
    await db.close();
    throw error;
  }
  // The bridge needs the engine (to hand results to loaded sessions) and the engine the
  // bridge (its scene-exit hook wakes the relay): bound late.
  let workflows: OpenedWorkflows | null = null;
  const engine = new SessionEngine({
    onSceneExitCommitted: () => workflows?.bridge.wake(),
    db,
    behaviour: setup.behaviour,
    graph,
    logger,
    gracePeriodMs: config.gracePeriodMs,
    checkpointFullEvery: config.checkpoints.fullEvery,
    ...((options.instanceId ?? config.instanceId) ? { instanceId: (options.instanceId ?? config.instanceId) as string } : {}),
    ledgerOptions: { maxPayloadBytes: config.ledger.maxPayloadBytes, maxBatch: config.ledger.maxBatch, flushMs: config.ledger.eventFlushMs, logger },
    ...(options.faults ? { faults: options.faults } : {}),
  });
  workflows = await openWorkflows({ config, db, graph, logger, sessions: { get: (id) => engine.get(id) } });
  const opened = workflows;
  return {
    engine,
    db,
    graph,
    workflows: opened,
    storyId: setup.story.storyId,
    async close() {
      await engine.shutdown();
      await opened.close();
      await setup.close();
      await graph.close();
      partitions.stop();
      await partitions.idle();
      await db.close();
    },
  };
}
