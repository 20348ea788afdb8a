import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeEvent } from '../../../src/actors/bridge.ts';
import type { SessionEngine } from '../../../src/engine/engine.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { BetweenSessionsSchedule } from '../../../src/workflows/between-sessions.ts';
import { openWorkflows, type OpenedWorkflows } from '../../../src/workflows/open-workflows.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { newEngine, next, play, recordingBehaviour, seedStory, STORY, type SeenAtEntry } from './fixture.ts';

describe('between sessions: a durable schedule fires a background workflow whose effects a resumed session sees (PostgreSQL)', () => {
  let tdb: TestDatabase;
  let graph: GraphStore;
  let wf: OpenedWorkflows;
  let engine: SessionEngine | undefined;

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    graph = await openGraphStore(tdb.db, { graphStore: 'sql' });
    await seedStory(tdb.db, graph);
    wf = await openWorkflows({
      config: { amqpUrl: undefined, workflows: { transport: 'in-process', taskerUrl: undefined, localPort: 0, betweenSessionsMs: 3_600_000 } },
      db: tdb.db, graph, logger: silentLogger, sessions: { get: (id) => engine?.get(id) },
    });
  });
  afterAll(async () => {
    await engine?.shutdown();
    await wf.close();
    await tdb.close();
  });

  it('two instances tick a due run: exactly one fires; decay, time passage and off-screen progress apply once; the resumed session sees them', async () => {
    const seen: SeenAtEntry[] = [];
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, seen), () => wf.bridge.wake());
    const s = await engine.createSession({ storyId: STORY });
    const sceneDone = next<BridgeEvent>((fn) => { wf.bridge.on('event', fn); return () => wf.bridge.off('event', fn); }, (e) => e.type === 'deferred.applied');
    for (let i = 1; i <= 3; i++) await play(s, `c-${i}`, `hello ${i}`);
    await sceneDone;
    await wf.runner!.whenIdle();
    await engine.shutdown(); // suspended: between sessions now
    const before = (await graph.relationalSubgraph(s.id, ['mara', 'tomas', 'player'])).edges.filter((e) => e.to === 'player');
    expect(before.length).toBeGreaterThan(0);

    // A second engine instance's schedule on its own connection pool: they race for the due run.
    const other = new PgDatabase({ connectionString: tdb.url as string, maxConnections: 2 });
    await tdb.db.query(`UPDATE workflow_schedules SET next_run_at = NOW() - INTERVAL '1 second' WHERE name = 'between_sessions'`);
    const fired = await Promise.all([wf.schedule.tick(), new BetweenSessionsSchedule({ db: other, intervalMs: 3_600_000 }).tick()]);
    await other.close();
    const keys = fired.filter((k): k is string => k !== null);
    expect(keys).toHaveLength(1);
    expect((await tdb.db.query(`SELECT 1 FROM outbox WHERE kind = 'between_sessions'`)).rows).toHaveLength(1);
    expect(await wf.schedule.tick()).toBeNull(); // next run is an interval away

    const done = next<BridgeEvent>((fn) => { wf.bridge.on('event', fn); return () => wf.bridge.off('event', fn); }, (e) => e.type === 'between.applied');
    wf.bridge.wake();
    expect(await done).toMatchObject({ runKey: keys[0], status: 'complete' });

    // Oracle: each edge toward the player is 90 % of what it was.
    const after = (await graph.relationalSubgraph(s.id, ['mara', 'tomas', 'player'])).edges.filter((e) => e.to === 'player');
    for (const b of before) expect(after.find((a) => a.from === b.from)?.affection).toBeCloseTo(b.affection * 0.9, 6);
    const time = await tdb.db.query(`SELECT 1 FROM event_ledger WHERE session_id = $1 AND event_type = 'DeferredResultApplied' AND idempotency_key = $2`, [s.id, `${keys[0]}:time`]);
    expect(time.rows).toHaveLength(1);
    const ines = await tdb.db.query<{ components: { offscreen: { goalProgress: number } } }>(`SELECT components FROM entity_snapshots WHERE session_id = $1 AND entity_id = 'ines'`, [s.id]);
    expect(ines.rows[0]?.components.offscreen.goalProgress).toBe(2); // the harbour's workflow, then this run

    // The resumed session: its truth set has the time that passed, its entry the decayed web.
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, seen), () => wf.bridge.wake());
    seen.length = 0;
    const resumed = await engine.open(s.id);
    await next<unknown>((fn) => resumed.on('sceneEntered', fn));
    expect(resumed.actor.getSnapshot().context.truthSet?.accumulators['time.between_sessions']).toBe(1);
    const tomas = after.find((a) => a.from === 'tomas')?.affection ?? null;
    expect(seen[0]?.tomasToPlayer ?? null).toBe(tomas);
  });
});
