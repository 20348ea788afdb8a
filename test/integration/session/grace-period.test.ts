import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNewestCheckpoint } from '../../../src/persistence/checkpoints.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

const MIN = 60_000;

describe.each(DRIVERS)('grace period on a SimulatedClock (%s)', (driver) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await tdb.close();
  });

  const status = async (id: string) =>
    (await tdb.db.query<{ status: string; grace_deadline: Date | null }>('SELECT status, grace_deadline FROM sessions WHERE id = $1', [id])).rows[0];

  it('reconnect at 4:59 resumes instantly with the same warm actor', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('hello');
    const actor = s.handle.actor;
    s.handle.disconnect();
    await s.whenIdle();
    await vi_waitForStatus(() => status(s.id), 'disconnected');
    expect((await status(s.id))?.grace_deadline?.getTime()).toBe(kit.now() + 5 * MIN);
    kit.advance(4 * MIN + 59_000);
    expect(s.handle.lifecycle).toBe('playing');
    s.handle.reconnect();
    expect(s.handle.connection).toBe('connected');
    kit.advance(10 * MIN); // the old deadline has passed: nothing happens
    expect(kit.engine.get(s.id)?.actor).toBe(actor);
    expect(s.handle.lifecycle).toBe('playing');
    const answer = await s.play('still here');
    expect(answer.text).toContain('still here');
    await vi_waitForStatus(() => status(s.id), 'active');
    await kit.shutdown();
  });

  it('at 5:00 the scene exits, a checkpoint is written and the session is suspended in the database', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('hello');
    s.handle.disconnect();
    await s.whenIdle();
    const exited = s.next('sceneExited');
    const suspended = s.next('suspended');
    kit.advance(5 * MIN - 1);
    expect(s.handle.lifecycle).toBe('playing');
    kit.advance(1);
    const exit = await exited;
    expect(exit.reason).toBe('grace_expired');
    await suspended;
    expect((await status(s.id))?.status).toBe('suspended');
    const checkpoint = await loadNewestCheckpoint(tdb.db, s.id);
    expect(checkpoint?.type).toBe('suspend');
    expect(checkpoint?.id).toBe(exit.checkpointId);
    // Children and the session actor are released.
    await Promise.resolve();
    expect(kit.engine.get(s.id)).toBeUndefined();
    expect(s.handle.actor.getSnapshot().children).toEqual({});

    // Reconnecting after suspension: checkpoint + ledger delta, full scene entry, play on.
    const resumed = await kit.open(s.id);
    const entered = await resumed.next('sceneEntered');
    expect(entered.sceneKey).toBe('harbour');
    expect(Object.keys(entered.timings).sort()).toEqual(
      ['buildSensitivityMap', 'computeFrames', 'loadEntityState', 'loadGraphContext', 'loadSceneDefinition', 'warmNarratorContext'],
    );
    const answer = await resumed.play('back again', 'c-back');
    expect(answer.text).toContain('back again');
    expect((await status(s.id))?.status).toBe('active');
    await kit.shutdown();
  });

  it('after a crash while disconnected, resumeInterrupted() recovers the session and still suspends it at the original deadline', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('hello');
    s.handle.disconnect();
    await s.whenIdle();
    await vi_waitForStatus(() => status(s.id), 'disconnected');
    const deadline = kit.now() + 5 * MIN;
    kit.advance(1 * MIN);
    kit.restart();
    const resumed = (await kit.resumeInterrupted()).find((r) => r.id === s.id);
    expect(resumed).toBeDefined();
    await resumed!.whenIdle();
    expect(resumed!.handle.connection).toBe('disconnected');
    expect(resumed!.handle.actor.getSnapshot().context.graceDeadline).toBe(deadline);
    const suspended = resumed!.next('suspended');
    kit.advance(4 * MIN - 1);
    expect(resumed!.handle.lifecycle).toBe('playing');
    kit.advance(1);
    await suspended;
    expect((await status(s.id))?.status).toBe('suspended');
  });

  it('a session restored from a snapshot persisted while disconnected still expires at the original deadline', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('hello');
    s.handle.disconnect();
    await s.whenIdle();
    const deadline = s.handle.actor.getSnapshot().context.graceDeadline;
    kit.advance(2 * MIN);
    const persisted = s.handle.actor.getPersistedSnapshot();
    kit.restart(); // the old engine dies; the snapshot is all that is left of the warm state

    const restored = await kit.open(s.id, { snapshot: persisted });
    expect(restored.handle.connection).toBe('disconnected');
    expect(restored.handle.actor.getSnapshot().context.graceDeadline).toBe(deadline);
    const suspended = restored.next('suspended');
    kit.advance(2 * MIN + 59_000); // 4:59 after the disconnect
    expect(restored.handle.lifecycle).toBe('playing');
    kit.advance(1_000); // 5:00
    await suspended;
    expect(kit.now()).toBe(deadline);
    expect((await status(s.id))?.status).toBe('suspended');
  });
});

/** Polls a database read until it reports `want` (status writes go through the async persistence chain). */
async function vi_waitForStatus(read: () => Promise<{ status: string } | undefined>, want: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await read())?.status === want) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`status never became ${want}`);
}
