import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, type NewEvent } from '../../../src/domain/events.ts';
import { isStorytellerError } from '../../../src/errors.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import {
  caught,
  createSessions,
  installFailingEventTrigger,
  installPoisonTrigger,
  newLedger,
  removeFailingEventTrigger,
  removePoisonTrigger,
  withReader,
} from './ledger-helpers.ts';

const goal = (goalId: string, extra: Partial<Pick<NewEvent, 'idempotencyKey' | 'turn'>> = {}) => event('GoalCompleted', { goalId }, { source: 'storykeeper', ...extra });

async function countRows(t: TestDatabase, sessionId: string, type?: string): Promise<number> {
  return withReader(t, async (reader) => {
    const { rows } = await reader.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND ($2::text IS NULL OR event_type = $2)',
      [sessionId, type ?? null],
    );
    return rows[0]!.n;
  });
}

describe.each(DRIVERS)('asynchronous event writer on %s', (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await t.close();
  });

  it('batches events of many sessions, numbers them after the input, and flush makes them durable', async () => {
    const ledger = newLedger(t.db, { flushMs: 60_000 }); // only flush() writes
    const sessions = await createSessions(t.db, 8);
    const inputs = await Promise.all(sessions.map((sessionId) => ledger.appendInput({ sessionId, clientInputId: 'i', text: 'go', sceneId: null, turn: 1 })));
    const promises = sessions.map((sessionId, s) =>
      ledger.appendEvents(sessionId, [
        event('SpeechAct', { speaker: 'keeper', addressee: 'player', content: `hello ${s}` }, { source: 'character:keeper', turn: 1, inputId: inputs[s]!.id }),
        event('InterpretiveJudgment', {
          id: `j-${s}`, category: 'TrustShift', subject: 'keeper', confidence: 0.7, evidence: [inputs[s]!.id], description: 'warming', source: { kind: 'classifier' }, provisional: false,
        }, { source: 'stage3', turn: 1 }),
        event('TurnCompleted', { inputId: inputs[s]!.id, turn: 1, degraded: [] }, { source: 'engine', turn: 1 }),
      ]),
    );
    expect(ledger.pendingEvents().length).toBe(8);
    expect(await countRows(t, sessions[0]!)).toBe(1);
    await ledger.flush();
    expect(ledger.pendingEvents()).toEqual([]);
    const records = await Promise.all(promises);
    for (const [s, sessionId] of sessions.entries()) {
      expect(records[s]!.map((r) => r.narrativeTs)).toEqual([2, 3, 4]);
      expect(records[s]![1]).toMatchObject({ type: 'InterpretiveJudgment', confidence: 0.7, sessionId });
      expect(await countRows(t, sessionId)).toBe(4);
    }
    const txs = await t.db.query<{ n: number }>(`SELECT count(DISTINCT xmin::text)::int AS n FROM event_ledger WHERE session_id = ANY($1::uuid[]) AND event_type <> 'PlayerInput'`, [sessions]);
    expect(txs.rows[0]!.n).toBe(1);
    await ledger.close();
  });

  it('writes on its own after flushMs, and flush(sessionId) covers just that session', async () => {
    const ledger = newLedger(t.db, { flushMs: 1 });
    const [a, b] = await createSessions(t.db, 2);
    const written = await ledger.appendEvents(a!, [goal('timer')]); // resolves via the timer alone
    expect(written[0]).toMatchObject({ type: 'GoalCompleted', narrativeTs: 1 });
    const lazy = newLedger(t.db, { flushMs: 60_000 });
    void lazy.appendEvents(a!, [goal('a2')]);
    void lazy.appendEvents(b!, [goal('b1')]);
    await lazy.flush(b!);
    expect(await countRows(t, b!)).toBe(1);
    await lazy.close();
    expect(await countRows(t, a!)).toBe(2);
    await ledger.close();
  });

  it('skips events whose idempotencyKey is already in the session (crash re-run writes effects once)', async () => {
    const ledger = newLedger(t.db);
    const [session, other] = await createSessions(t.db, 2);
    const first = await ledger.appendEvents(session!, [goal('g1', { idempotencyKey: 'input:7:goal' }), goal('g2')]);
    const rerun = await ledger.appendEvents(session!, [goal('g1-again', { idempotencyKey: 'input:7:goal' }), goal('g3', { idempotencyKey: 'input:7:other' })]);
    expect(rerun[0]).toMatchObject({ id: first[0]!.id, narrativeTs: first[0]!.narrativeTs, data: { goalId: 'g1' } });
    // Repeated inside one batch, too.
    const sameBatch = await Promise.all([
      ledger.appendEvents(session!, [goal('x', { idempotencyKey: 'k-x' })]),
      ledger.appendEvents(session!, [goal('x', { idempotencyKey: 'k-x' })]),
    ]);
    expect(sameBatch[1]![0]!.id).toBe(sameBatch[0]![0]!.id);
    // Keys are per session.
    const elsewhere = await ledger.appendEvents(other!, [goal('g1', { idempotencyKey: 'input:7:goal' })]);
    expect(elsewhere[0]!.sessionId).toBe(other);
    await ledger.close();
    const keys = await t.db.query<{ idempotency_key: string | null }>('SELECT idempotency_key FROM event_ledger WHERE session_id = $1 ORDER BY narrative_ts', [session]);
    expect(keys.rows.map((r) => r.idempotency_key)).toEqual(['input:7:goal', null, 'input:7:other', 'k-x']);
  });

  it('retries a batch the database failed once; the events still land exactly once', async () => {
    const registry = new Registry();
    const ledger = newLedger(t.db, { flushMs: 60_000, registry });
    const [session] = await createSessions(t.db, 1);
    await installFailingEventTrigger(t.db, 1);
    try {
      const pending = ledger.appendEvents(session!, [goal('a'), goal('b')]);
      await ledger.flush(session);
      expect((await pending).map((r) => r.narrativeTs)).toEqual([expect.any(Number), expect.any(Number)]);
      expect(await countRows(t, session!)).toBe(2);
      const failures = await t.db.query<{ is_called: boolean }>('SELECT is_called FROM ledger_test_failures');
      expect(failures.rows[0]!.is_called).toBe(true); // the failure did happen
      const metrics = await registry.getMetricsAsJSON();
      const value = (name: string, labels: Record<string, string> = {}) =>
        metrics.find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
      expect(value('storyteller_ledger_event_retries_total')).toBe(1);
      expect(value('storyteller_ledger_rows_total', { path: 'events', outcome: 'error' })).toBe(2);
      expect(value('storyteller_ledger_rows_total', { path: 'events', outcome: 'inserted' })).toBe(2);
    } finally {
      await removeFailingEventTrigger(t.db);
      await ledger.close();
    }
  });

  it('keeps a batch that fails every attempt queued, rejects flush, and writes it once the database recovers', async () => {
    const ledger = newLedger(t.db, { flushMs: 60_000, retry: { attempts: 3, baseMs: 1, maxMs: 60_000 } });
    const [session] = await createSessions(t.db, 1);
    await installFailingEventTrigger(t.db, 3);
    try {
      const pending = ledger.appendEvents(session!, [goal('survivor', { idempotencyKey: 'survivor' })]);
      const failed = await caught(ledger.flush(session));
      expect(isStorytellerError(failed, 'LEDGER_WRITE_FAILED')).toBe(true);
      expect((failed as { details: { stillQueued: number } }).details.stillQueued).toBe(1);
      expect(ledger.pendingEvents(session)).toEqual([{ sessionId: session, events: [expect.objectContaining({ idempotencyKey: 'survivor' })] }]);
      expect(await countRows(t, session!)).toBe(0);
      // The trigger has used up its failures: the next flush writes the same events.
      await ledger.flush(session);
      const [record] = await pending;
      expect(record).toMatchObject({ type: 'GoalCompleted', idempotencyKey: 'survivor' });
      expect(await countRows(t, session!)).toBe(1);
    } finally {
      await removeFailingEventTrigger(t.db);
      await ledger.close();
    }
  });

  it('close() reports events it could not write instead of dropping them', async () => {
    const ledger = newLedger(t.db, { flushMs: 60_000 });
    const [session] = await createSessions(t.db, 1);
    await installFailingEventTrigger(t.db, 1_000);
    try {
      const pending = ledger.appendEvents(session!, [goal('lost?')]);
      const closing = await caught(ledger.close());
      expect(isStorytellerError(closing, 'LEDGER_WRITE_FAILED')).toBe(true);
      expect((closing as { details: { unwritten: unknown[] } }).details.unwritten).toEqual([
        { sessionId: session, events: [expect.objectContaining({ type: 'GoalCompleted', data: { goalId: 'lost?' } })] },
      ]);
      expect(isStorytellerError(await caught(pending), 'LEDGER_WRITE_FAILED')).toBe(true);
      expect(isStorytellerError(await caught(() => ledger.appendEvents(session!, [goal('after')])), 'ENGINE_SHUTTING_DOWN')).toBe(true);
    } finally {
      await removeFailingEventTrigger(t.db);
    }
  });

  it('reports a failure of fire-and-forget events at the next flush of their session, once', async () => {
    const ledger = newLedger(t.db, { flushMs: 1 });
    const [session] = await createSessions(t.db, 1);
    const ghost = randomUUID();
    const ignored = ledger.appendEvents(ghost, [goal('nobody')]); // nobody awaits it…
    expect(isStorytellerError(await caught(ignored), 'SESSION_NOT_FOUND')).toBe(true); // (the test peeks)
    await ledger.flush(session); // another session: nothing to report there
    const reported = await caught(ledger.flush(ghost));
    expect(isStorytellerError(reported, 'LEDGER_WRITE_FAILED')).toBe(true);
    expect((reported as { details: { codes: string[] } }).details.codes).toEqual(['SESSION_NOT_FOUND']);
    await ledger.flush(ghost);
    await ledger.close();
    expect(isStorytellerError(await caught(ledger.appendInput({ sessionId: session!, clientInputId: 'late', text: 'x', sceneId: null, turn: 0 })), 'ENGINE_SHUTTING_DOWN')).toBe(true);
  });

  it('writeEvents commits with the caller\'s transaction, or not at all', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    const sceneId = randomUUID();
    const exited = event('SceneExited', { sceneId, sceneKey: 'stair', reason: 'goal', nextSceneKey: 'harbour' }, { source: 'engine', sceneId, idempotencyKey: 'exit:1' });
    await t.db
      .transaction(async (tx) => {
        await ledger.writeEvents(tx, session!, [exited]);
        throw new Error('checkpoint failed');
      })
      .catch(() => undefined);
    expect(await countRows(t, session!)).toBe(0);
    const records = await t.db.transaction((tx) => ledger.writeEvents(tx, session!, [exited, goal('after-exit')]));
    expect(records.map((r) => [r.type, r.narrativeTs])).toEqual([['SceneExited', 1], ['GoalCompleted', 2]]);
    // A re-run of the same exit is a no-op for the keyed event.
    const again = await t.db.transaction((tx) => ledger.writeEvents(tx, session!, [exited]));
    expect(again[0]!.id).toBe(records[0]!.id);
    expect(isStorytellerError(await caught(t.db.transaction((tx) => ledger.writeEvents(tx, randomUUID(), [goal('x')]))), 'SESSION_NOT_FOUND')).toBe(true);
    expect(await countRows(t, session!)).toBe(2);
    await ledger.close();
  });

  it('fails only the offending request of a batch: unknown session, stale epoch, a row the database rejects', async () => {
    const ledger = newLedger(t.db, { flushMs: 60_000 });
    const [good, fenced, poisoned] = await createSessions(t.db, 3);
    await t.db.query('UPDATE sessions SET owner_epoch = 2 WHERE id = $1', [fenced]);
    await installPoisonTrigger(t.db, 'POISONED', '22023');
    try {
      const ok1 = ledger.appendEvents(good!, [goal('one')]);
      const unknown = ledger.appendEvents(randomUUID(), [goal('nobody')]);
      const stale = ledger.appendEvents(fenced!, [goal('stale')], { epoch: 1 });
      const current = ledger.appendEvents(fenced!, [goal('current')], { epoch: 2 });
      const poison = ledger.appendEvents(poisoned!, [goal('POISONED')]);
      const ok2 = ledger.appendEvents(good!, [goal('two')]);
      const flushed = await caught(ledger.flush());
      expect(isStorytellerError(flushed, 'LEDGER_WRITE_FAILED')).toBe(true);
      expect((flushed as { details: { failed: number; codes: string[] } }).details).toMatchObject({ failed: 3 });
      expect((flushed as { details: { codes: string[] } }).details.codes.sort()).toEqual(['LEDGER_FENCED', 'LEDGER_WRITE_FAILED', 'SESSION_NOT_FOUND']);
      expect(isStorytellerError(await caught(unknown), 'SESSION_NOT_FOUND')).toBe(true);
      expect(isStorytellerError(await caught(stale), 'LEDGER_FENCED')).toBe(true);
      expect(isStorytellerError(await caught(poison), 'LEDGER_WRITE_FAILED')).toBe(true);
      expect((await ok1)[0]!.narrativeTs).toBeLessThan((await ok2)[0]!.narrativeTs);
      expect((await current)[0]!.data).toEqual({ goalId: 'current' });
      expect(await countRows(t, good!)).toBe(2);
      expect(await countRows(t, fenced!)).toBe(1);
      expect(await countRows(t, poisoned!)).toBe(0);
    } finally {
      await removePoisonTrigger(t.db);
      await ledger.close();
    }
  });
});
