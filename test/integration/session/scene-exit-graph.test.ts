import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

describe.each(DRIVERS)('scene exit writes entity snapshots and relational edges in its transaction (%s)', (driver) => {
  let tdb: TestDatabase;
  let graph: GraphStore;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
    graph = await openGraphStore(tdb.db, { graphStore: 'sql' });
    await tdb.db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ('graph-story', 'g', '{}'::jsonb, 'x')`);
    await graph.upsertVertices('graph-story', [
      { label: 'Character', id: 'mara', name: 'Mara' },
      { label: 'Character', id: 'player', name: 'Player' },
    ]);
    await graph.upsertEdges('graph-story', [{ label: 'RELATES_TO', from: 'mara', to: 'player', trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0.2, debt: 0 }]);
  });
  afterAll(async () => {
    await tdb.close();
  });

  it("forks the story graph for the session and applies the scene's edge updates at exit", async () => {
    const kit = await TestingKit.create({ db: tdb.db, graph, storyId: 'graph-story' });
    const s = await kit.createSession();
    const exited = s.next('sceneExited');
    for (const text of ['one', 'two', 'three']) await s.play(text);
    await exited;
    const { edges } = await graph.relationalSubgraph(s.id, ['mara', 'player']);
    expect(edges.find((e) => e.from === 'mara' && e.to === 'player')?.affection).toBeCloseTo(0.3);
    // The story's own graph is untouched.
    const story = await graph.relationalSubgraph('graph-story', ['mara', 'player']);
    expect(story.edges[0]?.affection).toBeCloseTo(0.2);
    const snapshots = await tdb.db.query<{ entity_id: string; components: { lastScene: string } }>('SELECT entity_id, components FROM entity_snapshots WHERE session_id = $1', [s.id]);
    expect(snapshots.rows).toEqual([{ entity_id: 'mara', components: { lastScene: 'harbour' } }]);
    await kit.shutdown();
  });

  it('edge updates the graph store refuses are skipped, the refusal is a durable EffectRefused in the exit transaction; the exit still commits', async () => {
    await tdb.db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ('graph-story-2', 'g', '{}'::jsonb, 'x') ON CONFLICT DO NOTHING`);
    await graph.upsertVertices('graph-story-2', [{ label: 'Character', id: 'tomas', name: 'Tomas' }]); // no mara, no player
    const kit = await TestingKit.create({ db: tdb.db, graph, storyId: 'graph-story-2' });
    const s = await kit.createSession();
    const exited = s.next('sceneExited');
    for (const text of ['one', 'two', 'three']) await s.play(text);
    const exit = await exited;
    expect(exit.nextSceneKey).toBe('lighthouse');
    const { edges } = await graph.relationalSubgraph(s.id, ['mara', 'player', 'tomas']);
    expect(edges).toEqual([]);
    await s.whenIdle();
    expect(s.handle.actor.getSnapshot().context.sceneKey).toBe('lighthouse');
    // Accounted for: a ledger event naming what was refused and why, written in the exit's transaction, and a metric.
    const refused = await tdb.db.query<{ data: { effect: string; code: string; subject: { updates: Array<{ from: string; to: string }> } }; same_tx: boolean }>(
      `SELECT r.event_data AS data, r.xmin::text = x.xmin::text AS same_tx FROM event_ledger r
         JOIN event_ledger x ON x.session_id = r.session_id AND x.event_type = 'SceneExited'
        WHERE r.session_id = $1 AND r.event_type = 'EffectRefused'`,
      [s.id],
    );
    expect(refused.rows).toHaveLength(1);
    expect(refused.rows[0]?.same_tx).toBe(true);
    expect(refused.rows[0]?.data.effect).toBe('edge_update');
    expect(refused.rows[0]?.data.code).toMatch(/^GRAPH_/);
    expect(refused.rows[0]?.data.subject.updates).toEqual([{ from: 'mara', to: 'player' }]);
    const metric = await kit.engine.metrics.effectsRefused.get();
    expect(metric.values.find((v) => v.labels.effect === 'edge_update')?.value).toBe(1);
    await kit.shutdown();
  });
});
