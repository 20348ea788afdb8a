import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import type { SceneBehaviour } from '../../../src/actors/behaviour.ts';
import { reconstructTruthSet, holds, worldValue } from '../../../src/domain/truth-set.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { storeStory, storySource } from '../../../src/persistence/story-store.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { sampleStory, WALKTHROUGH } from '../../support/story.ts';

/**
 * The sample story through the real session engine (statechart, agent child actors,
 * group-committed ledger, scene-exit transactions) with the story behaviour.
 */
describe.each(DRIVERS)('engine playthrough of The Lighthouse Keeper (%s)', (driver) => {
  let t: TestDatabase;
  let graph: GraphStore;
  let storyId: string;

  beforeAll(async () => {
    t = await createTestDatabase(driver);
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    storyId = (await storeStory(t.db, graph, await sampleStory())).storyId;
  });
  afterAll(async () => {
    await graph?.close();
    await t?.close();
  });

  const behaviourOf = (): StoryBehaviour => new StoryBehaviour({ stories: storySource(t.db, { defaultStoryId: storyId }), graph });

  it('plays from the first scene to the last; gates, goals, scenes and cross-scene propositions are in the ledger', async () => {
    const kit = await TestingKit.create({ db: t.db, behaviour: behaviourOf(), storyId, graph });
    const s = await kit.createSession();
    const scenes: string[] = [];
    let nellAtTheDoor: { affection: number } | undefined;
    s.handle.on('sceneEntered', (e) => {
      scenes.push(e.sceneKey);
      if (e.sceneKey !== 'the_keepers_door') return;
      // Scene entry reads the session's graph: Nell's warmth from the cliff path (+0.4) is there.
      const graphContext = s.handle.actor.getSnapshot().context.warm.graph as { edges: Array<{ from: string; to: string; affection: number }> };
      nellAtTheDoor = graphContext.edges.find((x) => x.from === 'nell' && x.to === 'player');
    });
    const ended = s.whenLifecycle('ended');
    const texts: string[] = [];
    for (const line of WALKTHROUGH) {
      const answer = await s.play(line);
      expect(answer.degraded, line).toEqual([]);
      texts.push(answer.text);
    }
    await ended;
    await kit.shutdown();

    expect(scenes).toEqual(['the_quay', 'the_drowned_bell', 'the_cliff_path', 'the_keepers_door', 'the_lamp_room']);
    expect(texts.at(-1)).toContain('The light at Gannet Head is burning again.');
    expect(nellAtTheDoor?.affection).toBeCloseTo(0.5, 5);
    expect(texts[4]).toContain('Ada Marsh is holding the iron key');

    const ledger = new Ledger(t.db, { maxPayloadBytes: 65_536, maxBatch: 64, flushMs: 5 });
    try {
      const gates = (await ledger.eventsByType(s.id, 'GateFired')).map((r) => (r.data as { gateId: string }).gateId);
      expect(gates).toEqual(['why_the_light_is_dark', 'silas_slips', 'ada_gives_key', 'nell_gives_lamp', 'the_stair', 'tobias_speaks', 'tobias_relents']);
      const goals = (await ledger.eventsByType(s.id, 'GoalCompleted')).map((r) => (r.data as { goalId: string }).goalId);
      expect(goals).toEqual(['learn_why_dark', 'see_through_silas', 'get_the_key', 'carry_the_lamp', 'open_the_door', 'light_the_lamp', 'bring_tobias_back']);
      const ts = reconstructTruthSet(null, await ledger.eventsSince(s.id, 0));
      for (const scene of scenes) expect(holds(ts, 'visited', scene)).toBe(true);
      expect(holds(ts, 'holds', 'tobias', 'brass_lamp')).toBe(true);
      expect(holds(ts, 'holds', 'player', 'iron_key')).toBe(true);
      expect(holds(ts, 'knows', 'player', 'why_the_light_is_dark')).toBe(true);
      expect(worldValue(ts, 'great_lamp')).toBe('lit');
      expect((await ledger.eventsByType(s.id, 'ConstraintViolation')).length).toBe(3);
      // Stage 4 ran beside the agents and its refinements reached the ledger.
      const judgments = await ledger.eventsByType(s.id, 'InterpretiveJudgment');
      expect(judgments.some((j) => j.type === 'InterpretiveJudgment' && j.data.replaces !== undefined)).toBe(true);
    } finally {
      await ledger.close();
    }
    const checkpoints = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM checkpoints WHERE session_id = $1 AND checkpoint_type = 'scene_exit'`, [s.id]);
    expect(checkpoints.rows[0]?.n).toBe(5);
    // Relational shifts of each scene were written to the session's own graph.
    const edge = (await graph.relationalSubgraph(s.id, ['ada', 'player'])).edges.find((e) => e.from === 'ada' && e.to === 'player');
    expect(edge?.trust_reliability).toBeCloseTo(0.4, 5);
  });

  it('a failing agent yields a degraded but valid turn through the engine', async () => {
    const real = behaviourOf();
    const broken = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'world' || prop === 'reconciler') return () => Promise.reject(new Error(`${String(prop)} exploded`));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as SceneBehaviour;
    const kit = await TestingKit.create({ db: t.db, behaviour: broken, storyId, graph });
    const s = await kit.createSession();
    const answer = await s.play('ask Ewan about the light');
    expect(answer.degraded).toEqual(expect.arrayContaining(['world', 'reconciler']));
    expect(answer.text).toContain('Tobias Wren');
    await kit.shutdown();
  });
});
