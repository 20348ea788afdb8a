import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePredicate } from '../../src/domain/predicate-eval.ts';
import { triggerPredicateSchema, type EventPattern, type TriggerPredicate } from '../../src/domain/predicates.ts';
import {
  eventActor,
  eventParticipants,
  eventTarget,
  matchesEventPattern,
  mentionsTopic,
  sequenceHolds,
  sequenceSpan,
  Timeline,
} from '../../src/domain/temporal.ts';
import { applyEvents, emptyTruthSet, reconstructTruthSet, type TruthEvent } from '../../src/domain/truth-set.ts';
import { eventSequence, HistoryBuilder, SCENE_A } from './truth-set.fixtures.ts';

const P = (p: unknown): TriggerPredicate => triggerPredicateSchema.parse(p);
const now = (records: TruthEvent[]) => ({ truthSet: applyEvents(emptyTruthSet(), records), history: records });

const TAKE_LAMP: EventPattern = { type: 'ActionPerformed', action: 'take', target: 'lamp' };

describe('event patterns', () => {
  const h = new HistoryBuilder();
  h.input('Where is the Lighthouse?');
  const input = h.records[0]!;
  const take = h.add('ActionPerformed', { actor: 'player', action: 'Pick Up', target: 'lamp' });
  const speech = h.add('SpeechAct', { speaker: 'mara', addressee: 'player', content: 'The lighthouse is dark.' });
  const move = h.add('MovementAction', { actor: 'tom', from: 'hall', to: 'cellar' });
  const scene = h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara', 'tom'] });
  const judged = h.add('InterpretiveJudgment', {
    id: 'j1', category: 'TrustShift', subject: 'mara', confidence: 0.6, evidence: [1], description: 'player trusts tom', source: { kind: 'classifier' },
  });

  const rows: Array<[string, TruthEvent, EventPattern, boolean]> = [
    ['type', take, { type: 'ActionPerformed' }, true],
    ['type mismatch', take, { type: 'SpeechAct' }, false],
    ['eventId', take, { eventId: take.id! }, true],
    ['eventId mismatch', take, { eventId: 999 }, false],
    ['actor of an action', take, { actor: 'player' }, true],
    ['actor of speech = speaker', speech, { actor: 'mara' }, true],
    ['actor of PlayerInput = player', input, { actor: 'player' }, true],
    ['action normalised', take, { action: 'pick up' }, true],
    ['action on a non-action event', speech, { action: 'take' }, false],
    ['target of an action', take, { target: 'lamp' }, true],
    ['target of speech = addressee', speech, { target: 'player' }, true],
    ['target of movement = destination', move, { target: 'cellar' }, true],
    ['target of a judgment = subject', judged, { target: 'mara' }, true],
    ['involving: cast member of a scene entry', scene, { involving: 'tom' }, true],
    ['involving: the movement’s origin', move, { involving: 'hall' }, true],
    ['involving: not via prose', judged, { involving: 'tom' }, false],
    ['topic in PlayerInput', input, { topic: 'lighthouse' }, true],
    ['topic in SpeechAct', speech, { topic: 'DARK' }, true],
    ['topic only as part of a word', speech, { topic: 'light' }, false],
    ['topic on a non-text event', take, { topic: 'lamp' }, false],
    ['all fields must match', take, { type: 'ActionPerformed', actor: 'player', target: 'key' }, false],
    ['empty pattern matches anything', move, {}, true],
  ];
  it.each(rows)('%s', (_name, e, pattern, expected) => {
    expect(matchesEventPattern(e, pattern)).toBe(expected);
  });

  it('roles', () => {
    expect(eventActor(move)).toBe('tom');
    expect(eventTarget(scene)).toBe('hall');
    expect([...eventParticipants(scene)].sort()).toEqual([SCENE_A, 'hall', 'mara', 'tom'].sort());
    expect(mentionsTopic('Ask about (the) c++ thing', 'c++')).toBe(true);
  });
});

describe('After', () => {
  it('true when the event occurred and the predicate holds now', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    expect(evaluatePredicate(P({ after: { event: TAKE_LAMP, then: { characterPresent: 'mara' } } }), now(h.records)).value).toBe(true);
  });

  it('false when the event never occurred', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    expect(evaluatePredicate(P({ after: { event: TAKE_LAMP, then: { characterPresent: 'mara' } } }), now(h.records)).value).toBe(false);
  });

  it('false when the predicate no longer holds now', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('CharacterDeparture', { character: 'mara', sceneId: SCENE_A });
    expect(evaluatePredicate(P({ after: { event: TAKE_LAMP, then: { characterPresent: 'mara' } } }), now(h.records)).value).toBe(false);
  });

  it('passes the inner score through (interpretive)', () => {
    const h = new HistoryBuilder();
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('InterpretiveJudgment', { id: 'j', category: 'TrustShift', subject: 'mara', confidence: 0.8, evidence: [1], description: '', source: { kind: 'classifier' } });
    expect(evaluatePredicate(P({ after: { event: TAKE_LAMP, then: { judgment: { category: 'TrustShift' } } } }), now(h.records)).score).toBeCloseTo(0.8);
  });
});

describe('Since', () => {
  const since = P({ since: { event: TAKE_LAMP, holds: { characterPresent: 'mara' } } });

  it('true when the predicate held right after the event and after every later row', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.input('wait');
    h.add('SpeechAct', { speaker: 'mara', content: 'hm' });
    expect(evaluatePredicate(since, now(h.records))).toEqual({ value: true, score: 1 });
  });

  it('false when broken in between, even though restored now', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('CharacterDeparture', { character: 'mara', sceneId: SCENE_A });
    h.add('CharacterArrival', { character: 'mara', sceneId: SCENE_A });
    const ctx = now(h.records);
    expect(evaluatePredicate(P({ characterPresent: 'mara' }), ctx).value).toBe(true);
    expect(evaluatePredicate(since, ctx).value).toBe(false);
  });

  it('a break before the event does not count', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('CharacterDeparture', { character: 'mara', sceneId: SCENE_A });
    h.add('CharacterArrival', { character: 'mara', sceneId: SCENE_A });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    expect(evaluatePredicate(since, now(h.records)).value).toBe(true);
  });

  it('counts from the newest matching event', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('CharacterDeparture', { character: 'mara', sceneId: SCENE_A });
    h.add('CharacterArrival', { character: 'mara', sceneId: SCENE_A });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    expect(evaluatePredicate(since, now(h.records)).value).toBe(true);
  });

  it('false when the predicate does not hold right after the event', () => {
    const h = new HistoryBuilder();
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('CharacterArrival', { character: 'mara', sceneId: SCENE_A });
    expect(evaluatePredicate(since, now(h.records)).value).toBe(false);
  });

  it('false when the event never occurred', () => {
    const h = new HistoryBuilder();
    h.add('CharacterArrival', { character: 'mara', sceneId: SCENE_A });
    expect(evaluatePredicate(since, now(h.records)).value).toBe(false);
  });

  it('false when the predicate fails now (truth set ahead of the history)', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    const history = [...h.records];
    h.add('CharacterDeparture', { character: 'mara', sceneId: SCENE_A });
    expect(evaluatePredicate(since, { truthSet: applyEvents(emptyTruthSet(), h.records), history }).value).toBe(false);
  });

  it('score = lowest inner score along the way', () => {
    const h = new HistoryBuilder();
    h.add('InterpretiveJudgment', { id: 'a', category: 'TrustShift', subject: 'mara', confidence: 0.9, evidence: [], description: '', source: { kind: 'classifier' } });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('InterpretiveJudgment', { id: 'b', category: 'TrustShift', subject: 'mara', confidence: 0.6, evidence: [], description: '', replaces: 'a', source: { kind: 'classifier' } });
    h.add('InterpretiveJudgment', { id: 'c', category: 'TrustShift', subject: 'mara', confidence: 0.9, evidence: [], description: '', replaces: 'b', source: { kind: 'classifier' } });
    const r = evaluatePredicate(P({ since: { event: TAKE_LAMP, holds: { judgment: { category: 'TrustShift', subject: 'mara' } } } }), now(h.records));
    expect(r.value).toBe(true);
    expect(r.score).toBeCloseTo(0.6);
  });

  it('with a partial history, starts from historyBase (the checkpoint snapshot)', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    const base = applyEvents(emptyTruthSet(), h.records);
    const cut = h.records.length;
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('SpeechAct', { speaker: 'mara', content: 'hm' });
    const partial = h.records.slice(cut);
    const truthSet = reconstructTruthSet(base, partial);
    expect(evaluatePredicate(since, { truthSet, history: partial, historyBase: base }).value).toBe(true);
    // Without the base the replay would start empty and Mara would not be present.
    expect(evaluatePredicate(since, { truthSet, history: partial }).value).toBe(false);
  });

  it('nested temporal forms see only the history up to each point', () => {
    const h = new HistoryBuilder();
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    h.add('GateFired', { gateId: 'g1' });
    h.add('GoalCompleted', { goalId: 'find-key' });
    // Since the lamp was taken, "g1 has fired" has not always held: right after the take it had not yet.
    const inner = { eventOccurred: { type: 'GateFired' } };
    expect(evaluatePredicate(P({ since: { event: TAKE_LAMP, holds: inner } }), now(h.records)).value).toBe(false);
    expect(evaluatePredicate(P({ since: { event: { type: 'GateFired' }, holds: inner } }), now(h.records)).value).toBe(true);
  });
});

describe('Sequence', () => {
  function story(): HistoryBuilder {
    const h = new HistoryBuilder();
    h.add('ExaminationAction', { actor: 'player', target: 'door' }); // ts 1
    h.gap(3);
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'key' }); // ts 5
    h.add('SpeechAct', { speaker: 'mara', content: 'careful' }); // ts 6
    h.add('ActionPerformed', { actor: 'player', action: 'unlock', target: 'door' }); // ts 7
    return h;
  }
  const examine: EventPattern = { type: 'ExaminationAction', target: 'door' };
  const takeKey: EventPattern = { action: 'take', target: 'key' };
  const unlock: EventPattern = { action: 'unlock' };

  const rows: Array<[string, EventPattern[], number | undefined, boolean]> = [
    ['in order', [examine, takeKey, unlock], undefined, true],
    ['out of order', [takeKey, examine], undefined, false],
    ['within the span (7 − 1 = 6)', [examine, takeKey, unlock], 6, true],
    ['within exceeded', [examine, takeKey, unlock], 5, false],
    ['a single pattern', [unlock], 1, true],
    ['a missing event', [examine, { type: 'GateFired' }], undefined, false],
    ['one event cannot serve two patterns', [{ actor: 'player' }, { actor: 'player' }, { actor: 'player' }, { actor: 'player' }], undefined, false],
    ['repeats need repeated events', [{ actor: 'player' }, { actor: 'player' }, { actor: 'player' }], undefined, true],
  ];
  it.each(rows)('%s', (_name, events, within, expected) => {
    const h = story();
    const p = P(within === undefined ? { sequence: { events } } : { sequence: { events, within } });
    expect(evaluatePredicate(p, now(h.records)).value).toBe(expected);
  });

  it('uses the tightest occurrence for `within` (a later restart of the sequence)', () => {
    const h = story();
    h.gap(10);
    h.add('ExaminationAction', { actor: 'player', target: 'door' }); // ts 18
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'key' }); // ts 19
    h.add('ActionPerformed', { actor: 'player', action: 'unlock', target: 'door' }); // ts 20
    expect(sequenceSpan(h.records, [examine, takeKey, unlock])).toBe(2);
    expect(sequenceHolds(h.records, [examine, takeKey, unlock], 2)).toBe(true);
    expect(sequenceHolds(h.records, [examine, takeKey, unlock], 1)).toBe(false);
  });

  it('a row appended out of order after an evaluation is still put in its place', () => {
    const h = story();
    const history = h.records;
    const p = P({ sequence: { events: [{ type: 'GateFired' }, examine] } });
    expect(evaluatePredicate(p, { ...now(history), history }).value).toBe(false);
    history.push({ type: 'GateFired', data: { gateId: 'g0' }, narrativeTs: 0, id: 99 }); // narrative_ts 0: before everything
    expect(evaluatePredicate(p, { ...now(history), history }).value).toBe(true);
  });

  it('history handed out of order is evaluated in narrative_ts order', () => {
    const h = story();
    expect(evaluatePredicate(P({ sequence: { events: [examine, unlock] } }), { ...now(h.records), history: [...h.records].reverse() }).value).toBe(true);
  });
});

describe('Timeline', () => {
  it('gives the truth set after each row, equal to a fresh fold', () => {
    const h = new HistoryBuilder();
    h.add('GateFired', { gateId: 'g1' });
    h.add('GateFired', { gateId: 'g2' });
    const t = new Timeline(h.records);
    expect(t.stateAfter(1)).toEqual(applyEvents(emptyTruthSet(), h.records));
    expect(t.stateAfter(0)).toEqual(applyEvents(emptyTruthSet(), h.records.slice(0, 1)));
    expect(() => t.stateAfter(2)).toThrow(RangeError);
  });

  it('answers in any order (resuming from the nearest materialised state) with the same states', () => {
    const h = new HistoryBuilder();
    for (const g of ['g1', 'g2', 'g3', 'g4', 'g5', 'g6']) h.add('GateFired', { gateId: g });
    const t = new Timeline(h.records);
    for (const i of [4, 1, 5, 0, 3, 2]) expect(t.stateAfter(i)).toEqual(applyEvents(emptyTruthSet(), h.records.slice(0, i + 1)));
  });

  it('long histories: any access order gives the fold of the prefix (kept states every 64 rows)', () => {
    fc.assert(
      fc.property(
        eventSequence(300).filter((h) => h.length > 130),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        (history, picks) => {
          const t = new Timeline(history);
          for (const pick of picks) {
            const i = pick % history.length;
            expect(t.stateAfter(i)).toEqual(applyEvents(emptyTruthSet(), history.slice(0, i + 1)));
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('starts from its base', () => {
    const h = new HistoryBuilder();
    h.add('GateFired', { gateId: 'g1' });
    const base = applyEvents(emptyTruthSet(), h.records);
    const more = new HistoryBuilder(1);
    more.add('GateFired', { gateId: 'g2' });
    expect(new Timeline(more.records, base).stateAfter(0)).toEqual(applyEvents(emptyTruthSet(), [...h.records, ...more.records]));
  });

  it('evaluations that share a history array stay correct when rows are appended between them', () => {
    const h = new HistoryBuilder();
    h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    const history = h.records; // the same array object, appended to below
    const since = P({ since: { event: TAKE_LAMP, holds: { characterPresent: 'mara' } } });
    expect(evaluatePredicate(since, { truthSet: applyEvents(emptyTruthSet(), history), history }).value).toBe(true);
    h.add('CharacterDeparture', { character: 'mara', sceneId: SCENE_A });
    h.add('CharacterArrival', { character: 'mara', sceneId: SCENE_A });
    expect(evaluatePredicate(since, { truthSet: applyEvents(emptyTruthSet(), history), history }).value).toBe(false);
  });
});
