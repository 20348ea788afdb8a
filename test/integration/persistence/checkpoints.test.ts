import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { listCheckpoints, loadNewestCheckpoint, setDeferredStatus, writeCheckpoint, type NewCheckpoint } from '../../../src/persistence/checkpoints.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { caught, createSessions } from './ledger-helpers.ts';

function checkpoint(sessionId: string, overrides: Partial<NewCheckpoint> = {}): NewCheckpoint {
  return {
    sessionId,
    sceneId: randomUUID(),
    turn: 3,
    type: 'scene_exit',
    entityState: { keeper: { mood: 'wary', tensor: [0.1, 0.2] } },
    truthSet: { persistent: [['holds', 'player', 'lamp']], lastNarrativeTs: 12 },
    narrativePosition: { scene: 'the-stair', posteriors: { harbour: 0.4 } },
    worldState: { tide: 'low', hour: 21 },
    ledgerTs: 12,
    ...overrides,
  };
}

describe.each(DRIVERS)('checkpoints on %s', (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await t.close();
  });

  it('writes a checkpoint and loads it back intact', async () => {
    const [session] = await createSessions(t.db, 1);
    const cp = checkpoint(session!, { sessionState: { graceDeadline: '2030-01-01T00:05:00.000Z' } });
    const written = await writeCheckpoint(t.db, cp);
    expect(written).toMatchObject({ ...cp, deferredStatus: 'pending', deferredResult: null });
    expect(written.createdAt).toBeInstanceOf(Date);
    expect(await loadNewestCheckpoint(t.db, session!)).toEqual(written);
  });

  it('loads the newest: highest ledger position, then the latest written', async () => {
    const [session] = await createSessions(t.db, 1);
    expect(await loadNewestCheckpoint(t.db, session!)).toBeNull();
    await writeCheckpoint(t.db, checkpoint(session!, { ledgerTs: 5, type: 'autosave' }));
    const atTwenty = await writeCheckpoint(t.db, checkpoint(session!, { ledgerTs: 20, type: 'scene_exit' }));
    await writeCheckpoint(t.db, checkpoint(session!, { ledgerTs: 9, type: 'manual_save' }));
    expect((await loadNewestCheckpoint(t.db, session!))?.id).toBe(atTwenty.id);
    // Same ledger position, written later in the same transaction: the later one wins.
    const later = await t.db.transaction(async (tx) => {
      await writeCheckpoint(tx, checkpoint(session!, { ledgerTs: 30, type: 'autosave' }));
      return writeCheckpoint(tx, checkpoint(session!, { ledgerTs: 30, type: 'suspend' }));
    });
    expect(await loadNewestCheckpoint(t.db, session!)).toMatchObject({ id: later.id, type: 'suspend' });
    expect((await listCheckpoints(t.db, session!)).map((c) => c.ledgerTs)).toEqual([30, 30, 20, 9, 5]);
  });

  it('is written inside a transaction and rolled back with it', async () => {
    const [session] = await createSessions(t.db, 1);
    await t.db
      .transaction(async (tx) => {
        await writeCheckpoint(tx, checkpoint(session!));
        throw new Error('scene exit failed later');
      })
      .catch(() => undefined);
    expect(await loadNewestCheckpoint(t.db, session!)).toBeNull();
  });

  it('tracks deferred status through pending, processing, complete and failed', async () => {
    const [session] = await createSessions(t.db, 1);
    const cp = await writeCheckpoint(t.db, checkpoint(session!));
    await setDeferredStatus(t.db, cp.id, 'processing');
    expect(await loadNewestCheckpoint(t.db, session!)).toMatchObject({ deferredStatus: 'processing', deferredResult: null });
    await setDeferredStatus(t.db, cp.id, 'complete', { effects: [{ kind: 'edge', delta: 0.1 }] });
    expect(await loadNewestCheckpoint(t.db, session!)).toMatchObject({ deferredStatus: 'complete', deferredResult: { effects: [{ kind: 'edge', delta: 0.1 }] } });
    await setDeferredStatus(t.db, cp.id, 'failed');
    expect(await loadNewestCheckpoint(t.db, session!)).toMatchObject({ deferredStatus: 'failed', deferredResult: { effects: [{ kind: 'edge', delta: 0.1 }] } });
    expect(isStorytellerError(await caught(setDeferredStatus(t.db, randomUUID(), 'complete')), 'CHECKPOINT_NOT_FOUND')).toBe(true);
    expect(isStorytellerError(await caught(setDeferredStatus(t.db, cp.id, 'done' as never)), 'CHECKPOINT_INVALID')).toBe(true);
  });

  it('refuses invalid checkpoints with the failing path and writes nothing', async () => {
    const [session] = await createSessions(t.db, 1);
    const badType = await caught(writeCheckpoint(t.db, checkpoint(session!, { type: 'snapshot' as never })));
    expect(isStorytellerError(badType, 'CHECKPOINT_INVALID')).toBe(true);
    expect((badType as { details: { path: unknown[] } }).details.path).toEqual(['type']);
    const notJson = await caught(writeCheckpoint(t.db, checkpoint(session!, { worldState: { tide: undefined, at: () => 1 } })));
    expect(isStorytellerError(notJson, 'CHECKPOINT_INVALID')).toBe(true);
    expect(isStorytellerError(await caught(writeCheckpoint(t.db, checkpoint(session!, { turn: -1 }))), 'CHECKPOINT_INVALID')).toBe(true);
    expect(isStorytellerError(await caught(writeCheckpoint(t.db, checkpoint(randomUUID()))), 'SESSION_NOT_FOUND')).toBe(true);
    expect(await listCheckpoints(t.db, session!)).toEqual([]);
  });

  it('validates rows read back', async () => {
    const [session] = await createSessions(t.db, 1);
    const cp = await writeCheckpoint(t.db, checkpoint(session!));
    await t.db.query('UPDATE checkpoints SET turn = -1 WHERE id = $1', [cp.id]);
    expect(isStorytellerError(await caught(loadNewestCheckpoint(t.db, session!)), 'STORED_DATA_INVALID')).toBe(true);
  });
});
