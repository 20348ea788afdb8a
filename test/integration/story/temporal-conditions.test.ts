import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerHistoryReader } from '../../../src/actors/scene-history.ts';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import { loadStoryFile } from '../../../src/domain/story/loader.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import { storeStory, storySource } from '../../../src/persistence/story-store.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

/**
 * Temporal story conditions through the real engine (statechart, group-committed ledger,
 * crash recovery): gates of test/fixtures/tide-and-boat.yaml that can only hold across
 * turns — a `sequence` (tide table, then the boat, within 8 steps) and a `since` (the
 * lamp held without a break since the tide table was read). The story behaviour reads
 * the session's durable ledger rows (src/actors/scene-history.ts).
 */
const FIXTURE = 'test/fixtures/tide-and-boat.yaml';

describe.each(DRIVERS)('temporal story conditions through the engine (%s)', (driver) => {
  let t: TestDatabase;
  let graph: GraphStore;
  let storyId: string;

  beforeAll(async () => {
    t = await createTestDatabase(driver);
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    storyId = (await storeStory(t.db, graph, await loadStoryFile(FIXTURE))).storyId;
  });
  afterAll(async () => {
    await graph?.close();
    await t?.close();
  });

  const behaviourOf = (): StoryBehaviour =>
    new StoryBehaviour({ stories: storySource(t.db, { defaultStoryId: storyId }), graph, history: ledgerHistoryReader(t.db) });

  /** Every GateFired of the session with the client input id of the turn that fired it, in ledger order. */
  const gatesOf = async (sessionId: string): Promise<Array<[string, string | null]>> =>
    (
      await t.db.query<{ gate: string; client: string | null }>(
        `SELECT g.event_data->>'gateId' AS gate, p.client_input_id AS client
           FROM event_ledger g LEFT JOIN event_ledger p ON p.id = g.input_id
          WHERE g.session_id = $1 AND g.event_type = 'GateFired'
          ORDER BY g.narrative_ts`,
        [sessionId],
      )
    ).rows.map((r) => [r.gate, r.client]);

  it('a sequence across two turns and a since broken then restored fire exactly when they should', async () => {
    const kit = await TestingKit.create({ db: t.db, behaviour: behaviourOf(), storyId, graph });
    const s = await kit.createSession();
    const play = async (line: string) => {
      const answer = await s.play(line);
      expect(answer.degraded, line).toEqual([]);
      await s.whenIdle();
      return answer.text;
    };
    await play('take the lamp'); // c-1
    await play('examine the tide table'); // c-2
    expect(await gatesOf(s.id)).toEqual([]);
    expect(await play('ask Ewan about the boat')).toContain('The Curlew runs past the rocks tonight'); // c-3
    expect(await gatesOf(s.id)).toEqual([['boat_due', 'c-3']]);
    await play('drop the lamp'); // c-4: breaks "held since the tide table"
    await play('take the lamp'); // c-5: held again, but not continuously
    expect(await play('ask Ewan about the lamp')).not.toContain('Keep that lamp lit'); // c-6
    expect(await gatesOf(s.id)).toEqual([['boat_due', 'c-3']]);
    await play('examine the tide table'); // c-7: a new start
    expect(await play('ask Ewan about the lamp')).toContain('Keep that lamp lit'); // c-8
    expect(await gatesOf(s.id)).toEqual([
      ['boat_due', 'c-3'],
      ['steady_lamp', 'c-8'],
    ]);
    await kit.shutdown();
  });

  it('a sequence too far apart does not fire', async () => {
    const kit = await TestingKit.create({ db: t.db, behaviour: behaviourOf(), storyId, graph });
    const s = await kit.createSession();
    for (const line of ['examine the tide table', 'look', 'look', 'look', 'look', 'ask Ewan about the boat']) {
      await s.play(line);
      await s.whenIdle();
    }
    // ≥ 2 rows per idle turn: the SpeechAct is more than 8 narrative steps after the ExaminationAction.
    expect(await gatesOf(s.id)).toEqual([]);
    await kit.shutdown();
  });

  it('after a crash between turns and one in the middle of a turn, recovery evaluates the same', async () => {
    const script = ['take the lamp', 'examine the tide table', 'ask Ewan about the boat', 'ask Ewan about the lamp'];
    const expected: Array<[string, string]> = [
      ['boat_due', 'c-3'],
      ['steady_lamp', 'c-4'],
    ];
    // Uninterrupted reference.
    const ref = await TestingKit.create({ db: t.db, behaviour: behaviourOf(), storyId, graph });
    const r = await ref.createSession();
    for (const line of script) {
      await r.play(line);
      await r.whenIdle();
    }
    expect(await gatesOf(r.id)).toEqual(expected);
    await ref.shutdown();

    const kit = await TestingKit.create({ db: t.db, behaviour: behaviourOf(), storyId, graph });
    const s = await kit.createSession();
    await s.play(script[0]!, 'c-1');
    await s.play(script[1]!, 'c-2');
    await s.whenIdle();
    // Crash between turns: the next engine rebuilds the session from the ledger; the tide table is in the past.
    kit.restart();
    const second = await kit.open(s.id);
    await second.whenIdle();
    await second.play(script[2]!, 'c-3');
    await second.whenIdle();
    expect(await gatesOf(s.id)).toEqual(expected.slice(0, 1));

    // Crash in the middle of the turn whose gate is temporal; the recovered engine re-runs it.
    kit.armCrash('turn.afterStage2', s.id);
    const crashed = kit.nextCrash();
    second.send(script[3]!, 'c-4');
    await crashed;
    expect(await gatesOf(s.id)).toEqual(expected.slice(0, 1));
    kit.restart();
    const third = await kit.open(s.id);
    await third.whenIdle();
    expect(kit.answersFor(s.id, 'c-4').map((a) => a.generation)).toEqual([2]);
    expect(await gatesOf(s.id)).toEqual(expected);
    await kit.shutdown();
  });
});
