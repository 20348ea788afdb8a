import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

describe('session failures, refusals and ownership (pg)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('an input the ledger refuses is rejected with its code and never acked', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    const rejected = s.next('inputRejected');
    s.send('x'.repeat(5_000), 'c-big');
    expect((await rejected).error.code).toMatch(/^LEDGER_PAYLOAD_/);
    expect(kit.acks.filter((a) => a.clientInputId === 'c-big')).toEqual([]);
    expect((await s.play('small')).text).toContain('small');
    await kit.shutdown();
  });

  it('a scene that cannot be loaded fails the session (typed error), which is released and refuses input', async () => {
    const kit = await TestingKit.create({ db: tdb.db, behaviour: createMinimalBehaviour({ faults: { loadSceneDefinition: 'throw' } }) });
    const s = await kit.createSession();
    const failed = await s.next('failed');
    expect(failed.error.code).toBe('SCENE_NOT_FOUND');
    await Promise.resolve();
    expect(kit.engine.get(s.id)).toBeUndefined();
    expect(() => s.handle.input('c-late', 'hello?')).toThrow(/not running here/);
  });

  it('losing the database holds the session (nothing more is acked); a new engine recovers everything that was acked', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('hello');
    await s.whenIdle();
    const acked = s.next('ack');
    s.send('take lamp', 'c-2');
    await acked; // durable before the outage
    kit.loseDatabase(); // the turn's event write cannot complete; the ledger writer keeps retrying
    s.send('look around', 'c-3'); // not durable, so never acked by this engine
    kit.restart();
    const recovered = await kit.open(s.id);
    await recovered.whenIdle();
    expect(kit.acks.filter((a) => a.clientInputId === 'c-3')).toEqual([]);
    // The client retransmits what was never acked.
    expect((await recovered.play('look around', 'c-3')).text).toContain('look around');
    await recovered.whenIdle();
    const { rows } = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted'`, [s.id]);
    expect(rows[0]?.n).toBe(3);
    await kit.shutdown();
  });

  /** Engine A plays a turn, then engine B takes the session over (a newer ownership epoch). */
  const twoOwners = async () => {
    const a = await TestingKit.create({ db: tdb.db });
    const b = await TestingKit.create({ db: tdb.db });
    const sa = await a.createSession();
    await sa.play('hello');
    await sa.whenIdle();
    const sb = await b.open(sa.id);
    await sb.whenIdle();
    return { a, b, sa, sb };
  };

  it('a second engine taking the session fences the first one (ownership epoch on every input append)', async () => {
    const { b, sa, sb } = await twoOwners();
    const rejected = sa.next('inputRejected');
    sa.send('from the stale owner', 'c-stale');
    expect((await rejected).error.code).toBe('LEDGER_FENCED');
    // Any write of the stale owner is refused; the stale actor fails rather than diverge.
    const failed = sa.next('failed');
    sa.handle.save();
    expect((await failed).error.code).toBe('LEDGER_FENCED');
    expect((await sb.play('from the new owner', 'c-new-owner')).text).toContain('new owner');
    await b.shutdown();
  });

  it("a stale owner's connection-status write is fenced too: it cannot mark the new owner's session disconnected", async () => {
    const { b, sa, sb } = await twoOwners();
    const failed = sa.next('failed');
    sa.handle.disconnect(); // the stale owner's socket drops
    expect((await failed).error.code).toBe('LEDGER_FENCED');
    const { rows } = await tdb.db.query<{ status: string; grace_deadline: Date | null }>('SELECT status, grace_deadline FROM sessions WHERE id = $1', [sa.id]);
    expect(rows[0]).toEqual({ status: 'active', grace_deadline: null });
    expect((await sb.play('still here', 'c-b')).text).toContain('still here');
    await b.shutdown();
  });

  it('a reconnect racing the grace expiry does not stop the suspension; the client then reopens', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('hello');
    await s.whenIdle();
    s.handle.disconnect();
    const suspended = s.next('suspended');
    kit.advance(5 * 60_000);
    s.handle.reconnect(); // too late: the scene exit has begun
    expect(s.handle.connection).toBe('connected');
    await suspended;
    const reopened = await kit.open(s.id);
    expect((await reopened.play('back')).text).toContain('back');
    await kit.shutdown();
  });
});
