import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import { SessionEngine, type SessionHandle } from '../../../src/engine/engine.ts';
import { entitySnapshotReader } from '../../../src/persistence/entity-snapshots.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { storeStory, storySource } from '../../../src/persistence/story-store.ts';
import { WALKTHROUGH, sampleStory } from '../../support/story.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { next } from './fixture.ts';

/** Item 6: scene entry step 2 reads entity_snapshots — an effect written only to a snapshot is seen. */
describe('scene entry loads the cast\'s entity snapshots (sample story, PostgreSQL)', () => {
  let t: TestDatabase;
  let graph: GraphStore;
  let storyId: string;
  beforeAll(async () => {
    t = await createTestDatabase('pg');
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    storyId = (await storeStory(t.db, graph, await sampleStory())).storyId;
  });
  afterAll(async () => {
    await graph.close();
    await t.close();
  });

  const engineOf = () =>
    new SessionEngine({
      db: t.db, graph, inspect: null, ledgerOptions: { maxPayloadBytes: 65536, maxBatch: 64, flushMs: 2 },
      behaviour: new StoryBehaviour({ stories: storySource(t.db, { defaultStoryId: storyId }), graph, snapshots: entitySnapshotReader(t.db) }),
    });
  const snapshotsAtEntry = (s: SessionHandle) => (s.actor.getSnapshot().context.warm.entities as { snapshots?: Record<string, Record<string, unknown>> }).snapshots;
  const say = (s: SessionHandle, id: string, text: string) => {
    const answered = next<{ clientInputId: string }>((fn) => s.on('answer', fn), (a) => a.clientInputId === id);
    s.input(id, text);
    return answered;
  };

  it('at the next entry and after a resume', async () => {
    let engine = engineOf();
    const s = await engine.createSession({ storyId });
    // Written only to Ada's snapshot (as an off-screen workflow step would): never in the ledger.
    await t.db.query(`INSERT INTO entity_snapshots (session_id, entity_id, kind, components) VALUES ($1, 'ada', 'character', '{"offscreen":{"goalProgress":3}}'::jsonb)`, [s.id]);
    const atInn = next<{ sceneKey: string }>((fn) => s.on('sceneEntered', fn), (e) => e.sceneKey === 'the_drowned_bell');
    for (const [i, line] of WALKTHROUGH.slice(0, 3).entries()) await say(s, `w-${i}`, line);
    await atInn;
    expect(snapshotsAtEntry(s)?.ada).toEqual({ offscreen: { goalProgress: 3 } });
    await engine.shutdown();

    engine = engineOf();
    const resumed = await engine.open(s.id);
    const entered = await next<{ sceneKey: string }>((fn) => resumed.on('sceneEntered', fn));
    expect(entered.sceneKey).toBe('the_drowned_bell');
    expect(snapshotsAtEntry(resumed)?.ada).toEqual({ offscreen: { goalProgress: 3 } });
    // The quay's exit wrote Ewan's snapshot; he is not in this cast, so it is not loaded here.
    expect(Object.keys(snapshotsAtEntry(resumed) ?? {}).sort()).toEqual(['ada']);
    await engine.shutdown();
  });
  it('a scene exit merges into the snapshot: its own components are fresh, components only the pipeline wrote are kept', async () => {
    const engine = engineOf();
    const s = await engine.createSession({ storyId });
    // Ewan (the quay's cast) as the deferred pipeline left him: an off-screen component the
    // exit never writes, and a stale value of one it does write.
    await t.db.query(
      `INSERT INTO entity_snapshots (session_id, entity_id, kind, components) VALUES ($1, 'ewan', 'character', '{"offscreen":{"goalProgress":2},"lastScene":"stale"}'::jsonb)
       ON CONFLICT (session_id, entity_id) DO UPDATE SET components = entity_snapshots.components || EXCLUDED.components`,
      [s.id],
    );
    const exited = next<{ sceneKey: string }>((fn) => s.on('sceneExited', fn));
    for (const [i, line] of WALKTHROUGH.slice(0, 3).entries()) await say(s, `m-${i}`, line);
    const quay = await exited;
    const { rows } = await t.db.query<{ components: Record<string, unknown> }>(`SELECT components FROM entity_snapshots WHERE session_id = $1 AND entity_id = 'ewan'`, [s.id]);
    const c = rows[0]!.components;
    expect(c.offscreen).toEqual({ goalProgress: 2 });
    expect(c.lastScene).toBe(quay.sceneKey);
    expect(c).toHaveProperty('emotions');
    await engine.shutdown();
  });
});
