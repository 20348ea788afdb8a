import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BridgeEvent } from '../../../src/actors/bridge.ts';
import type { SessionEngine } from '../../../src/engine/engine.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { openWorkflows } from '../../../src/workflows/open-workflows.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { newEngine, next, play, recordingBehaviour, seedStory, STORY, type SeenAtEntry } from './fixture.ts';

/**
 * Resume applies every completed-but-unapplied deferred result, in exit order — not only the
 * newest checkpoint's (which, after a suspend, is the suspend checkpoint and has none).
 */
describe('resume after two scene exits whose workflows completed while the session was suspended', () => {
  let tdb: TestDatabase;
  let graph: GraphStore;
  let engine: SessionEngine | undefined;
  const seen: SeenAtEntry[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
    graph = await openGraphStore(tdb.db, { graphStore: 'sql' });
    await seedStory(tdb.db, graph);
  });
  afterAll(async () => {
    await engine?.shutdown();
    await tdb.close();
  });

  it('both results reach the first scene entry, in exit order, and are applied once', async () => {
    // Played with no pipeline running: both exits leave their outbox rows for later.
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, seen));
    const s = await engine.createSession({ storyId: STORY });
    const lighthouseDone = next<{ sceneKey: string }>((fn) => s.on('sceneExited', fn), (e) => e.sceneKey === 'lighthouse');
    for (let i = 1; i <= 5; i++) await play(s, `c-${i}`, `hello ${i}`);
    await lighthouseDone;
    await engine.shutdown(); // suspended (a suspend checkpoint is now the newest)

    // The pipeline runs while the session is suspended: both workflows complete.
    const wf = await openWorkflows({
      config: { amqpUrl: undefined, workflows: { transport: 'in-process', taskerUrl: undefined, localPort: 0, betweenSessionsMs: 3_600_000 } },
      db: tdb.db, graph, logger: silentLogger, backoff: { baseMs: 5, multiplier: 2, maxMs: 50, jitter: 0 },
    });
    const keys = [0, 1].map((n) => `session:${s.id}:scene-exit:${n}`);
    const applied = new Set<string>();
    const both = next<BridgeEvent>((fn) => { wf.bridge.on('event', fn); return () => wf.bridge.off('event', fn); }, (e) => {
      if (e.type === 'deferred.applied' && e.status === 'complete') applied.add(e.workflowKey);
      return keys.every((k) => applied.has(k));
    });
    wf.bridge.wake();
    await both;
    await wf.close();
    const statuses = await tdb.db.query<{ deferred_status: string }>(`SELECT deferred_status FROM checkpoints WHERE session_id = $1 AND checkpoint_type = 'scene_exit' ORDER BY ledger_ts`, [s.id]);
    expect(statuses.rows.map((r) => r.deferred_status)).toEqual(['complete', 'complete']);

    seen.length = 0;
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, seen));
    const resumed = await engine.open(s.id);
    await next<unknown>((fn) => resumed.on('sceneEntered', fn));
    expect(seen.map((x) => [x.sceneKey, x.deferredResults])).toEqual([['summit', 2]]);
    await engine.shutdown(); // flushes the ledger
    // The oracle is the ledger: one DeferredResultApplied fact per workflow, the harbour's first.
    const facts = await tdb.db.query<{ key: string }>(
      `SELECT event_data->>'workflowKey' AS key FROM event_ledger WHERE session_id = $1 AND event_type = 'DeferredResultApplied' ORDER BY narrative_ts`, [s.id]);
    expect(facts.rows.map((r) => r.key)).toEqual(keys);

    // A second resume finds nothing left to apply.
    seen.length = 0;
    engine = newEngine(tdb.db, graph, recordingBehaviour(graph, seen));
    const again = await engine.open(s.id);
    await next<unknown>((fn) => again.on('sceneEntered', fn));
    expect(seen.map((x) => [x.sceneKey, x.deferredResults])).toEqual([['summit', 0]]);
    const count = await tdb.db.query<{ n: string }>(`SELECT count(*) AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'DeferredResultApplied'`, [s.id]);
    expect(Number(count.rows[0]?.n)).toBe(2);
    await engine.shutdown();
  });
});
