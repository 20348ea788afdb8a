import fc from 'fast-check';
import { EVENT_DATA_SCHEMAS, type EventData, type EventType } from '../../src/domain/events.ts';
import type { TruthEvent } from '../../src/domain/truth-set.ts';

/** Test helpers shared by the truth-set, predicate and temporal tests. */

export const SCENE_A = '00000000-0000-4000-8000-00000000000a';
export const SCENE_B = '00000000-0000-4000-8000-00000000000b';

/** Builds a valid ledger-like history: consecutive narrative_ts and ids, the current turn on every row. */
export class HistoryBuilder {
  readonly records: TruthEvent[] = [];
  private ts: number;
  turn = 0;

  constructor(startTs = 0) {
    this.ts = startTs;
  }

  add<T extends EventType>(type: T, data: EventData<T> | Record<string, unknown>, meta: { turn?: number | null } = {}): TruthEvent {
    const parsed = EVENT_DATA_SCHEMAS[type].parse(data);
    this.ts += 1;
    const record = { type, data: parsed, narrativeTs: this.ts, id: this.ts, turn: meta.turn === undefined ? this.turn : meta.turn } as TruthEvent;
    this.records.push(record);
    return record;
  }

  input(text: string): TruthEvent {
    this.turn += 1;
    return this.add('PlayerInput', { clientInputId: `c${this.turn}`, text });
  }

  /** Skips narrative_ts values (other rows, e.g. of no interest). */
  gap(n: number): this {
    this.ts += n;
    return this;
  }
}

/** One event of any type; the data is a raw object (passes its schema) drawn from small id pools so events interact. */
const actor = fc.constantFrom('player', 'mara', 'tom');
const item = fc.constantFrom('lamp', 'key', 'letter');
const place = fc.constantFrom('hall', 'cellar', 'garden');
const sceneKey = fc.constantFrom('hall', 'cellar');
const sceneId = fc.constantFrom(SCENE_A, SCENE_B);
const smallText = fc.constantFrom('the lamp', 'hello Mara', 'where is the key', 'nothing');
const dimension = fc.constantFrom('trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt');
const judgmentId = fc.constantFrom('j1', 'j2', 'j3', 'j4', 'j5');
const category = fc.constantFrom('TrustShift', 'EmotionalRegisterShift', 'DeceptionDetected');
const jsonish = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -5, max: 5 }), fc.constantFrom('open', 'closed'), fc.constant({ b: 1, a: [2, 'x'] }));

const eventData: fc.Arbitrary<{ type: EventType; data: Record<string, unknown> }> = fc.oneof(
  // PlayerInput weighted up so sequences span several turns (momentary scope).
  { arbitrary: fc.record({ type: fc.constant<EventType>('PlayerInput'), data: fc.record({ clientInputId: fc.constant('x'), text: smallText }) }), weight: 4 },
  fc.record({
    type: fc.constant<EventType>('ActionPerformed'),
    data: fc.record(
      { actor, action: fc.constantFrom('take', 'give', 'drop', 'wave', 'Pick Up'), target: item, recipient: actor },
      { requiredKeys: ['actor', 'action'] },
    ),
  }),
  fc.record({ type: fc.constant<EventType>('SpeechAct'), data: fc.record({ speaker: actor, addressee: actor, content: smallText }, { requiredKeys: ['speaker', 'content'] }) }),
  fc.record({ type: fc.constant<EventType>('MovementAction'), data: fc.record({ actor, from: place, to: place }) }),
  fc.record({ type: fc.constant<EventType>('ExaminationAction'), data: fc.record({ actor, target: item }) }),
  fc.record({ type: fc.constant<EventType>('SceneEntered'), data: fc.record({ sceneId, sceneKey, characters: fc.subarray(['mara', 'tom']) }) }),
  fc.record({ type: fc.constant<EventType>('SceneExited'), data: fc.record({ sceneId, sceneKey, reason: fc.constant('goal'), nextSceneKey: fc.option(sceneKey) }) }),
  fc.record({ type: fc.constant<EventType>('CharacterArrival'), data: fc.record({ character: actor, sceneId }) }),
  fc.record({
    type: fc.constant<EventType>('CharacterDeparture'),
    data: fc.record({ character: actor, sceneId, significance: fc.constantFrom('trivial', 'casual', 'significant', 'irreversible') }),
  }),
  fc.record({ type: fc.constant<EventType>('InformationRevealed'), data: fc.record({ gateId: fc.constantFrom('g1', 'g2'), recipient: actor }) }),
  fc.record({ type: fc.constant<EventType>('ConstraintViolation'), data: fc.record({ actor, action: fc.constant('fly'), constraint: fc.constant('no wings') }) }),
  fc.record({ type: fc.constant<EventType>('EntityPromoted'), data: fc.record({ entity: item, toTier: fc.constantFrom('mentioned', 'tracked') }) }),
  fc.record({ type: fc.constant<EventType>('EntityDemoted'), data: fc.record({ entity: item, toTier: fc.constantFrom('unmentioned', 'mentioned') }) }),
  fc.record({ type: fc.constant<EventType>('EntityDissolved'), data: fc.record({ entity: item }) }),
  fc.record({ type: fc.constant<EventType>('WorldStateChanged'), data: fc.record({ key: fc.constantFrom('door', 'weather'), old: jsonish, new: jsonish }) }),
  fc.record({
    type: fc.constant<EventType>('RelationshipShifted'),
    data: fc.record({ from: actor, to: actor, dimension, delta: fc.integer({ min: -20, max: 20 }).map((n) => n / 10) }),
  }),
  fc.record({ type: fc.constant<EventType>('GoalCompleted'), data: fc.record({ goalId: fc.constantFrom('find-key', 'calm-mara') }) }),
  fc.record({ type: fc.constant<EventType>('GateFired'), data: fc.record({ gateId: fc.constantFrom('g1', 'g2') }) }),
  fc.record({ type: fc.constant<EventType>('ThresholdCrossed'), data: fc.record({ key: fc.constant('tension'), threshold: fc.constantFrom(1, 2.5), value: fc.integer({ min: 0, max: 50 }).map((n) => n / 10) }) }),
  fc.record({
    type: fc.constant<EventType>('InterpretiveJudgment'),
    data: fc.record(
      {
        id: judgmentId,
        category,
        subject: actor,
        // Hundredths: the ledger mirrors confidence into a REAL column, which refuses subnormal doubles such as 6e-240.
        confidence: fc.integer({ min: 0, max: 100 }).map((n) => n / 100),
        evidence: fc.constant([1]),
        description: fc.constantFrom('calm', 'wary', 'guarded'),
        source: fc.constant({ kind: 'classifier' }),
        provisional: fc.boolean(),
        replaces: judgmentId,
      },
      { requiredKeys: ['id', 'category', 'confidence', 'evidence', 'description', 'source'] },
    ),
  }),
  fc.record({ type: fc.constant<EventType>('TurnCompleted'), data: fc.record({ inputId: fc.integer({ min: 1, max: 50 }), turn: fc.integer({ min: 0, max: 10 }) }) }),
  fc.record({
    type: fc.constant<EventType>('DeferredResultApplied'),
    data: fc.record({
      workflowKey: fc.constant('scene-exit'),
      effects: fc.array(
        fc.oneof(
          fc.record({ kind: fc.constant('relationship'), from: actor, to: actor, dimension, delta: fc.integer({ min: -10, max: 10 }).map((n) => n / 10) }),
          fc.record({ kind: fc.constant('accumulator'), key: fc.constant('tension'), delta: fc.integer({ min: -2, max: 2 }) }),
          fc.record({ kind: fc.constant('world'), key: fc.constantFrom('door', 'season'), value: jsonish }),
          fc.record({ kind: fc.constant('assert'), predicate: fc.constant('knows'), args: fc.tuple(actor, fc.constant('g3')) }),
          fc.record({ kind: fc.constant('retract'), predicate: fc.constant('knows'), args: fc.tuple(actor) }),
          fc.record({ kind: fc.constant('unknown-kind'), x: fc.integer() }),
        ),
        { maxLength: 4 },
      ),
    }),
  }),
);

/**
 * Random valid event sequences: consecutive narrative_ts, turns that advance with
 * each PlayerInput, and now and then a late row carrying an older turn (async writes).
 */
export const eventSequence = (maxLength = 60): fc.Arbitrary<TruthEvent[]> =>
  fc.array(fc.tuple(eventData, fc.integer({ min: 0, max: 9 })), { maxLength, size: 'max' }).map((items) => {
    const h = new HistoryBuilder();
    for (const [{ type, data }, lateness] of items) {
      if (type === 'PlayerInput') h.input(String(data.text));
      else h.add(type, data, { turn: lateness === 0 && h.turn > 0 ? h.turn - 1 : h.turn });
    }
    return h.records;
  });
