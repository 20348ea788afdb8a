import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInspector, type SessionInspector } from '../../../src/engine/inspector.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

describe('Stately inspector over a real local WebSocket', () => {
  let tdb: TestDatabase;
  let inspector: SessionInspector;
  const port = 40_000 + Math.floor(Math.random() * 20_000);

  beforeAll(async () => {
    tdb = await createTestDatabase('pglite');
    inspector = startInspector({ port });
  });
  afterAll(async () => {
    inspector.stop();
    await tdb.close();
  });

  it("streams a session's snapshots (with its statechart) to a local receiver (no sky inspector)", async () => {
    expect(inspector.wsUrl).toBe(`ws://127.0.0.1:${port}`);
    const receiver = createWebSocketReceiver({ server: inspector.wsUrl });
    const kit = await TestingKit.create({ db: tdb.db, inspect: inspector.inspect });
    const s = await kit.createSession();
    const seen = new Promise<StatelyInspectionEvent>((resolve) => {
      receiver.subscribe((event) => {
        const snapshot = (event as { snapshot?: { context?: { sessionId?: string; turn?: number } } }).snapshot;
        if (event.type === '@xstate.snapshot' && snapshot?.context?.sessionId === s.id && snapshot.context.turn === 1) resolve(event);
      });
    });
    await s.play('hello inspector');
    const event = await seen;
    expect(event.rootId).toBe(event.sessionId); // the session root actor itself
    // A second session: the receiver sees its root and every child register live —
    // persistence, stage1..4, storykeeper, world, reconciler, narrator, character:mara.
    const registered = new Promise<number>((resolve) => {
      const ids = new Set<string>();
      receiver.subscribe((e) => {
        if (e.type !== '@xstate.actor') return;
        ids.add(e.sessionId);
        if (ids.size >= 11) resolve(ids.size);
      });
    });
    const s2 = await kit.createSession();
    await s2.play('second');
    expect(await registered).toBeGreaterThanOrEqual(11);
    await kit.shutdown();
  });
});
