import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, type LedgerRecord, type NewEvent } from '../../../src/domain/events.ts';
import { evaluatePredicate } from '../../../src/domain/predicate-eval.ts';
import { triggerPredicateSchema, type TriggerPredicate } from '../../../src/domain/predicates.ts';
import { applyEvents, emptyTruthSet } from '../../../src/domain/truth-set.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { evaluateOnLedger, ledgerPredicateContext } from '../../../src/persistence/temporal-ledger.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

const SCENE = '00000000-0000-4000-8000-0000000000c1';
const P = (p: unknown): TriggerPredicate => triggerPredicateSchema.parse(p);
const meta = { source: 'test', sceneId: SCENE };

describe.each(DRIVERS)('temporal predicates against the real ledger on %s', (driver) => {
  let t: TestDatabase;
  let ledger: Ledger;
  let sessionId: string;
  let rows: LedgerRecord[];

  async function input(turn: number, text: string): Promise<void> {
    rows.push((await ledger.appendInput({ sessionId, clientInputId: `in-${turn}`, text, sceneId: SCENE, turn })).record);
  }
  async function events(turn: number, ...es: NewEvent[]): Promise<void> {
    rows.push(...(await ledger.appendEvents(sessionId, es.map((e) => ({ ...e, turn })))));
  }

  beforeAll(async () => {
    t = await createTestDatabase(driver);
    ledger = new Ledger(t.db, { maxPayloadBytes: 64 * 1024, maxBatch: 64, flushMs: 1 });
    sessionId = (await t.db.query<{ id: string }>('INSERT INTO sessions DEFAULT VALUES RETURNING id')).rows[0]!.id;
    rows = [];
    await events(0, event('SceneEntered', { sceneId: SCENE, sceneKey: 'hall', characters: ['mara'] }, meta));
    await input(1, 'I look at the door');
    await events(1, event('ExaminationAction', { actor: 'player', target: 'door' }, meta));
    await input(2, 'take the key');
    await events(2, event('ActionPerformed', { actor: 'player', action: 'take', target: 'key' }, meta));
    await events(2, event('TurnCompleted', { inputId: rows.at(-2)!.id, turn: 2, degraded: [] }, meta));
    await input(3, 'Ask Mara about the lighthouse');
    await events(
      3,
      event('SpeechAct', { speaker: 'player', addressee: 'mara', content: 'What about the lighthouse?' }, meta),
      event('CharacterDeparture', { character: 'mara', sceneId: SCENE, significance: 'casual' }, meta),
      event('CharacterArrival', { character: 'mara', sceneId: SCENE }, meta),
    );
    await input(4, 'unlock the door');
    await events(4, event('ActionPerformed', { actor: 'player', action: 'unlock', target: 'door' }, meta));
  });
  afterAll(async () => {
    await ledger?.close();
    await t?.close();
  });

  const takeKey = { type: 'ActionPerformed', action: 'take', target: 'key' };
  const cases: Array<[string, unknown, boolean]> = [
    ['After: took the key, holds it now', { after: { event: takeKey, then: { holds: { predicate: 'holds', args: ['player', 'key'] } } } }, true],
    ['After: event never happened', { after: { event: { type: 'GateFired' }, then: { characterPresent: 'mara' } } }, false],
    ['Since: Mara present since the key was taken — broken by her departure, restored', { since: { event: takeKey, holds: { characterPresent: 'mara' } } }, false],
    ['Since: Mara present since she came back', { since: { event: { type: 'CharacterArrival', actor: 'mara' }, holds: { characterPresent: 'mara' } } }, true],
    ['Since: holds the key since taking it', { since: { event: takeKey, holds: { holds: { predicate: 'holds', args: ['player', 'key'] } } } }, true],
    ['Sequence: examine → take → unlock', { sequence: { events: [{ type: 'ExaminationAction', target: 'door' }, takeKey, { action: 'unlock' }] } }, true],
    ['Sequence: out of order', { sequence: { events: [takeKey, { type: 'ExaminationAction' }] } }, false],
    ['Sequence: within exceeded', { sequence: { events: [{ type: 'ExaminationAction' }, { action: 'unlock' }], within: 3 } }, false],
    ['Sequence: input then its action within 1 step', { sequence: { events: [{ type: 'PlayerInput', topic: 'key' }, takeKey], within: 1 } }, true],
    ['eventOccurred: topic in speech', { eventOccurred: { topic: 'lighthouse', type: 'SpeechAct' } }, true],
  ];

  it.each(cases)('%s', async (_name, predicate, expected) => {
    const p = P(predicate);
    const onLedger = await evaluateOnLedger(ledger, sessionId, p);
    expect(onLedger.value).toBe(expected);
    // Same answer as the pure evaluator over the rows the writes returned.
    expect(onLedger).toEqual(evaluatePredicate(p, { truthSet: applyEvents(emptyTruthSet(), rows), history: rows }));
  });

  it('reads the rows in narrative_ts order and rebuilds the same truth set', async () => {
    const ctx = await ledgerPredicateContext(ledger, sessionId);
    expect(ctx.history.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(ctx.history.map((r) => r.narrativeTs)).toEqual([...rows.map((r) => r.narrativeTs)].sort((a, b) => a - b));
    expect(ctx.truthSet).toEqual(applyEvents(emptyTruthSet(), rows));
  });

  it('matches a specific ledger event by id', async () => {
    const take = rows.find((r) => r.type === 'ActionPerformed')!;
    expect((await evaluateOnLedger(ledger, sessionId, P({ eventOccurred: { eventId: take.id } }))).value).toBe(true);
    expect((await evaluateOnLedger(ledger, sessionId, P({ sequence: { events: [{ eventId: take.id }, { type: 'ExaminationAction' }] } }))).value).toBe(false);
  });

  it('a window after a snapshot sees only later rows but keeps Since exact', async () => {
    const cut = rows.findIndex((r) => r.type === 'CharacterArrival');
    const window = { truthSet: applyEvents(emptyTruthSet(), rows.slice(0, cut)), ledgerTs: rows[cut - 1]!.narrativeTs };
    const since = P({ since: { event: { type: 'CharacterArrival' }, holds: { characterPresent: 'mara' } } });
    expect((await evaluateOnLedger(ledger, sessionId, since, { window })).value).toBe(true);
    expect((await evaluateOnLedger(ledger, sessionId, P({ eventOccurred: { type: 'ExaminationAction' } }), { window })).value).toBe(false);
    const ctx = await ledgerPredicateContext(ledger, sessionId, { window });
    expect(ctx.truthSet).toEqual(applyEvents(emptyTruthSet(), rows));
  });

  it('a live truth set ahead of the durable rows is what "now" means', async () => {
    const live = applyEvents(emptyTruthSet(), [
      ...rows,
      { type: 'CharacterDeparture', data: { character: 'mara', sceneId: SCENE, significance: 'casual' }, narrativeTs: rows.at(-1)!.narrativeTs + 1 },
    ]);
    const since = P({ since: { event: { type: 'CharacterArrival' }, holds: { characterPresent: 'mara' } } });
    expect((await evaluateOnLedger(ledger, sessionId, since, { truthSet: live })).value).toBe(false);
  });
});
