import type { NewEvent } from '../../domain/events.ts';
import { normaliseAction } from '../../domain/propositions.ts';
import { PLAYER_ID, type Affordance, type StoryEntity } from '../../domain/story/schema.ts';
import { affordanceAnswers, HOSTILE_ACTIONS, canonicalVerb } from '../../domain/story/verb-synonyms.ts';
import { applyEvents, holds, type TruthSet } from '../../domain/truth-set.ts';
import type { SceneData, StoryBaseline } from '../scene-model.ts';

/**
 * The world agent (domain.md: "Agent messages — World"): physical possibility (you
 * cannot take what is not there, or what someone else is holding), the world-state
 * changes an action makes (affordances: unlock → tower_door = open), and movement
 * between adjacent settings. Its state is not kept anywhere of its own: the
 * `WorldView` is derived from the truth set (holds/at/world propositions), with the
 * story's baseline used until the baseline has been written into the ledger.
 *
 * @example
 * const view = worldView(data.baseline, truthSet);
 * checkTake(view, lamp, { setting: 'cliff_path', present: ['player', 'nell'] }) // → 'Nell Tarrant is holding it.'
 */
export interface WorldView {
  /** entity id → holder id */
  holders: Record<string, string>;
  /** entity id → setting id (for entities lying somewhere) */
  locations: Record<string, string>;
  playerAt: string;
  world: Record<string, unknown>;
}

export const BASELINE_PREDICATE = 'baseline_applied';

/** Has the story baseline been applied to this truth set? */
export function baselineApplied(ts: TruthSet): boolean {
  return holds(ts, BASELINE_PREDICATE);
}

/** The events that write a story's baseline (who holds what, where things lie, world keys) into the ledger once. */
export function baselineEvents(storyId: string, baseline: StoryBaseline): NewEvent[] {
  const effects: Record<string, unknown>[] = [
    { kind: 'assert', predicate: 'at', args: [PLAYER_ID, baseline.playerStartsAt] },
    ...Object.entries(baseline.holders).map(([item, holder]) => ({ kind: 'assert', predicate: 'holds', args: [holder, item] })),
    ...Object.entries(baseline.locations).map(([item, place]) => ({ kind: 'assert', predicate: 'at', args: [item, place] })),
    ...Object.entries(baseline.world).map(([key, value]) => ({ kind: 'world', key, value })),
    { kind: 'assert', predicate: BASELINE_PREDICATE, args: [storyId] },
  ];
  return [{ type: 'DeferredResultApplied', data: { workflowKey: `story-baseline:${storyId}`, effects }, source: 'world' }];
}

/** Derives where everything is from the truth set (or the baseline before it was applied). */
export function worldView(baseline: StoryBaseline, ts: TruthSet): WorldView {
  if (!baselineApplied(ts)) {
    return { holders: { ...baseline.holders }, locations: { ...baseline.locations }, playerAt: baseline.playerStartsAt, world: { ...baseline.world } };
  }
  const holders: Record<string, string> = {};
  const locations: Record<string, string> = {};
  let playerAt = baseline.playerStartsAt;
  for (const p of ts.persistent) {
    if (p.predicate === 'holds' && p.args.length === 2) holders[p.args[1] as string] = p.args[0] as string;
    else if (p.predicate === 'at' && p.args.length === 2) {
      if (p.args[0] === PLAYER_ID) playerAt = p.args[1] as string;
      else locations[p.args[0] as string] = p.args[1] as string;
    }
  }
  return { holders, locations, playerAt, world: { ...ts.world } };
}

export interface Whereabouts {
  setting: string;
  /** The player and the cast members present. */
  present: readonly string[];
}

/** Is the entity somewhere the player can see it (lying here, or held by someone present)? */
export function isVisible(view: WorldView, entityId: string, where: Whereabouts): boolean {
  const holder = view.holders[entityId];
  if (holder !== undefined) return where.present.includes(holder);
  return view.locations[entityId] === where.setting;
}

/** null when possible, otherwise why not (for the narrator and the ConstraintViolation). */
export function checkTake(view: WorldView, entity: StoryEntity, where: Whereabouts, names: Record<string, string>): string | null {
  const holder = view.holders[entity.id];
  if (holder === PLAYER_ID) return `You already have ${entity.name}.`;
  if (!isVisible(view, entity.id, where)) return `There is no ${entity.name} here.`;
  if (holder !== undefined) return `${names[holder] ?? holder} is holding ${entity.name}; you cannot simply take it.`;
  if (!entity.portable) return `${capitalise(entity.name)} is not something you can carry.`;
  return null;
}

export function checkGive(view: WorldView, entity: StoryEntity, recipient: string | undefined, where: Whereabouts): string | null {
  if (view.holders[entity.id] !== PLAYER_ID) return `You are not holding ${entity.name}.`;
  if (recipient === undefined) return `Give ${entity.name} to whom?`;
  if (!where.present.includes(recipient)) return 'There is nobody by that name here.';
  return null;
}

export function checkDrop(view: WorldView, entity: StoryEntity): string | null {
  return view.holders[entity.id] === PLAYER_ID ? null : `You are not holding ${entity.name}.`;
}

export function checkExamine(view: WorldView, entity: StoryEntity, where: Whereabouts): string | null {
  return isVisible(view, entity.id, where) ? null : `You do not see ${entity.name} here.`;
}

/** The affordance for a verb on an entity, and whether the actor can use it now. */
export function checkAffordance(
  view: WorldView,
  entity: StoryEntity,
  verb: string,
  where: Whereabouts,
  entityNames: Record<string, string>,
): { affordance: Affordance | null; refusal: string | null } {
  const affordance = entity.affordances.find((a) => a.action === normaliseAction(verb)) ?? entity.affordances.find((a) => affordanceAnswers(a, normaliseAction(verb))) ?? null;
  if (!isVisible(view, entity.id, where)) return { affordance, refusal: `You do not see ${entity.name} here.` };
  if (affordance?.requires && view.holders[affordance.requires] !== PLAYER_ID) {
    return { affordance, refusal: affordance.refusal ?? `You would need ${entityNames[affordance.requires] ?? affordance.requires}.` };
  }
  return { affordance, refusal: null };
}

/** Movement: only to a setting adjacent to the player's (directed edges count outward only). */
export function checkMove(data: SceneData, view: WorldView, to: string | undefined): string | null {
  if (to === undefined) return 'You cannot see a way to go there from here.';
  if (to === view.playerAt) return 'You are already here.';
  if (!data.adjacent.some((a) => a.id === to)) {
    const name = (data.places ?? []).find((p) => p.id === to)?.name;
    return name ? `${name} is not reachable from here — not directly.` : 'That is not somewhere you can reach from here.';
  }
  return null;
}

export interface WorldTurn {
  events: NewEvent[];
  /** What the world did, for the narrator (affordance texts). */
  notes: string[];
  view: WorldView;
}

/**
 * The world agent's turn: the consequences of the player's accepted actions.
 * Pure and deterministic, so the storykeeper can compute the same consequences
 * without waiting for the world agent.
 */
export function worldConsequences(data: SceneData, objects: readonly StoryEntity[], ts: TruthSet, accepted: readonly NewEvent[]): WorldTurn {
  const events: NewEvent[] = [];
  const notes: string[] = [];
  let view = worldView(data.baseline, ts);
  const cast = (data as { cast?: string[] }).cast ?? [];
  for (const e of accepted) {
    if (e.type !== 'ActionPerformed' || e.data.target === undefined) continue;
    // A hostile act against a person is remembered: the victim's trust and affection fall, and the witnesses' trust.
    if (e.data.actor === PLAYER_ID && HOSTILE_ACTIONS.has(canonicalVerb(e.data.action)) && cast.includes(e.data.target)) {
      events.push(...hostilityEvents(e.data.target, cast, view.world));
      view = { ...view, world: { ...view.world, [wrongedKey(e.data.target)]: Number(view.world[wrongedKey(e.data.target)] ?? 0) + 1 } };
      continue;
    }
    const entity = objects.find((o) => o.id === e.data.target);
    const affordance = entity?.affordances.find((a) => a.action === normaliseAction(e.data.action));
    if (!affordance) continue;
    notes.push(affordance.text);
    for (const [key, value] of Object.entries(affordance.sets)) {
      const old = view.world[key] ?? null;
      if (old === value) continue;
      events.push({ type: 'WorldStateChanged', data: { key, old, new: value }, source: 'world' });
      view = { ...view, world: { ...view.world, [key]: value } };
    }
  }
  view = worldView(data.baseline, applyEvents(ts, withTs(ts, [...accepted, ...events])));
  events.push(...promotions(objects, ts, accepted, view));
  return { events, notes, view };
}

/** How much a hostile act costs the player with its victim and with those who saw it. */
export const HOSTILITY_DELTAS = { victim: { trust_benevolence: -0.4, affection: -0.3 }, witness: { trust_benevolence: -0.2 } } as const;

/** World keys recording it (durable; predicates can test them: `worldState: { key: wronged_ewan, equals: 1 }`). */
export function wrongedKey(victim: string): string {
  return `wronged_${victim}`;
}
export function witnessedKey(witness: string): string {
  return `saw_player_violent_${witness}`;
}

export function hostilityEvents(victim: string, cast: readonly string[], world: Record<string, unknown> = {}): NewEvent[] {
  const shift = (from: string, dimension: 'trust_benevolence' | 'affection', delta: number): NewEvent => ({
    type: 'RelationshipShifted',
    data: { from, to: PLAYER_ID, dimension, delta },
    source: 'world',
  });
  const count = Number(world[wrongedKey(victim)] ?? 0);
  const witnesses = cast.filter((id) => id !== victim);
  return [
    { type: 'WorldStateChanged', data: { key: wrongedKey(victim), old: world[wrongedKey(victim)] ?? null, new: count + 1 }, source: 'world' },
    shift(victim, 'trust_benevolence', HOSTILITY_DELTAS.victim.trust_benevolence),
    shift(victim, 'affection', HOSTILITY_DELTAS.victim.affection),
    ...witnesses.flatMap((id): NewEvent[] => [
      ...(world[witnessedKey(id)] === true ? [] : [{ type: 'WorldStateChanged', data: { key: witnessedKey(id), old: null, new: true }, source: 'world' } as NewEvent]),
      shift(id, 'trust_benevolence', HOSTILITY_DELTAS.witness.trust_benevolence),
    ]),
  ];
}

/** Entity promotion tiers (domain.md: "Entities and characters"), lowest first. */
export const TIERS = ['unmentioned', 'mentioned', 'referenced', 'tracked', 'persistent'] as const;
type Tier = (typeof TIERS)[number];

function tierOf(ts: TruthSet, entity: string): Tier {
  const p = ts.persistent.find((x) => x.predicate === 'tier' && x.args[0] === entity);
  return (p?.args[1] as Tier | undefined) ?? 'unmentioned';
}

/**
 * Objects the player acts on or examines become `referenced`; objects the player holds become
 * `tracked`; an entity whose persistence mode is permanent is `persistent` once touched.
 * Only promotions (never demotions) are emitted, once per tier.
 */
export function promotions(objects: readonly StoryEntity[], ts: TruthSet, accepted: readonly NewEvent[], after: WorldView): NewEvent[] {
  const wanted = new Map<string, Tier>();
  const raise = (id: string, tier: Tier) => {
    const current = wanted.get(id) ?? tierOf(ts, id);
    if (TIERS.indexOf(tier) > TIERS.indexOf(current)) wanted.set(id, tier);
  };
  for (const e of accepted) {
    const target = e.type === 'ActionPerformed' ? e.data.target : e.type === 'ExaminationAction' ? e.data.target : undefined;
    const entity = target === undefined ? undefined : objects.find((o) => o.id === target);
    if (!entity) continue;
    raise(entity.id, 'referenced');
    if (after.holders[entity.id] === PLAYER_ID) raise(entity.id, entity.persistence.mode === 'permanent' ? 'persistent' : 'tracked');
  }
  return [...wanted].map(([entity, toTier]): NewEvent => ({ type: 'EntityPromoted', data: { entity, toTier }, source: 'world' }));
}

/** Gives in-turn events narrative timestamps after the truth set's newest, so they can be applied locally. */
export function withTs(ts: TruthSet, events: readonly NewEvent[]): Array<NewEvent & { narrativeTs: number }> {
  let next = ts.lastNarrativeTs;
  return events.map((e) => ({ ...e, narrativeTs: ++next }) as NewEvent & { narrativeTs: number });
}

function capitalise(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}
