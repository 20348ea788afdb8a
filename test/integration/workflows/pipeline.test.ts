import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeEvent } from '../../../src/actors/bridge.ts';
import type { SessionEngine } from '../../../src/engine/engine.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { openWorkflows, type OpenedWorkflows } from '../../../src/workflows/open-workflows.ts';
import { SocialGraphRipple } from '../../../src/workflows/steps/social-graph-ripple.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { newEngine, next, play, recordingBehaviour, RIPPLE_EXPECTED, seedStory, STORY, type SeenAtEntry } from './fixture.ts';

const FAST = { baseMs: 5, multiplier: 2, maxMs: 50, jitter: 0 };

describe.each(DRIVERS)('the deferred scene-boundary pipeline on the embedded default (in-process runner, %s)', (driver) => {
  let tdb: TestDatabase;
  let graph: GraphStore;
  let wf: OpenedWorkflows;
  let engine: SessionEngine | undefined;
  const seen: SeenAtEntry[] = [];
  const bridgeEvents: BridgeEvent[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
    graph = await openGraphStore(tdb.db, { graphStore: 'sql' });
    await seedStory(tdb.db, graph);
    wf = await openWorkflows({
      config: { amqpUrl: undefined, workflows: { transport: 'in-process', taskerUrl: undefined, localPort: 0, betweenSessionsMs: 3_600_000 } },
      db: tdb.db, graph, logger: silentLogger, sessions: { get: (id) => engine?.get(id) }, backoff: FAST,
    });
    wf.bridge.on('event', (e) => bridgeEvents.push(e));
  });
  afterAll(async () => {
    await engine?.shutdown();
    await wf.close();
    await tdb.close();
  });

  it('scene exit → task → every step → scene_boundary.completed → checkpoint complete; the player is told; the next scene sees the ripple', async () => {
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, seen), () => wf.bridge.wake());
    const s = await engine.createSession({ storyId: STORY });
    const appliedToBridge = next<BridgeEvent>((fn) => { wf.bridge.on('event', fn); return () => wf.bridge.off('event', fn); }, (e) => e.type === 'deferred.applied');
    const toldPlayer = next<{ type: string; result: unknown }>((fn) => s.on('deferred.applied', fn));
    for (let i = 1; i <= 3; i++) await play(s, `c-${i}`, `hello ${i}`);
    const applied = await appliedToBridge;
    expect(applied).toMatchObject({ type: 'deferred.applied', sessionId: s.id, status: 'complete', via: 'event' });
    const told = await toldPlayer;

    // The checkpoint of the harbour exit carries every deferred effect.
    const cp = await tdb.db.query<{ id: string; deferred_status: string; deferred_result: { workflow_key: string; effects: Array<Record<string, unknown>> } }>(
      `SELECT id, deferred_status, deferred_result FROM checkpoints WHERE session_id = $1 AND checkpoint_type = 'scene_exit' ORDER BY ledger_ts`, [s.id]);
    expect(cp.rows[0]?.deferred_status).toBe('complete');
    const result = cp.rows[0]!.deferred_result;
    expect(result.workflow_key).toBe(`session:${s.id}:scene-exit:0`);
    expect(told.result).toEqual(result);
    const ripple = result.effects.find((e) => e.kind === 'relationship' && e.from === 'tomas' && e.to === 'player');
    expect(ripple?.dimension).toBe('affection');
    expect(ripple?.delta as number).toBeCloseTo(RIPPLE_EXPECTED, 6);
    expect(result.effects).toContainEqual({ kind: 'world', key: 'time.scenes_elapsed', value: 1 });
    expect(result.effects).toContainEqual({ kind: 'accumulator', key: 'offscreen:ines:goal_progress', delta: 1 });

    // Real effects: the session's graph and the off-screen character's snapshot.
    const web = await graph.relationalSubgraph(s.id, ['tomas', 'player']);
    expect(web.edges.find((e) => e.from === 'tomas' && e.to === 'player')?.affection).toBeCloseTo(RIPPLE_EXPECTED, 6);
    const ines = await tdb.db.query<{ components: { offscreen: { goalProgress: number } } }>(`SELECT components FROM entity_snapshots WHERE session_id = $1 AND entity_id = 'ines'`, [s.id]);
    expect(ines.rows[0]?.components.offscreen.goalProgress).toBe(1);

    // Every step ran once, in the order the DAG allows.
    const steps = await tdb.db.query<{ name: string; state: string; attempts: number }>(
      `SELECT s.name, s.state, s.attempts FROM workflow_steps s JOIN workflow_tasks t USING (task_uuid) WHERE t.context->>'session_id' = $1 ORDER BY s.name`, [s.id]);
    expect(steps.rows).toEqual(
      ['checkpoint', 'deferred_event_resolution', 'narrative_graph_update', 'offscreen_propagation', 'social_graph_ripple', 'world_state_update'].map((name) => ({ name, state: 'complete', attempts: 1 })),
    );
    const outbox = await tdb.db.query<{ published_at: Date | null; completed_at: Date | null; outcome: string }>('SELECT published_at, completed_at, outcome FROM outbox WHERE session_id = $1', [s.id]);
    expect(outbox.rows).toHaveLength(1);
    expect(outbox.rows[0]?.outcome).toBe('complete');

    // The scene after next is entered after the completion: its graph context shows the ripple
    // (0.12) plus the lighthouse exit's own edge update for tomas (+0.1), and it got the result.
    const exited = next<{ sceneKey: string }>((fn) => s.on('sceneExited', fn), (e) => e.sceneKey === 'lighthouse');
    await play(s, 'c-4', 'hello 4');
    await play(s, 'c-5', 'hello 5');
    await exited;
    const summit = await waitFor(() => seen.find((x) => x.sceneKey === 'summit'));
    expect(summit.tomasToPlayer).toBeCloseTo(RIPPLE_EXPECTED + 0.1, 6);
    expect(summit.deferredResults).toBe(1);
    // …and folds it into the truth set as a durable DeferredResultApplied fact (the oracle:
    // the world effects the harbour's workflow computed, and the ripple's accumulator).
    await waitFor(() => (s.actor.getSnapshot().context.truthSet?.world['time.scenes_elapsed'] === 1 ? true : undefined));
    const truth = s.actor.getSnapshot().context.truthSet!;
    expect(truth.world['story.last_scene']).toBe('harbour');
    // tomas's own two lighthouse turns (+0.1 each, RelationshipShifted) plus the ripple.
    expect(truth.accumulators['rel:tomas:player:affection']).toBeCloseTo(0.2 + RIPPLE_EXPECTED, 6);
    const facts = await tdb.db.query<{ n: string }>(`SELECT count(*) AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'DeferredResultApplied' AND idempotency_key = $2`, [s.id, `session:${s.id}:scene-exit:0:applied`]);
    expect(Number(facts.rows[0]?.n)).toBe(1);
  });

  it('a retried step and a redelivered completion change nothing twice', async () => {
    const { rows } = await tdb.db.query<{ task_uuid: string; context: Record<string, unknown>; results: unknown }>(
      `SELECT t.task_uuid, t.context, d.results FROM workflow_tasks t JOIN workflow_steps d ON d.task_uuid = t.task_uuid AND d.name = 'deferred_event_resolution' ORDER BY t.created_at LIMIT 1`);
    const task = rows[0]!;
    const sessionId = task.context.session_id as string;
    const before = (await graph.relationalSubgraph(sessionId, ['tomas', 'player'])).edges;
    const again = await new SocialGraphRipple({ db: tdb.db, graph }).call({
      taskUuid: task.task_uuid, stepUuid: task.task_uuid, correlationId: task.task_uuid, handlerName: SocialGraphRipple.handlerName,
      inputData: task.context, dependencyResults: { deferred_event_resolution: { result: task.results, success: true } }, stepConfig: { attenuation: 0.5 }, retryCount: 2, maxRetries: 3,
    });
    expect(again.success).toBe(true);
    expect(again.metadata).toEqual({ applied: false });
    expect((await graph.relationalSubgraph(sessionId, ['tomas', 'player'])).edges).toEqual(before);
  });

  it('a resumed session enters its scene with the deferred effects (graph and checkpoint result)', async () => {
    const sessionId = (await tdb.db.query<{ id: string }>('SELECT id FROM sessions ORDER BY created_at LIMIT 1')).rows[0]!.id;
    await wf.runner!.whenIdle();
    await wf.bridge.idle();
    await engine!.shutdown();
    seen.length = 0;
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, seen), () => wf.bridge.wake());
    await engine.open(sessionId);
    const entry = await waitFor(() => seen[0]);
    expect(entry.sceneKey).toBe('summit');
    expect(entry.tomasToPlayer).toBeCloseTo(RIPPLE_EXPECTED + 0.1, 6);
  });
});

/** Polls an in-memory condition each macrotask (state set by awaited events; no timers asserted). */
async function waitFor<T>(fn: () => T | undefined): Promise<T> {
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setImmediate(r));
  }
}
