import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { reconstructTruthSet, emptyTruthSet } from '../../../src/domain/truth-set.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { loadNewestCheckpoint } from '../../../src/persistence/checkpoints.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { ObservedDatabase } from '../../support/observed-database.ts';

describe.each(DRIVERS)('session lifecycle (%s)', (driver) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('acks after the durable append, answers, plays through every scene to the end', async () => {
    const observed = new ObservedDatabase(tdb.db);
    const kit = await TestingKit.create({ db: observed });
    const s = await kit.createSession();
    const order: string[] = [];
    // At the instant each ack is emitted, the statement that appended that input has returned (autocommit: committed).
    const committedAtAck: boolean[] = [];
    s.handle.on('ack', (a) => {
      committedAtAck.push(observed.inputCommitted(a.clientInputId));
      order.push(`ack:${a.clientInputId}`);
    });
    s.handle.on('chunk', () => order.push('chunk'));
    s.handle.on('answer', (a) => order.push(`answer:${a.clientInputId}`));
    const first = await s.play('hello mara');
    expect(first.text).toContain('mara listen');
    expect(first.degraded).toEqual([]);
    expect(order.slice(0, 4)).toEqual(['ack:c-1', 'chunk', 'chunk', 'answer:c-1']);
    // The ack came only after the PlayerInput row was committed; a second connection sees it.
    expect(committedAtAck).toEqual([true]);
    const { rows } = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput'`, [s.id]);
    expect(rows[0]?.n).toBe(1);

    const scenes: string[] = [];
    s.handle.on('sceneEntered', (e) => scenes.push(e.sceneKey));
    const ended = s.next('ended');
    for (let i = 0; i < 7; i++) await s.play(i === 0 ? 'take lamp' : `say ${i}`);
    await ended;
    expect(committedAtAck).toEqual(Array.from({ length: 8 }, () => true));
    expect(scenes).toEqual(['lighthouse', 'summit']);
    const status = await tdb.db.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [s.id]);
    expect(status.rows[0]?.status).toBe('ended');

    const ledger = new Ledger(tdb.db, { maxPayloadBytes: 65536, maxBatch: 64, flushMs: 1 });
    const all = await ledger.eventsSince(s.id, 0);
    const inputs = all.filter((r) => r.type === 'PlayerInput');
    const completed = all.filter((r) => r.type === 'TurnCompleted');
    expect(inputs).toHaveLength(8);
    expect(completed).toHaveLength(8);
    expect(all.filter((r) => r.type === 'SceneEntered')).toHaveLength(3);
    expect(all.filter((r) => r.type === 'SceneExited')).toHaveLength(3);
    const outbox = await tdb.db.query<{ idempotency_key: string }>('SELECT idempotency_key FROM outbox WHERE session_id = $1 ORDER BY id', [s.id]);
    expect(outbox.rows.map((r) => r.idempotency_key)).toEqual([0, 1, 2].map((n) => `session:${s.id}:scene-exit:${n}`));
    const checkpoint = await loadNewestCheckpoint(tdb.db, s.id);
    expect(checkpoint?.type).toBe('scene_exit');
    // The checkpoint's truth set is the ledger's.
    expect(checkpoint?.truthSet).toEqual(reconstructTruthSet(emptyTruthSet(), all));
    await ledger.close();
  });
});
