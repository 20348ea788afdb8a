import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { event } from '../../../src/domain/events.ts';
import { isStorytellerError } from '../../../src/errors.ts';
import { PgDatabase } from '../../../src/persistence/pg-database.ts';
import type { AppendedInput } from '../../../src/persistence/ledger.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { caught, createSessions, installPoisonTrigger, newLedger, removePoisonTrigger, withReader } from './ledger-helpers.ts';

interface StoredInput {
  id: number;
  session_id: string;
  narrative_ts: number;
  client_input_id: string;
  tx: string;
}

describe.each(DRIVERS)('group commit of player input on %s', (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await t.close();
  });

  it('commits hundreds of concurrent appends from many sessions in one transaction, ordered per session', async () => {
    const registry = new Registry();
    const ledger = newLedger(t.db, { registry });
    const sessions = await createSessions(t.db, 30);
    const calls = Array.from({ length: 300 }, (_, i) => ({ sessionId: sessions[i % 30]!, clientInputId: `c-${i}`, text: `input ${i}` }));
    const results = await Promise.all(calls.map((c) => ledger.appendInput({ ...c, sceneId: null, turn: 1 })));
    await ledger.close();

    // One round: every caller arrived before the first write started.
    expect(ledger.inputStats).toMatchObject({ batches: 1, requests: 300, largestBatch: 300 });
    const batchRows = (await registry.getMetricsAsJSON()).find((m) => m.name === 'storyteller_ledger_batch_rows')!;
    expect(batchRows.values.find((v) => (v as { metricName?: string }).metricName === 'storyteller_ledger_batch_rows_sum')?.value).toBe(300);
    expect(batchRows.values.find((v) => (v as { metricName?: string }).metricName === 'storyteller_ledger_batch_rows_count')?.value).toBe(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(300);
    expect(results.every((r) => !r.duplicate)).toBe(true);

    const stored = await withReader(t, async (reader) =>
      (
        await reader.query<StoredInput>(
          `SELECT id, session_id, narrative_ts, client_input_id, xmin::text AS tx FROM event_ledger
           WHERE session_id = ANY($1::uuid[]) ORDER BY id`,
          [sessions],
        )
      ).rows,
    );
    expect(stored).toHaveLength(300);
    expect(new Set(stored.map((r) => r.tx)).size).toBe(1);
    const byClientId = new Map(stored.map((r) => [r.client_input_id, r]));
    for (const [i, call] of calls.entries()) {
      const row = byClientId.get(call.clientInputId)!;
      expect(row).toMatchObject({ id: results[i]!.id, narrative_ts: results[i]!.narrativeTs, session_id: call.sessionId });
    }
    for (const session of sessions) {
      const mine = results.filter((_, i) => calls[i]!.sessionId === session);
      expect(mine.map((r) => r.narrativeTs)).toEqual(Array.from({ length: 10 }, (_, k) => k + 1));
      expect(isStrictlyIncreasing(mine.map((r) => r.id))).toBe(true);
    }
    const counters = await t.db.query<{ last_narrative_ts: number }>('SELECT last_narrative_ts FROM sessions WHERE id = ANY($1::uuid[])', [sessions]);
    expect(counters.rows.every((r) => r.last_narrative_ts === 10)).toBe(true);
  });

  it('caps batches at maxBatch and keeps each session ordered across batches', async () => {
    const ledger = newLedger(t.db, { maxBatch: 64 });
    const sessions = await createSessions(t.db, 7);
    const calls = Array.from({ length: 300 }, (_, i) => ({ sessionId: sessions[i % 7]!, clientInputId: `m-${i}`, text: `input ${i}`, sceneId: null, turn: null }));
    const results = await Promise.all(calls.map((c) => ledger.appendInput(c)));
    await ledger.close();
    expect(ledger.inputStats).toMatchObject({ batches: 5, requests: 300, largestBatch: 64 });
    const txs = await t.db.query<{ n: number }>('SELECT count(DISTINCT xmin::text)::int AS n FROM event_ledger WHERE session_id = ANY($1::uuid[])', [sessions]);
    expect(txs.rows[0]!.n).toBe(5);
    for (const session of sessions) {
      const mine = results.filter((_, i) => calls[i]!.sessionId === session);
      expect(isStrictlyIncreasing(mine.map((r) => r.id))).toBe(true);
      expect(isStrictlyIncreasing(mine.map((r) => r.narrativeTs))).toBe(true);
    }
  });

  it('batches naturally while commits are in flight: sequential clients, all durable, in order', async () => {
    const ledger = newLedger(t.db);
    const sessions = await createSessions(t.db, 25);
    const perSession = await Promise.all(
      sessions.map(async (sessionId) => {
        const mine: AppendedInput[] = [];
        for (let k = 0; k < 12; k += 1) mine.push(await ledger.appendInput({ sessionId, clientInputId: `s-${k}`, text: `turn ${k}`, sceneId: null, turn: k }));
        return mine;
      }),
    );
    await ledger.close();
    expect(ledger.inputStats.requests).toBe(300);
    expect(ledger.inputStats.batches).toBeLessThan(300);
    expect(ledger.inputStats.largestBatch).toBeGreaterThan(1);
    const stored = await withReader(t, async (reader) =>
      (await reader.query<StoredInput>('SELECT id, session_id, narrative_ts, client_input_id, xmin::text AS tx FROM event_ledger WHERE session_id = ANY($1::uuid[]) ORDER BY session_id, narrative_ts', [sessions])).rows,
    );
    expect(stored).toHaveLength(300);
    sessions.forEach((sessionId, s) => {
      const mine = perSession[s]!;
      expect(mine.map((r) => r.narrativeTs)).toEqual(Array.from({ length: 12 }, (_, k) => k + 1));
      expect(isStrictlyIncreasing(mine.map((r) => r.id))).toBe(true);
      expect(stored.filter((r) => r.session_id === sessionId).map((r) => r.client_input_id)).toEqual(Array.from({ length: 12 }, (_, k) => `s-${k}`));
    });
  });

  it('fails only the bad rows of a batch: unknown session, stale epoch, a row the database rejects', async () => {
    const ledger = newLedger(t.db);
    const sessions = await createSessions(t.db, 5);
    await t.db.query('UPDATE sessions SET owner_epoch = 4 WHERE id = $1', [sessions[0]]);
    await installPoisonTrigger(t.db, 'POISON');
    try {
      const good = Array.from({ length: 40 }, (_, i) => ({ sessionId: sessions[i % 5]!, clientInputId: `g-${i}`, text: `fine ${i}`, sceneId: null, turn: 2 }));
      const bad = [
        { sessionId: randomUUID(), clientInputId: 'b-unknown', text: 'nobody', sceneId: null, turn: 2 },
        { sessionId: sessions[0]!, clientInputId: 'b-fenced', text: 'stale owner', sceneId: null, turn: 2, epoch: 3 },
        { sessionId: sessions[1]!, clientInputId: 'b-poison', text: 'POISON', sceneId: null, turn: 2 },
      ];
      const requests = [...good.slice(0, 10), bad[0]!, ...good.slice(10, 20), bad[1]!, ...good.slice(20, 30), bad[2]!, ...good.slice(30)];
      const settled = await Promise.allSettled(requests.map((r) => ledger.appendInput(r)));
      await ledger.close();
      const errorOf = (clientInputId: string) => {
        const s = settled[requests.findIndex((r) => r.clientInputId === clientInputId)]!;
        return s.status === 'rejected' ? s.reason : undefined;
      };
      expect(isStorytellerError(errorOf('b-unknown'), 'SESSION_NOT_FOUND')).toBe(true);
      expect(isStorytellerError(errorOf('b-fenced'), 'LEDGER_FENCED')).toBe(true);
      expect(isStorytellerError(errorOf('b-poison'), 'LEDGER_WRITE_FAILED')).toBe(true);
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(40);
      const stored = await withReader(t, async (reader) =>
        (await reader.query<{ client_input_id: string }>('SELECT client_input_id FROM event_ledger WHERE session_id = ANY($1::uuid[]) ORDER BY id', [sessions])).rows,
      );
      expect(stored.map((r) => r.client_input_id).sort()).toEqual(good.map((g) => g.clientInputId).sort());
      // Per session, narrative_ts still strictly increasing in call order after the fallback path.
      for (const session of sessions) {
        const ts = settled
          .map((s, i) => ({ s, r: requests[i]! }))
          .filter(({ s, r }) => r.sessionId === session && s.status === 'fulfilled')
          .map(({ s }) => (s as PromiseFulfilledResult<AppendedInput>).value.narrativeTs);
        expect(isStrictlyIncreasing(ts)).toBe(true);
      }
    } finally {
      await removePoisonTrigger(t.db);
    }
  });

  it('two engines (two ledgers, two pools) writing the same sessions interleave without loss, deadlock fallback or reordering', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const second = driver === 'pg' ? new PgDatabase({ connectionString: t.url!, maxConnections: 4 }) : t.db;
    const sessions = await createSessions(t.db, 40);
    const engines = [newLedger(t.db, { logger }), newLedger(second, { logger })];
    try {
      const calls: Array<Promise<AppendedInput>> = [];
      const order: Array<{ engine: number; sessionId: string }> = [];
      for (let round = 0; round < 5; round += 1) {
        // Opposite session orders in the two engines, events interleaved: the lock-order worst case.
        for (const [engine, list] of [[0, sessions], [1, [...sessions].reverse()]] as const) {
          for (const sessionId of list) {
            order.push({ engine, sessionId });
            calls.push(engines[engine]!.appendInput({ sessionId, clientInputId: `e${engine}-r${round}`, text: 'x', sceneId: null, turn: round }));
            void engines[1 - engine]!.appendEvents(sessionId, [event('GoalCompleted', { goalId: `g${round}` }, { source: 's' })]);
          }
        }
        await Promise.all(calls);
      }
      const results = await Promise.all(calls);
      await Promise.all(engines.map((e) => e.flush()));
      expect(warnings).toEqual([]);
      for (const sessionId of sessions) {
        for (const engine of [0, 1]) {
          const mine = results.filter((_, i) => order[i]!.sessionId === sessionId && order[i]!.engine === engine);
          expect(mine).toHaveLength(5);
          expect(isStrictlyIncreasing(mine.map((r) => r.narrativeTs))).toBe(true);
        }
      }
      const stored = await t.db.query<{ n: number; ts: number }>(
        'SELECT count(*)::int AS n, count(DISTINCT (session_id, narrative_ts))::int AS ts FROM event_ledger WHERE session_id = ANY($1::uuid[])',
        [sessions],
      );
      expect(stored.rows[0]).toEqual({ n: 40 * 5 * 2 * 2, ts: 40 * 5 * 2 * 2 });
    } finally {
      await Promise.all(engines.map((e) => e.close()));
      if (second !== t.db) await second.close();
    }
  });

  it('folds a retransmission that arrives in the same batch onto the original', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    const req = { sessionId: session!, clientInputId: 'twice', text: 'hello', sceneId: null, turn: 0 };
    const [a, b] = await Promise.all([ledger.appendInput(req), ledger.appendInput(req)]);
    await ledger.close();
    expect(a!.duplicate).toBe(false);
    expect(b!).toMatchObject({ id: a!.id, narrativeTs: a!.narrativeTs, duplicate: true });
    const count = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1', [session]);
    expect(count.rows[0]!.n).toBe(1);
  });

  it('rejects input after validation without writing anything for it', async () => {
    const ledger = newLedger(t.db);
    const [session] = await createSessions(t.db, 1);
    const error = await caught(ledger.appendInput({ sessionId: session!, clientInputId: 'x', text: '', sceneId: null, turn: 0 }));
    expect(isStorytellerError(error, 'LEDGER_PAYLOAD_INVALID')).toBe(true);
    await ledger.close();
    expect(ledger.inputStats.requests).toBe(0);
  });
});

function isStrictlyIncreasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]!);
}
