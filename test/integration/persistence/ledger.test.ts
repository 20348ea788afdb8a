import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event } from '../../../src/domain/events.ts';
import { isStorytellerError } from '../../../src/errors.ts';
import type { AppendedInput, AppendInputRequest } from '../../../src/persistence/ledger.ts';
import { migrate } from '../../../src/persistence/migrations.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import { PgliteDatabase } from '../../../src/persistence/pglite-database.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { caught, createSessions, newLedger } from './ledger-helpers.ts';

describe.each(DRIVERS)('ledger on %s', (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await t.close();
  });

  it('appendInput returns the ledger id, the next narrative_ts and the validated record', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    const sceneId = randomUUID();
    const first = await ledger.appendInput({ sessionId: session!, clientInputId: 'c-1', text: 'I light the lamp.', sceneId, turn: 0 });
    const second = await ledger.appendInput({ sessionId: session!, clientInputId: 'c-2', text: 'I climb the stair.', sceneId, turn: 1 });
    await ledger.close();
    expect(first).toMatchObject({ narrativeTs: 1, duplicate: false });
    expect(second).toMatchObject({ narrativeTs: 2, duplicate: false });
    expect(second.id).toBeGreaterThan(first.id);
    expect(first.record).toMatchObject({
      id: first.id,
      type: 'PlayerInput',
      sessionId: session,
      sceneId,
      turn: 0,
      source: 'player',
      narrativeTs: 1,
      clientInputId: 'c-1',
      data: { clientInputId: 'c-1', text: 'I light the lamp.' },
    });
    expect(first.record.createdAt).toBeInstanceOf(Date);
    const stored = await t.db.query<{ last_narrative_ts: number }>('SELECT last_narrative_ts FROM sessions WHERE id = $1', [session]);
    expect(stored.rows[0]!.last_narrative_ts).toBe(2);
  });

  it('returns the original row for a retransmitted clientInputId, never a second one', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    const original = await ledger.appendInput({ sessionId: session!, clientInputId: 'again', text: 'first text', sceneId: null, turn: 3 });
    await ledger.appendInput({ sessionId: session!, clientInputId: 'other', text: 'in between', sceneId: null, turn: 4 });
    const repeat = await ledger.appendInput({ sessionId: session!, clientInputId: 'again', text: 'edited on the client', sceneId: null, turn: 9 });
    await ledger.close();
    expect(repeat).toMatchObject({ id: original.id, narrativeTs: original.narrativeTs, duplicate: true });
    expect(repeat.record.data).toEqual({ clientInputId: 'again', text: 'first text' });
    expect(repeat.record.turn).toBe(3);
    const rows = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND client_input_id = 'again'`, [session]);
    expect(rows.rows[0]!.n).toBe(1);
    // The same client id in another session is a different input.
    const [other] = await createSessions(t.db, 1);
    const elsewhere = await newLedger(t.db).appendInput({ sessionId: other!, clientInputId: 'again', text: 'x', sceneId: null, turn: 0 });
    expect(elsewhere.duplicate).toBe(false);
  });

  it('reads by narrative_ts, type and scene, and finds unanswered inputs', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    const sceneA = randomUUID();
    const sceneB = randomUUID();
    const in1 = await ledger.appendInput({ sessionId: session!, clientInputId: 'r1', text: 'take the lamp', sceneId: sceneA, turn: 1 });
    void ledger.appendEvents(session!, [
      event('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' }, { source: 'stage2', sceneId: sceneA, turn: 1, inputId: in1.id }),
      event('TurnCompleted', { inputId: in1.id, turn: 1, degraded: [] }, { source: 'engine', sceneId: sceneA, turn: 1 }),
    ]);
    await ledger.flush(session);
    const in2 = await ledger.appendInput({ sessionId: session!, clientInputId: 'r2', text: 'go down', sceneId: sceneB, turn: 2 });
    const in3 = await ledger.appendInput({ sessionId: session!, clientInputId: 'r3', text: 'wait', sceneId: sceneB, turn: 3 });
    await ledger.appendEvents(session!, [event('TurnCompleted', { inputId: in3.id, turn: 3, degraded: ['narrator'] }, { source: 'engine', sceneId: sceneB, turn: 3 })]);

    const all = await ledger.eventsSince(session!, 0);
    expect(all.map((r) => r.type)).toEqual(['PlayerInput', 'ActionPerformed', 'TurnCompleted', 'PlayerInput', 'PlayerInput', 'TurnCompleted']);
    expect(all.map((r) => r.narrativeTs)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await ledger.eventsSince(session!, 3)).map((r) => r.id)).toEqual(all.slice(3).map((r) => r.id));
    const turnCompleted = await ledger.eventsByType(session!, 'TurnCompleted');
    expect(turnCompleted.map((r) => r.data)).toEqual([
      { inputId: in1.id, turn: 1, degraded: [] },
      { inputId: in3.id, turn: 3, degraded: ['narrator'] },
    ]);
    // The TurnCompleted's inputId is mirrored into the input_id column.
    expect(turnCompleted.map((r) => r.inputId)).toEqual([in1.id, in3.id]);
    expect((await ledger.eventsByScene(session!, sceneA)).map((r) => r.type)).toEqual(['PlayerInput', 'ActionPerformed', 'TurnCompleted']);
    expect((await ledger.eventsByScene(session!, sceneB)).map((r) => r.narrativeTs)).toEqual([4, 5, 6]);
    expect((await ledger.unansweredInputs(session!, 0)).map((r) => r.id)).toEqual([in2.id]);
    expect(await ledger.unansweredInputs(session!, in2.narrativeTs)).toEqual([]);
    expect(await ledger.eventsSince(randomUUID(), 0)).toEqual([]);
    expect(await ledger.eventsSince('not-a-session', 0)).toEqual([]);
    await ledger.close();
  });

  it('returns records equal to the same rows read back', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    const sceneId = randomUUID();
    const input = await ledger.appendInput({ sessionId: session!, clientInputId: 'eq', text: 'Ask about the lamp.', sceneId, turn: 2 });
    const written = await ledger.appendEvents(session!, [
      event('InterpretiveJudgment', {
        id: 'j', category: 'IntentInferred', subject: 'keeper', confidence: 0.123456789, evidence: [input.id, 'in-turn'], description: 'curious', source: { kind: 'classifier', model: 'm' },
      } as never, { source: 'stage3', sceneId, turn: 2, inputId: input.id, idempotencyKey: 'eq:j' }),
      event('WorldStateChanged', { key: 'tide', old: null, new: { level: 0.5 } }, { source: 'world', sceneId, turn: 2 }),
    ]);
    const readBack = await ledger.eventsSince(session!, 0);
    expect(readBack).toEqual([input.record, ...written]);
    expect(written[0]!.data).toMatchObject({ provisional: false });
    await ledger.close();
  });

  it('refuses to return a stored row that fails its schema', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    await ledger.appendInput({ sessionId: session!, clientInputId: 'ok', text: 'fine', sceneId: null, turn: 0 });
    await t.db.query(
      `INSERT INTO event_ledger (session_id, event_type, event_data, source, narrative_ts, session_started_at)
       VALUES ($1, 'GoalCompleted', '{"goal": 7}'::jsonb, 'hand-edited', 50, (SELECT created_at FROM sessions WHERE id = $1))`,
      [session],
    );
    const bad = await caught(ledger.eventsSince(session!, 0));
    expect(isStorytellerError(bad, 'STORED_DATA_INVALID')).toBe(true);
    expect((bad as { details: { path: unknown[] } }).details.path).toEqual(['goalId']);
    await t.db.query(`INSERT INTO event_ledger (session_id, event_type, event_data, source, narrative_ts, session_started_at)
       VALUES ($1, 'Teleported', '{}'::jsonb, 'x', 51, (SELECT created_at FROM sessions WHERE id = $1))`, [session]);
    expect(isStorytellerError(await caught(ledger.eventsByType(session!, 'Teleported' as never)), 'STORED_DATA_INVALID')).toBe(true);
    await ledger.close();
  });
});

describe('acknowledged input survives an abrupt stop', () => {
  it('pg: rows acked by appendInput are read by a new pool after pool.end() without any flush', async () => {
    const t = await createTestDatabase('pg');
    const sessions = await createSessions(t.db, 10);
    const ledger = newLedger(t.db);
    const acked = await Promise.all(
      Array.from({ length: 120 }, (_, i) => ledger.appendInput({ sessionId: sessions[i % 10]!, clientInputId: `k-${i}`, text: `t${i}`, sceneId: null, turn: i })),
    );
    // Events queued but not flushed are not acknowledged and may be lost: only inputs are promised.
    const queued = ledger.appendEvents(sessions[0]!, [event('GoalCompleted', { goalId: 'g' }, { source: 'storykeeper' })]);
    await (t.db as PgDatabase).pool.end(); // no ledger.close(), no flush
    const fresh = new PgDatabase({ connectionString: t.url! });
    try {
      // …and the ledger says so rather than dropping them silently.
      const closing = await caught(ledger.close());
      expect(isStorytellerError(closing, 'LEDGER_WRITE_FAILED')).toBe(true);
      expect((closing as { details: { unwritten: unknown[] } }).details.unwritten).toEqual([
        { sessionId: sessions[0], events: [expect.objectContaining({ type: 'GoalCompleted', data: { goalId: 'g' } })] },
      ]);
      expect(isStorytellerError(await caught(queued), 'LEDGER_WRITE_FAILED')).toBe(true);
      const { rows } = await fresh.query<{ id: number; narrative_ts: number }>(`SELECT id, narrative_ts FROM event_ledger WHERE event_type = 'PlayerInput' ORDER BY id`);
      expect(rows.map((r) => r.id)).toEqual(acked.map((a) => a.id).sort((a, b) => a - b));
      const reread = await newLedger(fresh).eventsByType(sessions[3]!, 'PlayerInput');
      expect(reread.map((r) => r.narrativeTs)).toEqual(Array.from({ length: 12 }, (_, k) => k + 1));
    } finally {
      await fresh.close();
    }
  });

  it('pg: a connection dying mid-batch loses no acked input, fails only that batch, and retransmission is safe', async () => {
    const t = await createTestDatabase('pg');
    const sessions = await createSessions(t.db, 20);
    // The backend kills itself while inserting the first 'kill-7' row: the batch dies before COMMIT.
    await t.db.exec(`
      CREATE SEQUENCE ledger_test_kill;
      CREATE FUNCTION ledger_test_kill() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.client_input_id = 'kill-7' AND nextval('ledger_test_kill') = 1 THEN
          PERFORM pg_terminate_backend(pg_backend_pid());
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER ledger_test_kill BEFORE INSERT ON event_ledger FOR EACH ROW EXECUTE FUNCTION ledger_test_kill();`);
    const ledger = newLedger(t.db);
    const acked = new Map<string, AppendedInput>();
    const failed: Array<{ request: AppendInputRequest; error: unknown }> = [];
    try {
      await Promise.all(
        sessions.map(async (sessionId) => {
          for (let k = 0; k < 15; k += 1) {
            const request = { sessionId, clientInputId: `kill-${k}`, text: `t${k}`, sceneId: null, turn: k };
            try {
              acked.set(`${sessionId}/${request.clientInputId}`, await ledger.appendInput(request));
            } catch (error) {
              failed.push({ request, error });
            }
          }
        }),
      );
      expect(failed.length).toBeGreaterThan(0);
      expect(acked.size + failed.length).toBe(300);
      for (const { error } of failed) expect(isStorytellerError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
      // The outcome of a failed append is unknown to the client: it retransmits with the same id.
      for (const { request } of failed) {
        const again = await ledger.appendInput(request);
        expect(again.duplicate).toBe(false); // this batch never committed
        acked.set(`${request.sessionId}/${request.clientInputId}`, again);
      }
      expect((await ledger.appendInput({ sessionId: sessions[0]!, clientInputId: 'kill-3', text: 't3', sceneId: null, turn: 3 })).duplicate).toBe(true);
      await ledger.close();
      const fresh = new PgDatabase({ connectionString: t.url! });
      try {
        const { rows } = await fresh.query<{ id: number; session_id: string; client_input_id: string }>('SELECT id, session_id, client_input_id FROM event_ledger');
        expect(rows).toHaveLength(300);
        const stored = new Map(rows.map((r) => [`${r.session_id}/${r.client_input_id}`, r.id]));
        for (const [key, a] of acked) expect(stored.get(key)).toBe(a.id);
      } finally {
        await fresh.close();
      }
    } finally {
      await t.close().catch(() => undefined);
    }
  });

  it('pglite: rows acked by appendInput are there after the file database is closed and reopened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-crash-'));
    try {
      const db = await PgliteDatabase.open(dir);
      await migrate(db);
      const sessions = await createSessions(db, 5);
      const ledger = newLedger(db);
      const acked = await Promise.all(
        Array.from({ length: 40 }, (_, i) => ledger.appendInput({ sessionId: sessions[i % 5]!, clientInputId: `k-${i}`, text: `t${i}`, sceneId: null, turn: i })),
      );
      await db.close(); // no ledger.close()
      const reopened = await PgliteDatabase.open(dir);
      try {
        const { rows } = await reopened.query<{ id: number }>(`SELECT id FROM event_ledger ORDER BY id`);
        expect(rows.map((r) => r.id)).toEqual(acked.map((a) => a.id).sort((a, b) => a - b));
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
