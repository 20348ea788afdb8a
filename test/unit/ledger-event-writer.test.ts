import { describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/domain/events.ts';
import { isStorytellerError } from '../../src/errors.ts';
import { silentLogger } from '../../src/logger.ts';
import { EventWriter } from '../../src/persistence/event-writer.ts';
import type { AppendOutcome, AppendRow } from '../../src/persistence/ledger-append.ts';

const SESSION = '7f0c2c1e-2d9b-4c55-9a55-0c2b8e5d9e11';
const OTHER = '0b9f3c55-5d0e-4a77-8e0b-1f5f3a2c9d10';

function rowFor(sessionId: string, goalId: string): AppendRow {
  return {
    sessionId, sceneId: null, turn: null, eventType: 'GoalCompleted', json: JSON.stringify({ goalId }), confidence: null, source: 'test',
    clientInputId: null, inputId: null, idempotencyKey: null, epoch: null,
  };
}
const eventFor = (goalId: string): NewEvent => ({ type: 'GoalCompleted', data: { goalId }, source: 'test' });

/** The outcome of a row the stand-in database inserted with ledger id `id`. */
function inserted(r: AppendRow, id: number, ownerEpoch = 0): AppendOutcome {
  return {
    status: 'inserted',
    ownerEpoch,
    row: { id, session_id: r.sessionId, scene_id: null, turn: null, event_type: r.eventType, event_data: JSON.parse(r.json), confidence: null, source: r.source, created_at: new Date(0), narrative_ts: id, client_input_id: null, input_id: null, idempotency_key: null },
  } satisfies AppendOutcome;
}

/** An in-memory stand-in for the batch statement; `failures` decides, per call, what to throw. */
function fakeStore(failures: Array<Error | null> = []) {
  const calls: string[][] = [];
  let nextId = 1;
  const write = async (rows: readonly AppendRow[]): Promise<AppendOutcome[]> => {
    calls.push(rows.map((r) => (JSON.parse(r.json) as { goalId: string }).goalId));
    const failure = failures.shift();
    if (failure) throw failure;
    return rows.map((r) => inserted(r, nextId++));
  };
  return { calls, write };
}

function sqlError(code: string): Error {
  return Object.assign(new Error(`sql ${code}`), { code });
}

function writer(store: ReturnType<typeof fakeStore>, overrides: Partial<ConstructorParameters<typeof EventWriter>[0]> = {}) {
  let retries = 0;
  const w = new EventWriter({
    maxBatch: 100, flushMs: 3_600_000, retry: { attempts: 3, baseMs: 0, maxMs: 3_600_000 }, logger: silentLogger, write: store.write,
    onRetry: () => void (retries += 1), ...overrides,
  });
  return { w, retries: () => retries };
}

const enqueue = (w: EventWriter, sessionId: string, goalId: string) => w.enqueue(sessionId, [eventFor(goalId)], [rowFor(sessionId, goalId)]);

describe('EventWriter', () => {
  it('writes everything queued in one batch on flush, in order, and resolves each request with its records', async () => {
    const store = fakeStore();
    const { w } = writer(store);
    const a = enqueue(w, SESSION, 'a');
    const b = enqueue(w, OTHER, 'b');
    const c = enqueue(w, SESSION, 'c');
    expect(store.calls).toEqual([]);
    await w.flush();
    expect(store.calls).toEqual([['a', 'b', 'c']]);
    expect((await a)[0]).toMatchObject({ id: 1, data: { goalId: 'a' } });
    expect((await c)[0]).toMatchObject({ id: 3, sessionId: SESSION });
    expect((await b)[0]!.sessionId).toBe(OTHER);
    await w.close();
  });

  it('writes at once when maxBatch rows wait', async () => {
    const store = fakeStore();
    const { w } = writer(store, { maxBatch: 2 });
    const first = enqueue(w, SESSION, 'a');
    const second = enqueue(w, SESSION, 'b');
    await Promise.all([first, second]);
    expect(store.calls).toEqual([['a', 'b']]);
    await w.close();
  });

  it('retries a transient failure and reports success', async () => {
    const store = fakeStore([sqlError('40P01')]);
    const { w, retries } = writer(store);
    const pending = enqueue(w, SESSION, 'a');
    await w.flush();
    expect(store.calls).toEqual([['a'], ['a']]);
    expect(retries()).toBe(1);
    expect((await pending)[0]!.data).toEqual({ goalId: 'a' });
    await w.close();
  });

  it('keeps a batch queued after the last attempt, rejects flush, and writes it on the next flush', async () => {
    const store = fakeStore([sqlError('57014'), sqlError('57014'), sqlError('57014')]);
    const { w } = writer(store);
    const pending = enqueue(w, SESSION, 'a');
    const error = await w.flush().then(() => null, (e: unknown) => e);
    expect(isStorytellerError(error, 'LEDGER_WRITE_FAILED')).toBe(true);
    expect(w.pending()).toEqual([{ sessionId: SESSION, events: [eventFor('a')] }]);
    await w.flush();
    expect(store.calls).toHaveLength(4);
    expect((await pending)[0]!.id).toBe(1);
    expect(w.pending()).toEqual([]);
    await w.close();
  });

  it('isolates a data error to the offending request by writing requests alone', async () => {
    const store = fakeStore([sqlError('22P02'), null, sqlError('22P02'), null]);
    const { w } = writer(store);
    const good1 = enqueue(w, SESSION, 'good1');
    const bad = enqueue(w, OTHER, 'bad');
    const good2 = enqueue(w, SESSION, 'good2');
    const error = await w.flush().then(() => null, (e: unknown) => e);
    expect(isStorytellerError(error, 'LEDGER_WRITE_FAILED')).toBe(true);
    expect(store.calls).toEqual([['good1', 'bad', 'good2'], ['good1'], ['bad'], ['good2']]);
    await expect(good1).resolves.toHaveLength(1);
    await expect(good2).resolves.toHaveLength(1);
    expect(isStorytellerError(await bad.then(() => null, (e: unknown) => e), 'LEDGER_WRITE_FAILED')).toBe(true);
    await w.close();
  });

  it("a new owner's flush (ownerEpoch) is not failed by its predecessor's stale queued writes; they are fenced on their own", async () => {
    // The database: the session is owned by epoch 2 now; an epoch-1 row is fenced.
    let nextId = 1;
    const write = async (rows: readonly AppendRow[]): Promise<AppendOutcome[]> =>
      rows.map((r) => ((r.epoch ?? 0) < 2 ? ({ status: 'fenced', ownerEpoch: 2, row: null } as unknown as AppendOutcome) : inserted(r, nextId++, 2)));
    const w = new EventWriter({ maxBatch: 100, flushMs: 3_600_000, retry: { attempts: 3, baseMs: 0, maxMs: 3_600_000 }, logger: silentLogger, write });
    const at = (epoch: number, goalId: string) => w.enqueue(SESSION, [eventFor(goalId)], [{ ...rowFor(SESSION, goalId), epoch }]);
    // The released actor's batch, still queued from before the takeover, then the new owner's.
    const stale = at(1, 'old-turn');
    const fresh = at(2, 'new-turn');
    await w.flush(SESSION, 2);
    await expect(fresh).resolves.toHaveLength(1);
    expect(isStorytellerError(await stale.then(() => null, (e: unknown) => e), 'LEDGER_FENCED')).toBe(true);
    // Without the epoch, the same situation fails the flush (what the new owner's scene exit used
    // to see), and says it was fencing.
    const stale2 = at(1, 'old-2');
    stale2.catch(() => undefined);
    const error = await w.flush(SESSION).then(() => null, (e: unknown) => e);
    expect(isStorytellerError(error, 'LEDGER_FENCED')).toBe(true);
    expect((error as Error).message).toContain('owned by epoch 2');
    await w.close();
    // A stale failure nobody waited for (written at once: maxBatch 1) is kept for the next flush
    // of the session, which reports it, unless that flush is the new owner's.
    for (const [ownerEpoch, reported] of [[2, false], [undefined, true]] as const) {
      const eager = new EventWriter({ maxBatch: 1, flushMs: 3_600_000, retry: { attempts: 3, baseMs: 0, maxMs: 3_600_000 }, logger: silentLogger, write });
      const lone = eager.enqueue(SESSION, [eventFor('old-3')], [{ ...rowFor(SESSION, 'old-3'), epoch: 1 }]);
      expect(isStorytellerError(await lone.then(() => null, (e: unknown) => e), 'LEDGER_FENCED')).toBe(true);
      const outcome = await eager.flush(SESSION, ownerEpoch).then(() => 'ok', (e: unknown) => (isStorytellerError(e, 'LEDGER_FENCED') ? 'reported' : 'other'));
      expect(outcome).toBe(reported ? 'reported' : 'ok');
      await eager.close();
    }
  });

  it('close() hands back what it cannot write and refuses new events', async () => {
    const store = fakeStore(Array.from({ length: 10 }, () => sqlError('08006')));
    const { w } = writer(store);
    const pending = enqueue(w, SESSION, 'a');
    const error = await w.close().then(() => null, (e: unknown) => e);
    expect(isStorytellerError(error, 'LEDGER_WRITE_FAILED')).toBe(true);
    expect((error as { details: { unwritten: unknown } }).details.unwritten).toEqual([{ sessionId: SESSION, events: [eventFor('a')] }]);
    expect(isStorytellerError(await pending.then(() => null, (e: unknown) => e), 'LEDGER_WRITE_FAILED')).toBe(true);
    expect(isStorytellerError(await enqueue(w, SESSION, 'late').then(() => null, (e: unknown) => e), 'ENGINE_SHUTTING_DOWN')).toBe(true);
  });
});
