import type { NewEvent } from '../../domain/events.ts';
import { predicateHolds, type PredicateContext } from '../../domain/predicate-eval.ts';
import { normaliseAction } from '../../domain/propositions.ts';
import type { LedgerRecordLike } from '../../domain/temporal.ts';
import { PLAYER_ID, type Character, type Effect, type Gate, type Goal } from '../../domain/story/schema.ts';
import { applyEvents, holds, type TruthSet } from '../../domain/truth-set.ts';
import type { SceneData, SceneEntities } from '../scene-model.ts';
import { withTs, worldView } from './world.ts';

/**
 * The storykeeper (domain.md: "Scenes", "Agent messages"): it alone knows the whole
 * scene — gates, goals, constraints, departures — and decides what is released.
 *   - An information gate releases its content only when its condition holds
 *     (and the gates it comes `after` have fired); its effects follow.
 *   - Goals complete when their completion condition holds.
 *   - The scene exits through a departure when the departure is open and the player
 *     has gone to its setting (or it shares this scene's setting); a final scene ends
 *     the story when its `ending` holds.
 *   - Constraints forbid player actions in this scene (unless their `unless` holds).
 *   - `informationBoundary` says what each other agent may know.
 * Cascades are bounded (depth 4, 16 events), as the seed's trigger rules ask.
 *
 * @example
 * const verdict = storykeeperVerdict(data, entities, truthSetBefore, turnEvents);
 * verdict.released // [{ gateId: 'why_the_light_is_dark', content: '…', speaker: 'ewan' }]
 */
export interface GateRelease {
  gateId: string;
  content: string;
  speaker: string | null;
  delivery: Gate['delivery'];
}

export interface StorykeeperVerdict {
  events: NewEvent[];
  released: GateRelease[];
  goalsCompleted: Array<{ goalId: string; description: string; visibility: Goal['visibility']; primary: boolean }>;
  exit: { reason: 'departure' | 'ending'; nextSceneKey: string | null; text: string } | null;
  /** Truth set after everything of this turn the storykeeper knows about. */
  truthSet: TruthSet;
  /** The history the conditions were evaluated against (`earlier` + this turn's events), for hints. */
  history: readonly LedgerRecordLike[];
}

export const CASCADE_DEPTH = 4;
export const CASCADE_MAX_EVENTS = 16;

function ctx(data: SceneData, ts: TruthSet, history: readonly LedgerRecordLike[]): PredicateContext {
  return { truthSet: ts, history, settingFeatures: data.setting.features };
}

/**
 * Scene constraint forbidding `action` on `target` now, or null. `history`: the session's
 * rows up to `ts` (src/actors/scene-history.ts), needed only when an `unless` is temporal.
 */
export function forbiddenBy(data: SceneData, ts: TruthSet, action: string, target: string | undefined, history: readonly LedgerRecordLike[] = []): { id: string; text: string } | null {
  const verb = normaliseAction(action);
  for (const c of data.scene.constraints) {
    if (c.forbids.action !== verb) continue;
    if (c.forbids.target !== undefined && c.forbids.target !== target) continue;
    if (c.unless && predicateHolds(c.unless, ctx(data, ts, history))) continue;
    return { id: c.id, text: c.text };
  }
  return null;
}

/** Is a departure open toward this setting? (Movement elsewhere is held back by the story.) `history` as for `forbiddenBy`. */
export function departureToward(data: SceneData, ts: TruthSet, setting: string, history: readonly LedgerRecordLike[] = []): string | null {
  for (const d of data.scene.departures) {
    if (data.departureSettings[d.to] !== setting) continue;
    if (predicateHolds(d.when, ctx(data, ts, history))) return d.to;
  }
  return null;
}

/** Events that carry out gate/goal effects. */
export function effectEvents(effects: readonly Effect[], ts: TruthSet, data: SceneData, source: string): NewEvent[] {
  const view = worldView(data.baseline, ts);
  const out: NewEvent[] = [];
  for (const effect of effects) {
    if ('transfer' in effect) {
      const holder = view.holders[effect.transfer.entity] ?? effect.transfer.to;
      if (holder === effect.transfer.to) continue;
      out.push({ type: 'ActionPerformed', data: { actor: holder, action: 'give', target: effect.transfer.entity, recipient: effect.transfer.to }, source });
    } else if ('world' in effect) {
      const old = view.world[effect.world.key] ?? null;
      if (old === effect.world.value) continue;
      out.push({ type: 'WorldStateChanged', data: { key: effect.world.key, old, new: effect.world.value }, source });
    } else {
      out.push({ type: 'RelationshipShifted', data: { ...effect.relationship }, source });
    }
  }
  return out;
}

/**
 * Evaluates the scene after a turn's events: fires gates, completes goals, decides an exit.
 * `turnEvents` are this turn's events so far (PlayerInput, stage 2, stage 3, world consequences).
 * `earlier`: the session's durable rows up to `before.lastNarrativeTs`, from the start of the
 * session (src/actors/scene-history.ts) — what After / Since / Sequence / eventOccurred see
 * of earlier turns. This turn's events follow them with provisional narrative_ts after
 * `before.lastNarrativeTs`, in the order the turn produced them. Since replays the
 * whole history from the empty truth set, so `earlier` must start at the session's start
 * (or be empty: then only this turn is visible, as for a scene without temporal conditions).
 */
export function storykeeperVerdict(
  data: SceneData,
  _entities: SceneEntities,
  before: TruthSet,
  turnEvents: readonly NewEvent[],
  earlier: readonly LedgerRecordLike[] = [],
): StorykeeperVerdict {
  const events: NewEvent[] = [];
  const released: GateRelease[] = [];
  const goalsCompleted: StorykeeperVerdict['goalsCompleted'] = [];
  const stampedTurn = withTs(before, turnEvents);
  let history: readonly LedgerRecordLike[] = [...earlier, ...stampedTurn];
  let ts = applyEvents(before, stampedTurn);
  const push = (batch: NewEvent[]) => {
    if (batch.length === 0) return;
    const stamped = withTs(ts, batch);
    history = [...history, ...stamped];
    ts = applyEvents(ts, stamped);
    events.push(...batch);
  };

  for (let depth = 0; depth < CASCADE_DEPTH && events.length < CASCADE_MAX_EVENTS; depth++) {
    const before = events.length;
    for (const gate of data.scene.gates) {
      if (holds(ts, 'gate_fired', gate.id)) continue;
      if (!gate.after.every((g) => holds(ts, 'gate_fired', g))) continue;
      if (!predicateHolds(gate.condition, ctx(data, ts, history))) continue;
      if (!deliverable(gate, ts, turnEvents)) continue;
      push([
        { type: 'GateFired', data: { gateId: gate.id, sceneId: data.sceneId }, source: 'storykeeper' },
        { type: 'InformationRevealed', data: { gateId: gate.id, recipient: PLAYER_ID, content: gate.content }, source: 'storykeeper' },
      ]);
      push(effectEvents(gate.effects, ts, data, 'storykeeper'));
      released.push({ gateId: gate.id, content: gate.content, speaker: gate.speaker ?? null, delivery: gate.delivery });
    }
    for (const goal of data.scene.goals) {
      if (holds(ts, 'goal_completed', goal.id)) continue;
      if (!predicateHolds(goal.completion, ctx(data, ts, history))) continue;
      push([{ type: 'GoalCompleted', data: { goalId: goal.id, sceneId: data.sceneId }, source: 'storykeeper' }]);
      push(effectEvents(goal.effects, ts, data, 'storykeeper'));
      goalsCompleted.push({ goalId: goal.id, description: goal.description, visibility: goal.visibility, primary: goal.primary });
    }
    if (events.length === before) break;
  }

  let exit: StorykeeperVerdict['exit'] = null;
  const c = ctx(data, ts, history);
  if (data.scene.ending && predicateHolds(data.scene.ending.when, c)) {
    exit = { reason: 'ending', nextSceneKey: null, text: data.scene.ending.text };
  } else {
    const playerAt = worldView(data.baseline, ts).playerAt;
    for (const d of data.scene.departures) {
      const setting = data.departureSettings[d.to];
      if (setting !== data.setting.id && setting !== playerAt) continue;
      if (!predicateHolds(d.when, c)) continue;
      exit = { reason: 'departure', nextSceneKey: d.to, text: d.text };
      break;
    }
  }
  return { events, released, goalsCompleted, exit, truthSet: ts, history };
}

/**
 * Delivery modes (domain.md: information release `urgency`): `immediate` releases on the turn
 * the condition holds; `if_prompted` waits until the player speaks to the gate's speaker;
 * `when_natural` waits for a quiet turn — not one where the player was refused or is moving.
 */
export function deliverable(gate: Gate, ts: TruthSet, turnEvents: readonly NewEvent[]): boolean {
  if (gate.delivery === 'if_prompted' && gate.speaker) return holds(ts, 'said', PLAYER_ID, gate.speaker);
  if (gate.delivery === 'when_natural') return !turnEvents.some((e) => e.type === 'ConstraintViolation' || (e.type === 'MovementAction' && e.data.actor === PLAYER_ID));
  return true;
}

/** The author's hints alone (the turn uses `progressiveHint`, src/actors/agents/hints.ts). */
export { authoredHint as currentHint } from './hints.ts';

/**
 * The information boundary (domain.md: "Storykeeper → narrator: scene context (strict
 * information boundary)"). The narrator sees the setting, the cast, overt/signaled goals
 * and released gates — never unreleased gate content or hidden goals. A character sees
 * its own profile, what it knows/believes about others, and what was said in its presence.
 */
export interface NarratorKnowledge {
  visibleGoals: Array<{ id: string; description: string; done: boolean }>;
  releasedGates: string[];
}

export function narratorBoundary(data: SceneData, ts: TruthSet): NarratorKnowledge {
  return {
    visibleGoals: data.scene.goals
      .filter((g) => g.visibility === 'overt' || g.visibility === 'signaled')
      .map((g) => ({ id: g.id, description: g.description, done: holds(ts, 'goal_completed', g.id) })),
    releasedGates: data.scene.gates.filter((g) => holds(ts, 'gate_fired', g.id)).map((g) => g.id),
  };
}

export interface CharacterKnowledge {
  self: Pick<Character, 'id' | 'name' | 'description' | 'voice' | 'motivations' | 'lines'>;
  /** What this character knows, believes and does not see about others present. */
  about: Array<{ to: string; knows: string[]; believes: string[] }>;
  /** Gate contents this character has spoken (it remembers its own revelations). */
  spoken: string[];
}

export function characterBoundary(data: SceneData, entities: SceneEntities, ts: TruthSet, characterId: string, relations: ReadonlyArray<{ from: string; to: string; knows: string[]; believes: string[] }>): CharacterKnowledge | null {
  const c = entities.characters.find((x) => x.id === characterId);
  if (!c) return null;
  return {
    self: { id: c.id, name: c.name, description: c.description, voice: c.voice, motivations: c.motivations, lines: c.lines },
    about: relations.filter((r) => r.from === c.id).map((r) => ({ to: r.to, knows: r.knows, believes: r.believes })),
    spoken: data.scene.gates.filter((g) => g.speaker === c.id && holds(ts, 'gate_fired', g.id)).map((g) => g.id),
  };
}
