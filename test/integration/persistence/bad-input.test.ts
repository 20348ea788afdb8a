import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, type NewEvent } from '../../../src/domain/events.ts';
import { isStorytellerError, type StorytellerError } from '../../../src/errors.ts';
import type { Ledger } from '../../../src/persistence/ledger.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { caught, createSessions, newLedger } from './ledger-helpers.ts';

const LIMIT = 2_048;

describe.each(DRIVERS)('bad input at the ledger on %s', (driver) => {
  let t: TestDatabase;
  let ledger: Ledger;
  let session: string;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
    ledger = newLedger(t.db, { maxPayloadBytes: LIMIT });
    [session] = (await createSessions(t.db, 1)) as [string];
  });
  afterAll(async () => {
    await ledger.close();
    await t.close();
  });

  async function ledgerRows(): Promise<number> {
    await ledger.flush();
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1', [session]);
    return rows[0]!.n;
  }

  function rejectEvents(events: unknown[]): StorytellerError {
    try {
      void ledger.appendEvents(session, events as NewEvent[]);
    } catch (error) {
      return error as StorytellerError;
    }
    throw new Error('appendEvents accepted bad input');
  }

  it('refuses an unknown event type', async () => {
    const error = rejectEvents([{ type: 'Teleported', data: { to: 'moon' }, source: 'x' }]);
    expect(isStorytellerError(error, 'LEDGER_EVENT_TYPE_UNKNOWN')).toBe(true);
    expect(error.details).toMatchObject({ type: 'Teleported', index: 0 });
    expect(isStorytellerError(rejectEvents([{ data: {}, source: 'x' }]), 'LEDGER_EVENT_TYPE_UNKNOWN')).toBe(true);
    // Inherited object keys are not event types.
    expect(isStorytellerError(rejectEvents([{ type: 'toString', data: {}, source: 'x' }]), 'LEDGER_EVENT_TYPE_UNKNOWN')).toBe(true);
    expect(await ledgerRows()).toBe(0);
  });

  it('refuses a payload failing its schema, naming the zod path', async () => {
    const error = rejectEvents([{ type: 'RelationshipShifted', data: { from: 'keeper', to: 'player', dimension: 'affection', delta: 7 }, source: 'stage2' }]);
    expect(isStorytellerError(error, 'LEDGER_PAYLOAD_INVALID')).toBe(true);
    expect(error.details).toMatchObject({ type: 'RelationshipShifted', path: ['data', 'delta'] });
    const nested = rejectEvents([
      event('InterpretiveJudgment', {
        id: 'j', category: 'TrustShift', confidence: 0.5, evidence: [1], description: 'd', source: { kind: 'guess' as never }, provisional: false,
      }, { source: 'stage3' }),
    ]);
    expect(nested.details).toMatchObject({ path: ['data', 'source', 'kind'] });
    const envelope = rejectEvents([{ type: 'GoalCompleted', data: { goalId: 'g' }, source: '' }]);
    expect(isStorytellerError(envelope, 'LEDGER_PAYLOAD_INVALID')).toBe(true);
    expect(envelope.details).toMatchObject({ path: ['source'] });
    const nul = rejectEvents([event('SpeechAct', { speaker: 'a', content: 'bad\u0000byte' }, { source: 'x' })]);
    expect(isStorytellerError(nul, 'LEDGER_PAYLOAD_INVALID')).toBe(true);
    expect(await ledgerRows()).toBe(0);
  });

  it('refuses an oversized payload with the configured limit', async () => {
    const error = rejectEvents([event('SpeechAct', { speaker: 'keeper', content: 'é'.repeat(1_500) }, { source: 'narrator' })]);
    expect(isStorytellerError(error, 'LEDGER_PAYLOAD_TOO_LARGE')).toBe(true);
    expect(error.details).toMatchObject({ limit: LIMIT });
    expect((error.details as { bytes: number }).bytes).toBeGreaterThan(LIMIT);
    expect(await ledgerRows()).toBe(0);
  });

  it('refuses a whole batch with one invalid event before anything is queued', async () => {
    const error = rejectEvents([
      event('GoalCompleted', { goalId: 'fine' }, { source: 'storykeeper' }),
      { type: 'GoalCompleted', data: { goal: 'wrong key' }, source: 'storykeeper' },
      event('GoalCompleted', { goalId: 'also fine' }, { source: 'storykeeper' }),
    ]);
    expect(isStorytellerError(error, 'LEDGER_PAYLOAD_INVALID')).toBe(true);
    expect(error.details).toMatchObject({ index: 1, path: ['data', 'goalId'] });
    expect(ledger.pendingEvents()).toEqual([]);
    expect(await ledgerRows()).toBe(0);
  });

  it('refuses bad player input with typed errors and writes nothing', async () => {
    const base = { sessionId: session, clientInputId: 'c', text: 'hello', sceneId: null, turn: 0 };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ text: '' }, 'LEDGER_PAYLOAD_INVALID'],
      [{ text: 'x'.repeat(4_001) }, 'LEDGER_PAYLOAD_INVALID'],
      [{ text: 'nul\u0000' }, 'LEDGER_PAYLOAD_INVALID'],
      [{ clientInputId: '' }, 'LEDGER_PAYLOAD_INVALID'],
      [{ turn: -1 }, 'LEDGER_PAYLOAD_INVALID'],
      [{ sceneId: 'scene-one' }, 'LEDGER_PAYLOAD_INVALID'],
      [{ epoch: 1.5 }, 'LEDGER_PAYLOAD_INVALID'],
      [{ sessionId: 'not-a-uuid' }, 'SESSION_NOT_FOUND'],
      [{ sessionId: randomUUID() }, 'SESSION_NOT_FOUND'],
    ];
    for (const [patch, code] of cases) {
      const error = await caught(ledger.appendInput({ ...base, ...patch } as never));
      expect(isStorytellerError(error, code as never), `${JSON.stringify(patch).slice(0, 60)} → ${code}`).toBe(true);
    }
    const tooLarge = newLedger(t.db, { maxPayloadBytes: 64 });
    expect(isStorytellerError(await caught(tooLarge.appendInput({ ...base, text: 'y'.repeat(100) })), 'LEDGER_PAYLOAD_TOO_LARGE')).toBe(true);
    await tooLarge.close();
    const textError = await caught(ledger.appendInput({ ...base, text: '' }));
    expect((textError as StorytellerError).details).toMatchObject({ path: ['data', 'text'] });
    expect(await ledgerRows()).toBe(0);
  });

  it('refuses events for a malformed session id synchronously', () => {
    let error: unknown;
    try {
      void ledger.appendEvents('nope', [event('GoalCompleted', { goalId: 'g' }, { source: 's' })]);
    } catch (e) {
      error = e;
    }
    expect(isStorytellerError(error, 'SESSION_NOT_FOUND')).toBe(true);
  });

  // Regression: a confidence the schema accepts but a REAL cannot hold (float4 underflow)
  // used to fail the whole batch with LEDGER_WRITE_FAILED after every retry.
  it('stores a judgment whose confidence underflows a REAL, keeping the exact value in the payload', async () => {
    const judgment = event(
      'InterpretiveJudgment',
      { id: 'j-tiny', category: 'TrustShift', confidence: 6.1e-240, evidence: [], description: 'barely', source: { kind: 'classifier' }, provisional: false },
      { source: 'stage3' },
    );
    const [written] = await ledger.appendEvents(session, [judgment]);
    expect(written?.confidence).toBe(0);
    const [stored] = await ledger.eventsByType(session, 'InterpretiveJudgment');
    expect(stored?.confidence).toBe(0);
    expect(stored?.type === 'InterpretiveJudgment' && stored.data.confidence).toBe(6.1e-240);
  });
});
