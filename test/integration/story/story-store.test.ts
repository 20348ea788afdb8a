import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sceneUuid } from '../../../src/domain/story/ids.ts';
import type { Story } from '../../../src/domain/story/schema.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { loadStoredStory, startSessionFromStory, storeStory } from '../../../src/persistence/story-store.ts';
import { isStorytellerError } from '../../../src/errors.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { sampleStory } from '../../support/story.ts';

describe.each(DRIVERS)('story store (%s)', (driver) => {
  let t: TestDatabase;
  let graph: GraphStore;
  let story: Story;

  beforeAll(async () => {
    t = await createTestDatabase(driver);
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    story = await sampleStory();
  });
  afterAll(async () => {
    await graph?.close();
    await t?.close();
  });

  it('stores scenes with deterministic UUIDs, entities and the baseline graph', async () => {
    const result = await storeStory(t.db, graph, story);
    expect(result.changed).toBe(true);
    const { rows } = await t.db.query<{ id: string; key: string; scene_type: string }>('SELECT id, key, scene_type FROM scenes WHERE story_id = $1 ORDER BY key', [story.id]);
    expect(rows).toHaveLength(story.scenes.length);
    for (const row of rows) expect(row.id).toBe(sceneUuid(story.id, row.key));
    const entities = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM story_entities WHERE story_id = $1', [story.id]);
    expect(entities.rows[0]?.n).toBe(story.characters.length + story.entities.length + story.settings.length);
    const sub = await graph.relationalSubgraph(story.id, ['player', 'tobias', 'nell']);
    expect(sub.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['nell>player', 'nell>tobias', 'tobias>nell', 'tobias>player']);
    expect((await graph.adjacentSettings(story.id, 'cliff_path')).map((a) => a.setting.id)).toEqual(['keepers_yard', 'harbour', 'village_inn']);
    expect((await graph.reachableScenes(story.id, 'the_quay', 3)).map((r) => r.scene.id)).toEqual(['the_drowned_bell', 'the_cliff_path', 'the_keepers_door']);
  });

  it('reloading the same story changes nothing', async () => {
    const before = await t.db.query<{ loaded_at: Date }>('SELECT loaded_at FROM stories WHERE id = $1', [story.id]);
    const again = await storeStory(t.db, graph, story);
    expect(again.changed).toBe(false);
    const after = await t.db.query<{ loaded_at: Date }>('SELECT loaded_at FROM stories WHERE id = $1', [story.id]);
    expect(after.rows[0]?.loaded_at).toEqual(before.rows[0]?.loaded_at);
  });

  it('a changed story replaces the old one and keeps scene ids', async () => {
    const changed: Story = { ...story, version: story.version + 1, title: `${story.title} (revised)` };
    const result = await storeStory(t.db, graph, changed);
    expect(result.changed).toBe(true);
    expect((await loadStoredStory(t.db, story.id)).title).toBe(`${story.title} (revised)`);
    const { rows } = await t.db.query<{ id: string }>('SELECT id FROM scenes WHERE story_id = $1 AND key = $2', [story.id, 'the_quay']);
    expect(rows[0]?.id).toBe(sceneUuid(story.id, 'the_quay'));
    // The graph was rebuilt, not doubled.
    expect((await graph.relationalSubgraph(story.id, ['ada', 'silas'])).edges).toHaveLength(1);
  });

  it('starts a session: snapshots copied, graph forked into the session scope', async () => {
    const session = await startSessionFromStory(t.db, graph, { storyId: story.id });
    expect(session.currentSceneId).toBe(sceneUuid(story.id, story.start));
    const snaps = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM entity_snapshots WHERE session_id = $1', [session.id]);
    expect(snaps.rows[0]?.n).toBeGreaterThan(10);
    expect((await graph.relationalSubgraph(session.id, ['ada', 'player'])).edges).toHaveLength(1);
  });

  it('an unknown story is STORY_NOT_FOUND', async () => {
    await expect(loadStoredStory(t.db, 'nope')).rejects.toSatisfy((e: unknown) => isStorytellerError(e, 'STORY_NOT_FOUND'));
  });
});
