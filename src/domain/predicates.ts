import { z } from 'zod';
import { EVENT_TYPES, judgmentCategory, relationalDimension, type EventType } from './events.ts';

/**
 * Trigger predicates (domain.md: "Triggers and temporal predicates"): the one
 * condition language of the runtime. Story gates, goals, exit conditions,
 * contingent cast members and sensitivity entries are all written in it, and it is
 * evaluated against the truth set (atoms) and the ledger (temporal forms, by
 * narrative_ts). Nesting depth is at most 4.
 *
 * Proposition vocabulary the truth-set translation rules produce (atoms refer to it;
 * rules in src/domain/propositions.ts, full table in docs/truth-set.md):
 *   holds(holder, item)          persistent   ActionPerformed take/give/drop (one holder per item)
 *   at(entity, place)            persistent   MovementAction; a dropped item lies where its dropper is
 *   knows(recipient, gateId)     persistent   InformationRevealed
 *   gate_fired(gateId)           persistent   GateFired
 *   goal_completed(goalId)       persistent   GoalCompleted
 *   visited(sceneKey)            persistent   SceneEntered
 *   present(character)           persistent   SceneEntered (the cast; others cleared) / CharacterArrival /
 *                                             CharacterDeparture; SceneExited clears all
 *   departed(character, significance) persistent CharacterDeparture (cleared by CharacterArrival)
 *   tier(entity, tier)           persistent   EntityPromoted / EntityDemoted
 *   dissolved(entity)            persistent   EntityDissolved (also drops its holds/at/present/tier)
 *   threshold_crossed(key, threshold) persistent ThresholdCrossed
 *   world(key) = value           persistent   WorldStateChanged (null unsets)
 *   examined(actor, target)      momentary    ExaminationAction
 *   said(speaker, addressee?)    momentary    SpeechAct
 *   did(actor, action, target?)  momentary    ActionPerformed (action lower-cased, spaces → _)
 *   violated(actor, action)      momentary    ConstraintViolation
 *   judged(category, subject?)   interpretive InterpretiveJudgment, weighted by confidence (noisy-OR of
 *                                             the judgments kept; `replaces` removes the replaced one)
 *   accumulators: rel:<from>:<to>:<dimension> (sum of RelationshipShifted deltas); DeferredResultApplied
 *   effects may add to any accumulator key, set world keys, assert/retract persistent propositions.
 * Momentary propositions belong to the current turn: the next PlayerInput, SceneEntered or
 * SceneExited ends them. In `holds` atoms the args are a prefix pattern and "*" matches
 * any value: { predicate: 'holds', args: ['player'] } = the player holds something.
 */

const id = z.string().min(1).max(200);

export const eventPatternSchema = z
  .object({
    type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]).optional(),
    /** Matches any string field of the event's data equal to this value (actor, target, speaker…). */
    involving: id.optional(),
    actor: id.optional(),
    action: z.string().max(64).optional(),
    target: id.optional(),
    /** A keyword or phrase that must occur as whole words (case-insensitive) in PlayerInput text or SpeechAct content. */
    topic: z.string().min(1).max(100).optional(),
    /** A specific ledger event id. */
    eventId: z.number().int().positive().optional(),
  })
  .strict();
export type EventPattern = z.infer<typeof eventPatternSchema>;

export const atomSchema = z.union([
  z.object({ holds: z.object({ predicate: id, args: z.array(id).max(4) }).strict() }).strict(),
  z.object({ eventOccurred: eventPatternSchema }).strict(),
  z.object({ characterPresent: id }).strict(),
  z.object({ worldState: z.object({ key: id, equals: z.union([z.string(), z.number(), z.boolean(), z.null()]) }).strict() }).strict(),
  z.object({ topicMentioned: z.string().min(1).max(100) }).strict(),
  z.object({ settingFeature: id }).strict(),
  z.object({ emotionalRegister: z.object({ character: id, register: id }).strict() }).strict(),
  z
    .object({
      relationship: z
        .object({ from: id, to: id, dimension: relationalDimension, atLeast: z.number().optional(), atMost: z.number().optional() })
        .strict(),
    })
    .strict(),
  z.object({ accumulator: z.object({ key: id, atLeast: z.number().optional(), atMost: z.number().optional() }).strict() }).strict(),
  z
    .object({
      judgment: z
        .object({ category: judgmentCategory, subject: id.optional(), minConfidence: z.number().min(0).max(1).default(0.5) })
        .strict(),
    })
    .strict(),
]);
export type Atom = z.infer<typeof atomSchema>;

export type TriggerPredicate =
  | Atom
  | { all: TriggerPredicate[] }
  | { any: TriggerPredicate[] }
  | { not: TriggerPredicate }
  | { difference: { include: TriggerPredicate; exclude: TriggerPredicate } }
  | { threshold: { of: TriggerPredicate[]; minMatch: number } }
  /** True when an event matching `event` occurred and `then` holds now. */
  | { after: { event: EventPattern; then: TriggerPredicate } }
  /** True when an event matching `event` occurred and `holds` has held continuously since it
   *  (right after the newest such event, after every later ledger row, and now). */
  | { since: { event: EventPattern; holds: TriggerPredicate } }
  /** True when distinct events matching each pattern occurred in this order and, if `within` is given,
   *  last.narrative_ts − first.narrative_ts ≤ within (one narrative_ts step per ledger row). */
  | { sequence: { events: EventPattern[]; within?: number } };

export const MAX_PREDICATE_DEPTH = 4;

export const triggerPredicateSchema: z.ZodType<TriggerPredicate> = z.lazy(() =>
  z.union([
    atomSchema,
    z.object({ all: z.array(triggerPredicateSchema).min(1).max(32) }).strict(),
    z.object({ any: z.array(triggerPredicateSchema).min(1).max(32) }).strict(),
    z.object({ not: triggerPredicateSchema }).strict(),
    z.object({ difference: z.object({ include: triggerPredicateSchema, exclude: triggerPredicateSchema }).strict() }).strict(),
    z
      .object({ threshold: z.object({ of: z.array(triggerPredicateSchema).min(1).max(32), minMatch: z.number().positive() }).strict() })
      .strict(),
    z.object({ after: z.object({ event: eventPatternSchema, then: triggerPredicateSchema }).strict() }).strict(),
    z.object({ since: z.object({ event: eventPatternSchema, holds: triggerPredicateSchema }).strict() }).strict(),
    z
      .object({ sequence: z.object({ events: z.array(eventPatternSchema).min(1).max(16), within: z.number().int().positive().optional() }).strict() })
      .strict(),
  ]),
);

/** Depth of nesting of the combinators (an atom is depth 0). */
export function predicateDepth(p: TriggerPredicate): number {
  if ('all' in p) return 1 + Math.max(...p.all.map(predicateDepth));
  if ('any' in p) return 1 + Math.max(...p.any.map(predicateDepth));
  if ('not' in p) return 1 + predicateDepth(p.not);
  if ('difference' in p) return 1 + Math.max(predicateDepth(p.difference.include), predicateDepth(p.difference.exclude));
  if ('threshold' in p) return 1 + Math.max(...p.threshold.of.map(predicateDepth));
  if ('after' in p) return 1 + predicateDepth(p.after.then);
  if ('since' in p) return 1 + predicateDepth(p.since.holds);
  return 0;
}

/** The schema plus the depth limit: what story files and sensitivity entries are checked with. */
export const boundedPredicateSchema = triggerPredicateSchema.refine((p) => predicateDepth(p) <= MAX_PREDICATE_DEPTH, {
  message: `predicates nest at most ${MAX_PREDICATE_DEPTH} deep`,
});
