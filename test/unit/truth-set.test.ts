import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type EventType } from '../../src/domain/events.ts';
import { translateEvent } from '../../src/domain/propositions.ts';
import {
  accumulatorValue,
  applyEvent,
  applyEvents,
  emptyTruthSet,
  holds,
  interpretivePropositions,
  judgmentConfidence,
  MAX_JUDGMENTS_PER_PROPOSITION,
  propositionSince,
  worldValue,
  type TruthSet,
} from '../../src/domain/truth-set.ts';
import { HistoryBuilder, SCENE_A, SCENE_B } from './truth-set.fixtures.ts';

type Check = [predicate: string, ...args: string[]];

interface Row {
  name: string;
  build: (h: HistoryBuilder) => void;
  holds?: Check[];
  notHolds?: Check[];
  also?: (ts: TruthSet) => void;
}

const judgment = (id: string, confidence: number, extra: Record<string, unknown> = {}) => ({
  id,
  category: 'TrustShift',
  subject: 'mara',
  confidence,
  evidence: [1],
  description: 'trust grows',
  source: { kind: 'classifier' },
  ...extra,
});

const ROWS: Row[] = [
  {
    name: 'take → holds(actor, item) and did(actor, take, item)',
    build: (h) => {
      h.input('take the lamp');
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    },
    holds: [['holds', 'player', 'lamp'], ['holds', 'player'], ['did', 'player', 'take', 'lamp'], ['did', 'player', 'take'], ['holds', '*', 'lamp']],
  },
  {
    name: 'take from someone moves the item (one holder) and lifts it from where it lay',
    build: (h) => {
      h.add('ActionPerformed', { actor: 'mara', action: 'take', target: 'lamp' });
      h.add('MovementAction', { actor: 'mara', from: 'hall', to: 'cellar' });
      h.add('ActionPerformed', { actor: 'mara', action: 'drop', target: 'lamp' });
      h.add('ActionPerformed', { actor: 'player', action: 'Pick Up', target: 'lamp' });
    },
    holds: [['holds', 'player', 'lamp'], ['did', 'player', 'pick_up', 'lamp']],
    notHolds: [['holds', 'mara', 'lamp'], ['at', 'lamp']],
  },
  {
    name: 'give → the recipient holds it, the giver no longer',
    build: (h) => {
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'key' });
      h.add('ActionPerformed', { actor: 'player', action: 'give', target: 'key', recipient: 'mara' });
    },
    holds: [['holds', 'mara', 'key'], ['did', 'player', 'give', 'key']],
    notHolds: [['holds', 'player', 'key']],
  },
  {
    name: 'give without a recipient only releases the item',
    build: (h) => {
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'key' });
      h.add('ActionPerformed', { actor: 'player', action: 'hand', target: 'key' });
    },
    notHolds: [['holds', '*', 'key']],
  },
  {
    name: 'drop → no longer held; lies where the actor is',
    build: (h) => {
      h.add('MovementAction', { actor: 'player', from: 'hall', to: 'cellar' });
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
      h.add('ActionPerformed', { actor: 'player', action: 'drop', target: 'lamp' });
    },
    holds: [['at', 'lamp', 'cellar'], ['at', 'player', 'cellar']],
    notHolds: [['holds', 'player', 'lamp']],
  },
  {
    name: 'drop where the actor’s place is unknown → just released',
    build: (h) => {
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
      h.add('ActionPerformed', { actor: 'player', action: 'drop', target: 'lamp' });
    },
    notHolds: [['holds', 'player', 'lamp'], ['at', 'lamp']],
  },
  {
    name: 'other actions are momentary did(...) only',
    build: (h) => {
      h.add('ActionPerformed', { actor: 'player', action: 'wave' });
      h.add('ActionPerformed', { actor: 'player', action: 'light', target: 'lamp' });
    },
    holds: [['did', 'player', 'wave'], ['did', 'player', 'light', 'lamp']],
    notHolds: [['holds', 'player', 'lamp']],
  },
  {
    name: 'MovementAction → at(actor, to), replacing the old place',
    build: (h) => {
      h.add('MovementAction', { actor: 'player', from: 'hall', to: 'cellar' });
      h.add('MovementAction', { actor: 'player', from: 'cellar', to: 'garden' });
    },
    holds: [['at', 'player', 'garden']],
    notHolds: [['at', 'player', 'cellar']],
  },
  {
    name: 'SceneEntered → visited, present for the cast, presence of others cleared, momentary cleared',
    build: (h) => {
      h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara', 'tom'] });
      h.input('look');
      h.add('ExaminationAction', { actor: 'player', target: 'door' });
      h.add('SceneEntered', { sceneId: SCENE_B, sceneKey: 'cellar', characters: ['tom'] });
    },
    holds: [['visited', 'hall'], ['visited', 'cellar'], ['present', 'tom']],
    notHolds: [['present', 'mara'], ['examined', 'player', 'door']],
    also: (ts) => {
      expect(ts.scene).toEqual({ id: SCENE_B, key: 'cellar' });
      expect(ts.momentary.utterances).toEqual([]);
    },
  },
  {
    name: 'SceneExited → no scene, nobody present, momentary cleared; visited stays',
    build: (h) => {
      h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: ['mara'] });
      h.add('SpeechAct', { speaker: 'player', addressee: 'mara', content: 'bye' });
      h.add('SceneExited', { sceneId: SCENE_A, sceneKey: 'hall', reason: 'goal', nextSceneKey: 'cellar' });
    },
    holds: [['visited', 'hall']],
    notHolds: [['present', 'mara'], ['said', 'player']],
    also: (ts) => expect(ts.scene).toBeNull(),
  },
  {
    name: 'CharacterArrival / CharacterDeparture → present, departed(character, significance)',
    build: (h) => {
      h.add('SceneEntered', { sceneId: SCENE_A, sceneKey: 'hall', characters: [] });
      h.add('CharacterArrival', { character: 'mara', sceneId: SCENE_A });
      h.add('CharacterArrival', { character: 'tom', sceneId: SCENE_A });
      h.add('CharacterDeparture', { character: 'tom', sceneId: SCENE_A, significance: 'irreversible' });
    },
    holds: [['present', 'mara'], ['departed', 'tom', 'irreversible']],
    notHolds: [['present', 'tom'], ['departed', 'mara']],
  },
  {
    name: 'a returning character is present again and no longer departed',
    build: (h) => {
      h.add('CharacterDeparture', { character: 'tom', sceneId: SCENE_A });
      h.add('CharacterArrival', { character: 'tom', sceneId: SCENE_A });
    },
    holds: [['present', 'tom']],
    notHolds: [['departed', 'tom']],
  },
  {
    name: 'InformationRevealed → knows(recipient, gate); GateFired; GoalCompleted',
    build: (h) => {
      h.add('InformationRevealed', { gateId: 'g1', recipient: 'player', content: 'the key is in the well' });
      h.add('GateFired', { gateId: 'g1' });
      h.add('GoalCompleted', { goalId: 'find-key' });
    },
    holds: [['knows', 'player', 'g1'], ['gate_fired', 'g1'], ['goal_completed', 'find-key']],
    notHolds: [['knows', 'mara', 'g1'], ['gate_fired', 'g2']],
  },
  {
    name: 'ExaminationAction / SpeechAct / ConstraintViolation → momentary examined, said, violated',
    build: (h) => {
      h.input('hello');
      h.add('ExaminationAction', { actor: 'player', target: 'door' });
      h.add('SpeechAct', { speaker: 'player', addressee: 'mara', content: 'hello Mara' });
      h.add('SpeechAct', { speaker: 'mara', content: 'hm' });
      h.add('ConstraintViolation', { actor: 'player', action: 'fly away', constraint: 'no wings' });
    },
    holds: [['examined', 'player', 'door'], ['said', 'player', 'mara'], ['said', 'mara'], ['violated', 'player', 'fly_away']],
    notHolds: [['said', 'mara', 'player']],
    also: (ts) => expect(ts.momentary.utterances).toEqual(['hello', 'hello Mara', 'hm']),
  },
  {
    name: 'momentary propositions end when the next PlayerInput arrives; persistent ones stay',
    build: (h) => {
      h.input('take the lamp');
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
      h.add('TurnCompleted', { inputId: 1, turn: 1 });
      h.input('wait');
    },
    holds: [['holds', 'player', 'lamp']],
    notHolds: [['did', 'player', 'take']],
    also: (ts) => {
      expect(ts.momentary).toEqual({ turn: 2, propositions: [], utterances: ['wait'] });
      expect(ts.turn).toBe(2);
      expect(ts.completedTurn).toBe(1);
    },
  },
  {
    name: 'TurnCompleted does not end the turn’s momentary propositions (triggers still see them)',
    build: (h) => {
      h.input('look');
      h.add('ExaminationAction', { actor: 'player', target: 'door' });
      h.add('TurnCompleted', { inputId: 1, turn: 1 });
    },
    holds: [['examined', 'player', 'door']],
  },
  {
    name: 'a late row of an earlier turn keeps its persistent effect but not its momentary one',
    build: (h) => {
      h.input('one');
      h.input('two');
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' }, { turn: 1 });
      h.add('SpeechAct', { speaker: 'mara', content: 'late words' }, { turn: 1 });
    },
    holds: [['holds', 'player', 'lamp']],
    notHolds: [['did', 'player'], ['said', 'mara']],
    also: (ts) => expect(ts.momentary.utterances).toEqual(['two']),
  },
  {
    name: 'EntityPromoted / EntityDemoted → one tier(entity, tier)',
    build: (h) => {
      h.add('EntityPromoted', { entity: 'lamp', toTier: 'tracked' });
      h.add('EntityPromoted', { entity: 'lamp', toTier: 'persistent' });
      h.add('EntityDemoted', { entity: 'key', toTier: 'mentioned' });
    },
    holds: [['tier', 'lamp', 'persistent'], ['tier', 'key', 'mentioned']],
    notHolds: [['tier', 'lamp', 'tracked']],
  },
  {
    name: 'EntityDissolved → dissolved(entity); it is no longer held, placed, present or tiered',
    build: (h) => {
      h.add('EntityPromoted', { entity: 'lamp', toTier: 'tracked' });
      h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
      h.add('EntityDissolved', { entity: 'lamp' });
    },
    holds: [['dissolved', 'lamp']],
    notHolds: [['holds', 'player', 'lamp'], ['tier', 'lamp']],
  },
  {
    name: 'WorldStateChanged → world(key) = value; null unsets',
    build: (h) => {
      h.add('WorldStateChanged', { key: 'door', old: null, new: 'open' });
      h.add('WorldStateChanged', { key: 'weather', old: null, new: 'rain' });
      h.add('WorldStateChanged', { key: 'weather', old: 'rain', new: null });
      h.add('WorldStateChanged', { key: 'count', old: null, new: 3 });
    },
    holds: [['world', 'door', 'open'], ['world', 'door'], ['world', 'count', '3'], ['world', 'weather', 'null']],
    notHolds: [['world', 'door', 'closed'], ['world', 'weather']],
    also: (ts) => {
      expect(worldValue(ts, 'door')).toBe('open');
      expect(worldValue(ts, 'weather')).toBeNull();
      expect(ts.world).toEqual({ count: 3, door: 'open' });
    },
  },
  {
    name: 'RelationshipShifted → accumulator rel:<from>:<to>:<dimension> sums deltas',
    build: (h) => {
      h.add('RelationshipShifted', { from: 'mara', to: 'player', dimension: 'trust_benevolence', delta: 0.5 });
      h.add('RelationshipShifted', { from: 'mara', to: 'player', dimension: 'trust_benevolence', delta: 0.25 });
      h.add('RelationshipShifted', { from: 'player', to: 'mara', dimension: 'affection', delta: -1 });
    },
    also: (ts) => {
      expect(accumulatorValue(ts, 'rel:mara:player:trust_benevolence')).toBe(0.75);
      expect(accumulatorValue(ts, 'rel:player:mara:affection')).toBe(-1);
      expect(accumulatorValue(ts, 'rel:tom:player:debt')).toBe(0);
    },
  },
  {
    name: 'ThresholdCrossed → threshold_crossed(key, threshold)',
    build: (h) => {
      h.add('ThresholdCrossed', { key: 'tension', threshold: 2.5, value: 2.7 });
    },
    holds: [['threshold_crossed', 'tension'], ['threshold_crossed', 'tension', '2.5']],
    notHolds: [['threshold_crossed', 'tension', '3']],
  },
  {
    name: 'InterpretiveJudgment → judged(category, subject) with its confidence',
    build: (h) => {
      h.add('InterpretiveJudgment', judgment('j1', 0.7));
      h.add('InterpretiveJudgment', judgment('j2', 0.3, { category: 'DeceptionDetected', subject: 'tom' }));
    },
    holds: [['judged', 'TrustShift', 'mara'], ['judged', 'TrustShift']],
    notHolds: [['judged', 'DeceptionDetected', 'tom'], ['judged', 'TrustShift', 'tom'], ['judged', 'NotACategory']],
    also: (ts) => expect(judgmentConfidence(ts, 'TrustShift', 'mara')).toBeCloseTo(0.7),
  },
  {
    name: 'repeated judgments combine by noisy-OR: 1 − (1−0.4)(1−0.5) = 0.7',
    build: (h) => {
      h.add('InterpretiveJudgment', judgment('j1', 0.4, { provisional: true }));
      h.add('InterpretiveJudgment', judgment('j2', 0.5, { provisional: true }));
    },
    holds: [['judged', 'TrustShift', 'mara']],
    also: (ts) => expect(judgmentConfidence(ts, 'TrustShift', 'mara')).toBeCloseTo(0.7),
  },
  {
    name: 'a stage-4 judgment with `replaces` supersedes the provisional one (also across categories)',
    build: (h) => {
      h.add('InterpretiveJudgment', judgment('p1', 0.9, { provisional: true }));
      h.add('InterpretiveJudgment', judgment('s4', 0.2, { category: 'AffectionShift', replaces: 'p1' }));
    },
    notHolds: [['judged', 'TrustShift', 'mara'], ['judged', 'AffectionShift', 'mara']],
    also: (ts) => {
      expect(judgmentConfidence(ts, 'TrustShift', 'mara')).toBe(0);
      expect(judgmentConfidence(ts, 'AffectionShift', 'mara')).toBeCloseTo(0.2);
      expect(ts.judgments.map((j) => j.id)).toEqual(['s4']);
    },
  },
  {
    name: 'interpretivePropositions lists each judged(category, subject) once with its combined confidence',
    build: (h) => {
      h.add('InterpretiveJudgment', judgment('j1', 0.4));
      h.add('InterpretiveJudgment', judgment('j2', 0.5));
      h.add('InterpretiveJudgment', judgment('j3', 0.3, { subject: 'tom' }));
      h.add('InterpretiveJudgment', judgment('j4', 0.9, { category: 'AffectionShift', subject: undefined }));
    },
    also: (ts) => {
      const list = interpretivePropositions(ts);
      expect(list.map((p) => [p.category, p.subject])).toEqual([['AffectionShift', null], ['TrustShift', 'mara'], ['TrustShift', 'tom']]);
      expect(list.map((p) => p.confidence)).toEqual([0.9, expect.closeTo(0.7), 0.3]);
      expect(judgmentConfidence(ts, 'TrustShift')).toBeCloseTo(0.7);
    },
  },
  {
    name: 'the same judgment id applied twice counts once',
    build: (h) => {
      h.add('InterpretiveJudgment', judgment('j1', 0.6));
      h.add('InterpretiveJudgment', judgment('j1', 0.6));
    },
    also: (ts) => expect(judgmentConfidence(ts, 'TrustShift', 'mara')).toBeCloseTo(0.6),
  },
  {
    name: 'DeferredResultApplied → its effects (relationship, accumulator, world, assert, retract); unknown effects ignored',
    build: (h) => {
      h.add('InformationRevealed', { gateId: 'g1', recipient: 'mara' });
      h.add('DeferredResultApplied', {
        workflowKey: 'scene-exit',
        effects: [
          { kind: 'relationship', from: 'mara', to: 'player', dimension: 'debt', delta: 1 },
          { kind: 'accumulator', key: 'tension', delta: 2 },
          { kind: 'world', key: 'season', value: 'winter' },
          { kind: 'assert', predicate: 'knows', args: ['tom', 'g1'] },
          { kind: 'retract', predicate: 'knows', args: ['mara'] },
          { kind: 'teleport', who: 'tom' },
          { kind: 'accumulator', key: 'tension' },
        ],
      });
    },
    holds: [['knows', 'tom', 'g1'], ['world', 'season', 'winter']],
    notHolds: [['knows', 'mara', 'g1'], ['teleport']],
    also: (ts) => {
      expect(ts.accumulators).toEqual({ 'rel:mara:player:debt': 1, tension: 2 });
    },
  },
  {
    name: 'EffectRefused → nothing becomes true (an audit record of an effect not applied)',
    build: (h) => {
      h.add('EffectRefused', { effect: 'edge_update', code: 'GRAPH_VERTEX_UNKNOWN', reason: 'no vertex ghost', subject: { from: 'mara', to: 'ghost' } });
    },
    notHolds: [['knows', 'mara', 'ghost']],
    also: (ts) => {
      expect(ts.persistent).toEqual([]);
      expect(ts.accumulators).toEqual({});
    },
  },
];

describe('event → proposition translation rules', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const h = new HistoryBuilder();
    row.build(h);
    const ts = applyEvents(emptyTruthSet(), h.records);
    for (const [p, ...args] of row.holds ?? []) expect(holds(ts, p, ...args), `${p}(${args.join(', ')}) should hold`).toBe(true);
    for (const [p, ...args] of row.notHolds ?? []) expect(holds(ts, p, ...args), `${p}(${args.join(', ')}) should not hold`).toBe(false);
    row.also?.(ts);
  });

  it('has a rule for every event type the ledger accepts', () => {
    const covered = new Set<EventType>();
    for (const row of ROWS) {
      const h = new HistoryBuilder();
      row.build(h);
      for (const r of h.records) covered.add(r.type);
    }
    expect(EVENT_TYPES.filter((t) => !covered.has(t))).toEqual([]);
  });

  it('PlayerInput and TurnCompleted only touch turn bookkeeping and momentary scope', () => {
    const h = new HistoryBuilder();
    h.input('hello');
    h.add('TurnCompleted', { inputId: 1, turn: 1, degraded: ['narrator'] });
    expect(translateEvent(h.records[0]!).map((o) => o.op)).toEqual(['beginTurn', 'utterance']);
    expect(translateEvent(h.records[1]!).map((o) => o.op)).toEqual(['completeTurn']);
    const ts = applyEvents(emptyTruthSet(), h.records);
    expect(ts.persistent).toEqual([]);
    expect(ts.lastNarrativeTs).toBe(2);
  });

  it('applyEvent is pure: the input truth set is not changed', () => {
    const h = new HistoryBuilder();
    h.add('ActionPerformed', { actor: 'player', action: 'take', target: 'lamp' });
    const before = emptyTruthSet();
    const frozen = JSON.stringify(before);
    const after = applyEvent(before, h.records[0]!);
    expect(JSON.stringify(before)).toBe(frozen);
    expect(after).not.toBe(before);
  });

  it('records since when a proposition has held (the temporal index); re-asserting keeps the first time', () => {
    const h = new HistoryBuilder();
    h.add('GateFired', { gateId: 'g1' });
    h.add('GateFired', { gateId: 'g1' });
    h.add('MovementAction', { actor: 'player', from: 'hall', to: 'cellar' });
    const ts = applyEvents(emptyTruthSet(), h.records);
    expect(propositionSince(ts, 'gate_fired', 'g1')).toBe(1);
    expect(propositionSince(ts, 'at', 'player', 'cellar')).toBe(3);
    expect(propositionSince(ts, 'at', 'player', 'hall')).toBeNull();
  });

  it(`keeps at most ${MAX_JUDGMENTS_PER_PROPOSITION} judgments per proposition, dropping the oldest`, () => {
    const h = new HistoryBuilder();
    for (let i = 0; i < MAX_JUDGMENTS_PER_PROPOSITION + 4; i++) h.add('InterpretiveJudgment', judgment(`j${String(i).padStart(2, '0')}`, 0.1));
    const ts = applyEvents(emptyTruthSet(), h.records);
    expect(ts.judgments).toHaveLength(MAX_JUDGMENTS_PER_PROPOSITION);
    expect(ts.judgments[0]!.id).toBe('j04');
  });

  it('orders propositions canonically regardless of the order they became true', () => {
    const a = new HistoryBuilder();
    a.add('GateFired', { gateId: 'g2' });
    a.add('GateFired', { gateId: 'g1' });
    const ts = applyEvents(emptyTruthSet(), a.records);
    expect(ts.persistent.map((p) => p.args[0])).toEqual(['g1', 'g2']);
  });
});
