import { z } from 'zod';
import { relationalDimension, type EventData, type EventType, type JudgmentCategory } from './events.ts';

/**
 * Event → proposition translation rules (seed: "Truth Set Reconstruction", step 3;
 * domain.md: "Events"). Each ledger event becomes a short list of {@link TruthOp}s;
 * `applyEvent` in truth-set.ts carries them out. The rules are pure and look at the
 * event only, so a replay of the same events always gives the same truth set.
 *
 * The vocabulary is the comment at the top of predicates.ts; docs/truth-set.md has
 * the full table.
 */

/** The entity id the runtime uses for the player (PlayerInput has no actor field). */
export const PLAYER_ID = 'player';

/** Reserved argument in retractions and queries: matches any value in that position. */
export const WILDCARD = '*';

/** One event as the truth set sees it: a ledger row, or an event about to become one. */
export type TruthEvent = {
  [T in EventType]: {
    type: T;
    data: EventData<T>;
    narrativeTs: number;
    id?: number;
    turn?: number | null;
    sceneId?: string | null;
  };
}[EventType];

export type PropositionScope = 'persistent' | 'momentary';

/** A stored judgment: one contribution to the interpretive proposition judged(category, subject). */
export interface JudgmentEntry {
  id: string;
  category: JudgmentCategory;
  subject: string | null;
  confidence: number;
  provisional: boolean;
  /** narrative_ts of the event that recorded it. */
  ts: number;
  description: string;
}

/** The primitive changes the translation rules are written in. */
export type TruthOp =
  | { op: 'assert'; scope: PropositionScope; predicate: string; args: string[] }
  /** Removes every persistent proposition the pattern matches (`*` = any, shorter pattern = prefix). */
  | { op: 'retract'; predicate: string; args: string[] }
  /** at(item, place) where `holder` is, if the truth set knows where `holder` is. */
  | { op: 'placeWhereHolderIs'; item: string; holder: string }
  /** A new turn's PlayerInput: momentary propositions of the previous turn end. */
  | { op: 'beginTurn'; turn: number | null }
  | { op: 'clearMomentary' }
  | { op: 'utterance'; text: string }
  | { op: 'setScene'; scene: { id: string; key: string } | null }
  /** `value` null (or absent) removes the key. */
  | { op: 'setWorld'; key: string; value: unknown }
  | { op: 'addAccumulator'; key: string; delta: number }
  | { op: 'judge'; judgment: JudgmentEntry; replaces: string | null }
  | { op: 'completeTurn'; turn: number };

// ---- action verbs with persistent consequences (normalised: lower case, spaces/hyphens → _)
export const TAKE_ACTIONS: ReadonlySet<string> = new Set(['take', 'pick_up', 'pickup', 'grab', 'steal', 'get']);
export const GIVE_ACTIONS: ReadonlySet<string> = new Set(['give', 'hand', 'pass']);
export const DROP_ACTIONS: ReadonlySet<string> = new Set(['drop', 'put_down', 'discard', 'leave']);

export function normaliseAction(action: string): string {
  return action.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** Accumulator key of a relationship dimension: `rel:<from>:<to>:<dimension>`. */
export function relationshipKey(from: string, to: string, dimension: string): string {
  return `rel:${from}:${to}:${dimension}`;
}

/**
 * The effect vocabulary of `DeferredResultApplied.effects` (deferred scene-boundary
 * work writing its results back). Effects that fail this schema are ignored, so an
 * older runtime replaying a newer ledger stays deterministic; producers should
 * validate with `deferredEffectSchema` before writing.
 */
export const deferredEffectSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('relationship'), from: z.string().min(1), to: z.string().min(1), dimension: relationalDimension, delta: z.number().finite() }),
  z.object({ kind: z.literal('accumulator'), key: z.string().min(1), delta: z.number().finite() }),
  z.object({ kind: z.literal('world'), key: z.string().min(1), value: z.unknown() }),
  z.object({ kind: z.literal('assert'), predicate: z.string().min(1), args: z.array(z.string().min(1)).max(4) }),
  z.object({ kind: z.literal('retract'), predicate: z.string().min(1), args: z.array(z.string().min(1)).max(4) }),
]);
export type DeferredEffect = z.infer<typeof deferredEffectSchema>;

const persistent = (predicate: string, ...args: string[]): TruthOp => ({ op: 'assert', scope: 'persistent', predicate, args });
const momentary = (predicate: string, ...args: string[]): TruthOp => ({ op: 'assert', scope: 'momentary', predicate, args });
const retract = (predicate: string, ...args: string[]): TruthOp => ({ op: 'retract', predicate, args });

function actionOps(d: EventData<'ActionPerformed'>): TruthOp[] {
  const ops: TruthOp[] = [d.target === undefined ? momentary('did', d.actor, normaliseAction(d.action)) : momentary('did', d.actor, normaliseAction(d.action), d.target)];
  if (d.target === undefined) return ops;
  const verb = normaliseAction(d.action);
  if (TAKE_ACTIONS.has(verb)) {
    // An item has one holder and is no longer lying anywhere.
    ops.push(retract('holds', WILDCARD, d.target), retract('at', d.target), persistent('holds', d.actor, d.target));
  } else if (GIVE_ACTIONS.has(verb)) {
    ops.push(retract('holds', WILDCARD, d.target));
    if (d.recipient !== undefined) ops.push(persistent('holds', d.recipient, d.target));
  } else if (DROP_ACTIONS.has(verb)) {
    ops.push(retract('holds', d.actor, d.target), { op: 'placeWhereHolderIs', item: d.target, holder: d.actor });
  }
  return ops;
}

function effectOps(effect: DeferredEffect): TruthOp[] {
  switch (effect.kind) {
    case 'relationship':
      return [{ op: 'addAccumulator', key: relationshipKey(effect.from, effect.to, effect.dimension), delta: effect.delta }];
    case 'accumulator':
      return [{ op: 'addAccumulator', key: effect.key, delta: effect.delta }];
    case 'world':
      return [{ op: 'setWorld', key: effect.key, value: effect.value }];
    case 'assert':
      return [persistent(effect.predicate, ...effect.args)];
    case 'retract':
      return [retract(effect.predicate, ...effect.args)];
  }
}

/**
 * The translation rules: what one event changes in the truth set.
 *
 * @example
 * translateEvent({ type: 'MovementAction', data: { actor: 'player', from: 'hall', to: 'cellar' }, narrativeTs: 7 })
 * // → [retract at(player, *), assert persistent at(player, cellar)]
 */
export function translateEvent(e: TruthEvent): TruthOp[] {
  switch (e.type) {
    case 'PlayerInput':
      return [{ op: 'beginTurn', turn: e.turn ?? null }, { op: 'utterance', text: e.data.text }];
    case 'ActionPerformed':
      return actionOps(e.data);
    case 'SpeechAct':
      return [
        e.data.addressee === undefined ? momentary('said', e.data.speaker) : momentary('said', e.data.speaker, e.data.addressee),
        { op: 'utterance', text: e.data.content },
      ];
    case 'MovementAction':
      return [retract('at', e.data.actor), persistent('at', e.data.actor, e.data.to)];
    case 'ExaminationAction':
      return [momentary('examined', e.data.actor, e.data.target)];
    case 'SceneEntered':
      return [
        { op: 'clearMomentary' },
        { op: 'setScene', scene: { id: e.data.sceneId, key: e.data.sceneKey } },
        retract('present'),
        persistent('visited', e.data.sceneKey),
        ...e.data.characters.map((c) => persistent('present', c)),
      ];
    case 'SceneExited':
      return [{ op: 'clearMomentary' }, { op: 'setScene', scene: null }, retract('present')];
    case 'CharacterArrival':
      return [retract('departed', e.data.character), persistent('present', e.data.character)];
    case 'CharacterDeparture':
      return [retract('present', e.data.character), retract('departed', e.data.character), persistent('departed', e.data.character, e.data.significance)];
    case 'InformationRevealed':
      return [persistent('knows', e.data.recipient, e.data.gateId)];
    case 'ConstraintViolation':
      return [momentary('violated', e.data.actor, normaliseAction(e.data.action))];
    case 'EntityPromoted':
    case 'EntityDemoted':
      return [retract('tier', e.data.entity), persistent('tier', e.data.entity, e.data.toTier)];
    case 'EntityDissolved': {
      const x = e.data.entity;
      return [
        retract('tier', x), retract('holds', x), retract('holds', WILDCARD, x), retract('at', x), retract('present', x),
        persistent('dissolved', x),
      ];
    }
    case 'WorldStateChanged':
      return [{ op: 'setWorld', key: e.data.key, value: e.data.new }];
    case 'RelationshipShifted':
      return [{ op: 'addAccumulator', key: relationshipKey(e.data.from, e.data.to, e.data.dimension), delta: e.data.delta }];
    case 'GoalCompleted':
      return [persistent('goal_completed', e.data.goalId)];
    case 'GateFired':
      return [persistent('gate_fired', e.data.gateId)];
    case 'ThresholdCrossed':
      return [persistent('threshold_crossed', e.data.key, String(e.data.threshold))];
    case 'InterpretiveJudgment':
      return [
        {
          op: 'judge',
          replaces: e.data.replaces ?? null,
          judgment: {
            id: e.data.id,
            category: e.data.category,
            subject: e.data.subject ?? null,
            confidence: e.data.confidence,
            provisional: e.data.provisional ?? false,
            ts: e.narrativeTs,
            description: e.data.description,
          },
        },
      ];
    case 'TurnCompleted':
      return [{ op: 'completeTurn', turn: e.data.turn }];
    // An audit record of an effect that was NOT applied: it changes nothing that is true.
    case 'EffectRefused':
      return [];
    case 'DeferredResultApplied':
      return e.data.effects.flatMap((raw) => {
        const parsed = deferredEffectSchema.safeParse(raw);
        return parsed.success ? effectOps(parsed.data) : [];
      });
  }
}
