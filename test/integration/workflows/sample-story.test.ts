import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeEvent } from '../../../src/actors/bridge.ts';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import { SessionEngine } from '../../../src/engine/engine.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { storeStory, storySource } from '../../../src/persistence/story-store.ts';
import { openWorkflows, type OpenedWorkflows } from '../../../src/workflows/open-workflows.ts';
import { sampleStory, WALKTHROUGH } from '../../support/story.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { describeDeferred } from '../../../src/workflows/deferred-summary.ts';
import { next } from './fixture.ts';

/**
 * Item 7: the player meets the pipeline. On the quay Ewan comes to trust the player
 * (+0.2 trust_reliability); the quay's workflow ripples that to Tobias, who cares for Ewan;
 * in the lamp room Tobias has heard of the player (gate `tobias_heard_of_you`). Without the
 * pipeline the same walkthrough never fires that gate (the control).
 */
describe('the sample story: a consequence of the deferred pipeline the player meets (embedded default, PostgreSQL)', () => {
  let t: TestDatabase;
  let graph: GraphStore;
  let storyId: string;
  let wf: OpenedWorkflows;
  let engine: SessionEngine | undefined;

  beforeAll(async () => {
    t = await createTestDatabase('pg');
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    storyId = (await storeStory(t.db, graph, await sampleStory())).storyId;
    wf = await openWorkflows({ config: { amqpUrl: undefined, workflows: { transport: 'in-process', taskerUrl: undefined, localPort: 0, betweenSessionsMs: 3_600_000 } }, db: t.db, graph, logger: silentLogger, sessions: { get: (id) => engine?.get(id) } });
  });
  afterAll(async () => {
    await engine?.shutdown();
    await wf.close();
    await graph.close();
    await t.close();
  });

  const told: string[] = [];
  const walk = async (withPipeline: boolean): Promise<{ texts: string[]; sessionId: string }> => {
    engine = new SessionEngine({
      db: t.db, graph, inspect: null, ledgerOptions: { maxPayloadBytes: 65536, maxBatch: 64, flushMs: 2 },
      behaviour: new StoryBehaviour({ stories: storySource(t.db, { defaultStoryId: storyId }), graph }),
      ...(withPipeline ? { onSceneExitCommitted: () => wf.bridge.wake() } : {}),
    });
    const s = await engine.createSession({ storyId });
    // What the terminal and the gateway print on the session's deferred.applied event.
    s.on('deferred.applied', (e) => told.push(describeDeferred(e.result) ?? ''));
    const quayDone = withPipeline
      ? next<BridgeEvent>((fn) => { wf.bridge.on('event', fn); return () => wf.bridge.off('event', fn); }, (e) => e.type === 'deferred.applied' && e.workflowKey === `session:${s.id}:scene-exit:0`)
      : null;
    const quayExited = next<{ sceneKey: string }>((fn) => s.on('sceneExited', fn), (e) => e.sceneKey === 'the_quay');
    const texts: string[] = [];
    for (const line of WALKTHROUGH) {
      const answered = next<{ clientInputId: string; text: string }>((fn) => s.on('answer', fn), (a) => a.clientInputId === `w-${texts.length}`);
      s.input(`w-${texts.length}`, line);
      texts.push((await answered).text);
      // The quay's workflow completes while the player is at the inn (awaited, not timed).
      if (line === 'go to the inn') {
        await quayExited;
        await quayDone;
      }
    }
    await engine.shutdown();
    return { texts, sessionId: s.id };
  };

  it('Tobias has heard of the player from Ewan — only when the pipeline ran', async () => {
    const played = await walk(true);
    const davey = played.texts[WALKTHROUGH.indexOf('ask Tobias about Davey')];
    expect(davey).toContain('Told me the Board\'s man listened to him on the quay');
    const fired = await t.db.query(`SELECT 1 FROM event_ledger WHERE session_id = $1 AND event_type = 'GateFired' AND event_data->>'gateId' = 'tobias_heard_of_you'`, [played.sessionId]);
    expect(fired.rows).toHaveLength(1);
    expect(played.texts.at(-1)).toContain('The light at Gannet Head is burning again.');
    // The player was told, mid-play, what rippled from the quay.
    expect(told[0]).toMatch(/^Word travels: .*Tobias trusts you more/);

    await wf.close(); // no bridge, no runner: the outbox rows stay unrelayed
    const control = await walk(false);
    expect((await t.db.query(`SELECT 1 FROM outbox WHERE session_id = $1 AND published_at IS NULL`, [control.sessionId])).rows.length).toBeGreaterThan(0);
    expect(control.texts[WALKTHROUGH.indexOf('ask Tobias about Davey')]).not.toContain('listened to him on the quay');
    const none = await t.db.query(`SELECT 1 FROM event_ledger WHERE session_id = $1 AND event_type = 'GateFired' AND event_data->>'gateId' = 'tobias_heard_of_you'`, [control.sessionId]);
    expect(none.rows).toHaveLength(0);
  });
});
