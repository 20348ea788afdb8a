import { describe, expect, it } from 'vitest';
import { evaluatePredicate, predicateHolds, type PredicateResult } from '../../src/domain/predicate-eval.ts';
import { triggerPredicateSchema, type TriggerPredicate } from '../../src/domain/predicates.ts';
import { applyEvents, emptyTruthSet } from '../../src/domain/truth-set.ts';
import { HistoryBuilder, SCENE_A } from './truth-set.fixtures.ts';

/** One scene's worth of history that every row below is evaluated against. */
function world() {
  const h = new HistoryBuilder();
  h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
  h.input('I ask Mara about the Lighthouse keeper');
  h.add('SpeechAct', { speaker: 'player', addressee: 'mara', content: 'Tell me about the lighthouse keeper.' });
  h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
  h.add('WorldStateChanged', { key: 'door', old: null, new: 'open' });
  h.add('WorldStateChanged', { key: 'bell_rung', old: null, new: false });
  h.add('RelationshipShifted', { from: 'mara', to: 'player', dimension: 'trust_benevolence', delta: 0.6 });
  h.add('InterpretiveJudgment', {
    id: 'j-trust', category: 'TrustShift', subject: 'mara', confidence: 0.7, evidence: [3], description: 'warming', source: { kind: 'classifier' },
  });
  h.add('InterpretiveJudgment', {
    id: 'j-deceit', category: 'DeceptionDetected', subject: 'tom', confidence: 0.4, evidence: [3], description: 'evasive', source: { kind: 'classifier' },
  });
  h.add('InterpretiveJudgment', {
    id: 'j-reg1', category: 'EmotionalRegisterShift', subject: 'mara', confidence: 0.9, evidence: [3], description: 'guarded', source: { kind: 'storykeeper_inference' },
  });
  h.add('InterpretiveJudgment', {
    id: 'j-reg2', category: 'EmotionalRegisterShift', subject: 'mara', confidence: 0.8, evidence: [3], description: 'Warm, open', source: { kind: 'storykeeper_inference' },
  });
  h.add('TurnCompleted', { inputId: 2, turn: 1 });
  return { truthSet: applyEvents(emptyTruthSet(), h.records), history: h.records, settingFeatures: ['fireplace', 'window'] };
}

const ctx = world();
const P = (p: unknown): TriggerPredicate => triggerPredicateSchema.parse(p);
const eval_ = (p: unknown): PredicateResult => evaluatePredicate(P(p), ctx);

describe('evaluatePredicate: atoms', () => {
  const rows: Array<[string, unknown, boolean, number?]> = [
    ['holds: factual proposition', { holds: { predicate: 'holds', args: ['player', 'lamp'] } }, true, 1],
    ['holds: prefix pattern', { holds: { predicate: 'holds', args: ['player'] } }, true, 1],
    ['holds: absent', { holds: { predicate: 'holds', args: ['mara', 'lamp'] } }, false, 0],
    ['holds: judged counts confidence', { holds: { predicate: 'judged', args: ['TrustShift', 'mara'] } }, true, 0.7],
    ['holds: judged below 0.5', { holds: { predicate: 'judged', args: ['DeceptionDetected', 'tom'] } }, false, 0],
    ['eventOccurred: by type', { eventOccurred: { type: 'SpeechAct' } }, true, 1],
    ['eventOccurred: by actor/action/target', { eventOccurred: { actor: 'player', action: 'take', target: 'lamp' } }, true, 1],
    ['eventOccurred: no match', { eventOccurred: { type: 'GateFired' } }, false, 0],
    ['characterPresent', { characterPresent: 'mara' }, true, 1],
    ['characterPresent: absent', { characterPresent: 'tom' }, false, 0],
    ['worldState equals string', { worldState: { key: 'door', equals: 'open' } }, true, 1],
    ['worldState differs', { worldState: { key: 'door', equals: 'closed' } }, false, 0],
    ['worldState false is not null', { worldState: { key: 'bell_rung', equals: false } }, true, 1],
    ['worldState null = unset', { worldState: { key: 'weather', equals: null } }, true, 1],
    ['topicMentioned: whole phrase, any case', { topicMentioned: 'LIGHTHOUSE keeper' }, true, 1],
    ['topicMentioned: not a part of a word', { topicMentioned: 'light' }, false, 0],
    ['settingFeature', { settingFeature: 'fireplace' }, true, 1],
    ['settingFeature: absent', { settingFeature: 'well' }, false, 0],
    ['emotionalRegister: newest register judgment', { emotionalRegister: { character: 'mara', register: 'warm' } }, true, 0.8],
    ['emotionalRegister: superseded register', { emotionalRegister: { character: 'mara', register: 'guarded' } }, false, 0],
    ['relationship atLeast', { relationship: { from: 'mara', to: 'player', dimension: 'trust_benevolence', atLeast: 0.5 } }, true, 1],
    ['relationship atMost', { relationship: { from: 'mara', to: 'player', dimension: 'trust_benevolence', atMost: 0.5 } }, false, 0],
    ['relationship untouched defaults to 0', { relationship: { from: 'tom', to: 'player', dimension: 'debt', atMost: 0 } }, true, 1],
    ['relationship without bounds = any shift recorded', { relationship: { from: 'tom', to: 'player', dimension: 'debt' } }, false, 0],
    ['accumulator', { accumulator: { key: 'rel:mara:player:trust_benevolence', atLeast: 0.6, atMost: 0.6 } }, true, 1],
    ['judgment default minConfidence 0.5', { judgment: { category: 'TrustShift', subject: 'mara' } }, true, 0.7],
    ['judgment any subject', { judgment: { category: 'TrustShift' } }, true, 0.7],
    ['judgment below minConfidence', { judgment: { category: 'TrustShift', subject: 'mara', minConfidence: 0.8 } }, false, 0],
    ['judgment weak but allowed', { judgment: { category: 'DeceptionDetected', minConfidence: 0.3 } }, true, 0.4],
  ];
  it.each(rows)('%s', (_name, predicate, value, score) => {
    const r = eval_(predicate);
    expect(r.value).toBe(value);
    if (score !== undefined) expect(r.score).toBeCloseTo(score);
  });
});

describe('evaluatePredicate: combinators', () => {
  const present = { characterPresent: 'mara' };
  const absent = { characterPresent: 'tom' };
  const trust = { judgment: { category: 'TrustShift', subject: 'mara' } }; // 0.7
  const deceit = { judgment: { category: 'DeceptionDetected', subject: 'tom', minConfidence: 0.3 } }; // 0.4
  const rows: Array<[string, unknown, boolean, number]> = [
    ['all true → min score', { all: [present, trust] }, true, 0.7],
    ['all with one false', { all: [present, absent] }, false, 0],
    ['any → best true member', { any: [absent, trust, deceit] }, true, 0.7],
    ['any all false', { any: [absent, { settingFeature: 'well' }] }, false, 0],
    ['not true → false', { not: present }, false, 0],
    ['not false → true', { not: absent }, true, 1],
    ['difference: include and not exclude', { difference: { include: trust, exclude: absent } }, true, 0.7],
    ['difference: excluded', { difference: { include: present, exclude: trust } }, false, 0],
    ['difference: include false', { difference: { include: absent, exclude: { settingFeature: 'well' } } }, false, 0],
    ['threshold: factual count 1 each', { threshold: { of: [present, { settingFeature: 'window' }, absent], minMatch: 2 } }, true, 1],
    ['threshold: not enough factual', { threshold: { of: [present, absent, { settingFeature: 'well' }], minMatch: 2 } }, false, 0],
    ['threshold: interpretive count confidence 0.7 + 0.4 = 1.1 ≥ 1.1', { threshold: { of: [trust, deceit], minMatch: 1.1 } }, true, 1],
    ['threshold: interpretive 0.7 + 0.4 < 1.2 though both match', { threshold: { of: [trust, deceit], minMatch: 1.2 } }, false, 0],
    ['threshold: an interpretive atom under its minimum counts 0', { threshold: { of: [present, { judgment: { category: 'DeceptionDetected' } }], minMatch: 1.4 } }, false, 0],
    ['threshold: nested all counts its min score', { threshold: { of: [{ all: [present, trust] }, present], minMatch: 1.7 } }, true, 1],
    ['depth-4 nesting', { all: [{ any: [{ not: { difference: { include: absent, exclude: present } } }] }] }, true, 1],
  ];
  it.each(rows)('%s', (_name, predicate, value, score) => {
    const r = eval_(predicate);
    expect(r.value).toBe(value);
    expect(r.score).toBeCloseTo(score);
  });

  it('score is 0 whenever value is false, and within [0, 1]', () => {
    for (const [, predicate] of rows) {
      const r = eval_(predicate);
      expect(r.score).toBeGreaterThanOrEqual(0);
      expect(r.score).toBeLessThanOrEqual(1);
      if (!r.value) expect(r.score).toBe(0);
    }
  });

  it('predicateHolds is the boolean', () => {
    expect(predicateHolds(P({ characterPresent: 'mara' }), ctx)).toBe(true);
    expect(predicateHolds(P({ characterPresent: 'tom' }), ctx)).toBe(false);
  });

  it('topicMentioned looks at the current turn only', () => {
    const h = new HistoryBuilder();
    h.input('tell me about the lighthouse');
    h.input('and now something else');
    const later = { truthSet: applyEvents(emptyTruthSet(), h.records), history: h.records };
    expect(evaluatePredicate(P({ topicMentioned: 'lighthouse' }), later).value).toBe(false);
    expect(evaluatePredicate(P({ eventOccurred: { topic: 'lighthouse' } }), later).value).toBe(true);
  });
});
