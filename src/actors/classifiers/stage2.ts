import type { NewEvent } from '../../domain/events.ts';
import { PLAYER_ID, type StoryEntity } from '../../domain/story/schema.ts';
import type { LedgerRecordLike } from '../../domain/temporal.ts';
import type { TruthSet } from '../../domain/truth-set.ts';
import { departureToward, forbiddenBy } from '../agents/storykeeper.ts';
import { checkAffordance, checkDrop, checkExamine, checkGive, checkMove, checkTake, isVisible, worldView, type Whereabouts } from '../agents/world.ts';
import type { SceneData, SceneEntities } from '../scene-model.ts';
import { affordanceAnswers, EXPRESSIVE_ACTIONS } from '../../domain/story/verb-synonyms.ts';
import { applyEvents, holds } from '../../domain/truth-set.ts';
import { withTs, worldConsequences } from '../agents/world.ts';
import type { ParsedClause, ParsedInput } from './stage1.ts';

/**
 * Stage 2 — factual classification (domain.md: "Classification stages"): the parsed
 * input becomes NarrativeEvents (SpeechAct, ActionPerformed, MovementAction,
 * ExaminationAction), each checked first against the world agent's physical
 * constraints and the storykeeper's scene constraints. A refused act is itself an
 * event — ConstraintViolation — and the reason goes to the narrator.
 *
 * @example
 * classifyFacts(parsed, { data, entities, cast, truthSet })
 * // → { events: [{ type: 'ActionPerformed', data: { actor: 'player', action: 'give', target: 'board_letter', recipient: 'ada' } }], refusal: null }
 */
export interface FactContext {
  data: SceneData;
  entities: SceneEntities;
  cast: readonly string[];
  truthSet: TruthSet;
  /** The session's rows up to `truthSet` (src/actors/scene-history.ts), for temporal constraint/departure conditions. Default: none. */
  history?: readonly LedgerRecordLike[];
}

export interface FactResult {
  events: NewEvent[];
  /** Why the act could not happen (also recorded as a ConstraintViolation), or null. */
  refusal: { text: string; kind: 'physical' | 'story'; constraint: string } | null;
  /** What the player examined, for the narrator. */
  examined: { id: string; name: string; description: string } | null;
  /** The character whose hold on an item stopped the player (they may answer for it). */
  blockedBy?: string;
}

/**
 * Every clause of the input in order, each against the world as the clauses before it left
 * it ("unlock the door and go up"); the first refusal ends the input there.
 */
export function classifyInput(p: ParsedInput, c: FactContext): FactResult {
  const clauses = p.clauses && p.clauses.length > 0 ? p.clauses : [p];
  let ts = c.truthSet;
  const events: NewEvent[] = [];
  let examined: FactResult['examined'] = null;
  let blockedBy: string | undefined;
  for (const [i, clause] of clauses.entries()) {
    // "I take the flute from my pack and hold it up": taking what you already carry is just the lead-in.
    if (clause.verb === 'take' && clause.entity !== undefined && i < clauses.length - 1 && worldView(c.data.baseline, ts).holders[clause.entity] === PLAYER_ID) continue;
    const r = classifyFacts(clause, { ...c, truthSet: ts });
    events.push(...r.events);
    examined = r.examined ?? examined;
    blockedBy = r.blockedBy ?? blockedBy;
    if (r.refusal) return { ...r, events, examined: r.examined ?? examined };
    // The world's consequences of this clause (a door unlocked) before the next one is judged.
    const stamped = withTs(ts, r.events);
    const after = applyEvents(ts, stamped);
    const world = worldConsequences(c.data, c.entities.objects, ts, r.events);
    ts = applyEvents(after, withTs(after, world.events.filter((e) => e.type !== 'EntityPromoted')));
  }
  return { events, refusal: null, examined, ...(blockedBy ? { blockedBy } : {}) };
}

export function classifyFacts(p: ParsedClause, c: FactContext): FactResult {
  const view = worldView(c.data.baseline, c.truthSet);
  const where: Whereabouts = { setting: c.data.setting.id, present: [PLAYER_ID, ...c.cast] };
  const names: Record<string, string> = Object.fromEntries([
    ...(c.data.people ?? []).map((x) => [x.id, x.name] as const),
    ...(c.data.things ?? []).map((x) => [x.id, x.name] as const),
    ...c.entities.characters.map((x) => [x.id, x.name] as const),
    ...c.entities.objects.map((x) => [x.id, x.name] as const),
  ]);
  const absentPerson = p.absent?.find((a) => a.kind === 'character')?.id;
  const absentThing = p.absent?.find((a) => a.kind === 'entity')?.id;
  const notHere = (action: string, id: string): FactResult =>
    refuse(action, (c.data.people ?? []).some((x) => x.id === id) ? `${names[id] ?? id} is not here.` : `You do not see ${names[id] ?? id} here.`, 'physical');
  const noSuch = (action: string, noun: string): FactResult => refuse(action, `You see no ${noun} here.`, 'physical');
  const entity = (id: string | undefined): StoryEntity | undefined => (id === undefined ? undefined : c.entities.objects.find((o) => o.id === id));
  const ok = (events: NewEvent[], examined: FactResult['examined'] = null): FactResult => ({ events, refusal: null, examined });
  const refuse = (action: string, text: string, kind: 'physical' | 'story', constraint = text): FactResult => ({
    events: [{ type: 'ConstraintViolation', data: { actor: PLAYER_ID, action, constraint: constraint.slice(0, 500) }, source: 'stage2' }],
    refusal: { text, kind, constraint },
    examined: null,
  });
  const story = (action: string, target: string | undefined): FactResult | null => {
    const forbidden = forbiddenBy(c.data, c.truthSet, action, target, c.history);
    return forbidden ? refuse(action, forbidden.text, 'story', forbidden.id) : null;
  };

  switch (p.kind) {
    case 'meta':
      return ok([]);
    case 'speech':
    case 'question': {
      // Said to someone who is elsewhere: nobody here answers in their place.
      if (p.addressee === undefined && absentPerson !== undefined) return notHere('speak', absentPerson);
      // "talk to orrin", "ask the king about…": a person the story does not know is nobody here, not the one who is.
      const called = /^(?:i\s+)?(?:(?:talk|speak|chat|say \S+)\s+(?:to|with)|ask|question|greet|tell|thank)\s+(?:the\s+|a\s+|an\s+)?([\p{L}'-]+)/iu.exec(p.raw.trim())?.[1]?.toLowerCase();
      if (called !== undefined && (p.unknown ?? []).includes(called)) return refuse('speak', `No one here answers to "${called}".`, 'physical');
      const addressee = p.addressee !== undefined && c.cast.includes(p.addressee) ? p.addressee : c.cast.length === 1 ? c.cast[0] : concernedCharacter(p, c);
      const content = (p.content ?? p.raw).slice(0, 8_000);
      const speech: NewEvent = { type: 'SpeechAct', data: { speaker: PLAYER_ID, ...(addressee ? { addressee } : {}), content }, source: 'stage2' };
      // Asking back what is already in your hands.
      if (p.requested !== undefined && view.holders[p.requested] === PLAYER_ID) return refuse('ask', `You already have ${names[p.requested] ?? p.requested}.`, 'physical');
      if (p.requested !== undefined && addressee !== undefined) {
        // Asked for an item: a character hands back what the player gave them, and keeps what is still theirs.
        const holder = view.holders[p.requested];
        // Theirs until the story hands it on (a gate or goal transferring it fired).
        const handedOn = (c.data.handedOnBy?.[p.requested] ?? []).some((id) => holds(c.truthSet, 'gate_fired', id) || holds(c.truthSet, 'goal_completed', id));
        if (holder === addressee && (c.data.baseline.holders[p.requested] !== addressee || handedOn)) {
          return ok([speech, { type: 'ActionPerformed', data: { actor: addressee, action: 'give', target: p.requested, recipient: PLAYER_ID }, source: 'stage2' }]);
        }
        if (holder === addressee) return { ...ok([speech]), blockedBy: addressee };
      }
      return ok([speech]);
    }
    case 'examination': {
      const target = p.entity;
      if (target === undefined && !p.aboutPlace && absentThing !== undefined) return notHere('examine', absentThing);
      if (target === undefined && !p.aboutPlace && absentPerson !== undefined) return notHere('examine', absentPerson);
      if (target === undefined && !p.aboutPlace && p.unknown && p.unknown.length > 0) return noSuch('examine', p.unknown.join(' '));
      if (target === undefined) {
        const s = c.data.setting;
        return ok([{ type: 'ExaminationAction', data: { actor: PLAYER_ID, target: s.id }, source: 'stage2' }], { id: s.id, name: s.name, description: s.description });
      }
      const character = c.entities.characters.find((x) => x.id === target);
      if (character) {
        if (!c.cast.includes(character.id)) return refuse('examine', `${character.name} is not here.`, 'physical');
        return ok([{ type: 'ExaminationAction', data: { actor: PLAYER_ID, target }, source: 'stage2' }], { id: character.id, name: character.name, description: character.description });
      }
      const e = entity(target);
      if (!e) return refuse('examine', 'You do not see that here.', 'physical');
      const why = checkExamine(view, e, where);
      if (why) return refuse('examine', why, 'physical');
      return ok([{ type: 'ExaminationAction', data: { actor: PLAYER_ID, target }, source: 'stage2' }], { id: e.id, name: e.name, description: e.description });
    }
    case 'movement': {
      // A bare "leave" / "go on" heads for the one departure that is open (if exactly one);
      // with nowhere open it is the story holding the player. A named unknown place is no way.
      const bare = p.keywords.length <= 1 && p.direction === undefined;
      if (p.destination === undefined && p.direction !== undefined) {
        // A direction that names no place here ("north", "up" at the foot of nothing).
        const open = p.direction === 'forward' || p.direction === 'onward' ? onlyOpenDeparture(c) : undefined;
        if (open === undefined) return refuse('go', `There is no way ${p.direction === 'in' || p.direction === 'out' ? `${p.direction} from here` : `${p.direction} from here`}.`, 'physical');
      }
      const destination = p.destination ?? (bare || p.direction === 'forward' || p.direction === 'onward' ? onlyOpenDeparture(c) : undefined);
      if (destination === undefined && bare) {
        return refuse('go', 'Not yet — something here is not finished. (Type /hint if you are stuck.)', 'story', 'scene_not_finished');
      }
      const why = checkMove(c.data, view, destination);
      if (why) return refuse('go', why, 'physical');
      const to = destination as string;
      const blocked = story('go', to);
      if (blocked) return blocked;
      // The story holds the player in the scene until a departure toward that place is open.
      if (departureToward(c.data, c.truthSet, to, c.history) === null) {
        return refuse('go', 'Not yet — something here is not finished. (Type /hint if you are stuck.)', 'story', 'scene_not_finished');
      }
      return ok([{ type: 'MovementAction', data: { actor: PLAYER_ID, from: view.playerAt, to }, source: 'stage2' }]);
    }
    case 'action': {
      if (p.entity === undefined && absentThing !== undefined) return notHere(p.verb, absentThing);
      if (p.entity === undefined && absentPerson !== undefined) return notHere(p.verb, absentPerson);
      // "You see no sea here" is no answer to a song about the sea: expressive acts look for nothing.
      if (p.entity === undefined && p.unknown && p.unknown.length > 0 && p.recipient === undefined && !EXPRESSIVE_ACTIONS.has(p.verb)) return noSuch(p.verb, p.unknown[0] as string);
      const e = entity(p.entity);
      // The author's vocabulary: "push the lever" reaches `action: pull, verbs: [push]`.
      const verb = e?.affordances.find((a) => affordanceAnswers(a, p.lemma ?? p.verb) || affordanceAnswers(a, p.verb))?.action ?? p.verb;
      const blocked = story(verb, p.entity);
      if (blocked) return blocked;
      if (verb === 'take') {
        if (!e) return refuse('take', p.entity ? 'That is not something you can take.' : p.keywords.length > 0 ? 'You do not see that here.' : 'Take what?', 'physical');
        const why = checkTake(view, e, where, names);
        const holder = view.holders[e.id];
        if (why) return { ...refuse('take', why, 'physical'), ...(holder && holder !== PLAYER_ID && c.cast.includes(holder) ? { blockedBy: holder } : {}) };
        return ok([{ type: 'ActionPerformed', data: { actor: PLAYER_ID, action: 'take', target: e.id }, source: 'stage2' }]);
      }
      if (verb === 'give' || verb === 'show') {
        // "give the letter to Ewan" in a story without a letter: name what is missing, do not ask "what?".
        if (!e && p.unknown && p.unknown.length > 0) return refuse(verb, `You have no ${p.unknown[0]} to ${verb}.`, 'physical');
        if (!e) return refuse(verb, `${verb === 'give' ? 'Give' : 'Show'} what?`, 'physical');
        const why = checkGive(view, e, p.recipient, where);
        if (why) return refuse(verb, why, 'physical');
        return ok([{ type: 'ActionPerformed', data: { actor: PLAYER_ID, action: verb, target: e.id, recipient: p.recipient as string }, source: 'stage2' }]);
      }
      if (verb === 'drop') {
        if (!e) return refuse('drop', 'Drop what?', 'physical');
        const why = checkDrop(view, e);
        if (why) return refuse('drop', why, 'physical');
        return ok([{ type: 'ActionPerformed', data: { actor: PLAYER_ID, action: 'drop', target: e.id }, source: 'stage2' }]);
      }
      if (e && verb === 'use') {
        // "use the key on the door": the affordance of the other object that requires this one.
        const other = p.mentions.filter((m) => m.kind === 'entity' && m.id !== e.id).map((m) => entity(m.id)).find((o) => o?.affordances.some((a) => a.requires === e.id));
        const affordance = other?.affordances.find((a) => a.requires === e.id);
        if (other && affordance) return classifyFacts({ ...p, verb: affordance.action, entity: other.id }, c);
        // "use the letter on Ada": showing it to her.
        const person = p.mentions.find((m) => m.kind === 'character')?.id;
        if (person) return classifyFacts({ ...p, verb: 'show', recipient: person }, c);
      }
      if (e) {
        const target = affordanceTarget(e, verb, p, c, view, where);
        const action = target.affordances.find((a) => affordanceAnswers(a, verb) || affordanceAnswers(a, p.lemma ?? verb))?.action ?? verb;
        const { affordance, refusal } = checkAffordance(view, target, action, where, names);
        const read = action === 'read' && !affordance ? { id: target.id, name: target.name, description: target.description } : null;
        return refusal
          ? refuse(action, refusal, 'physical')
          : ok([{ type: 'ActionPerformed', data: { actor: PLAYER_ID, action: action.slice(0, 64), target: target.id }, source: 'stage2' }], read);
      }
      const person = p.entity !== undefined && !e ? p.entity : p.mentions.find((m) => m.kind === 'character')?.id;
      if (person !== undefined && (p.entity === undefined || p.entity === person)) {
        const who = person;
        if (!c.cast.includes(who)) return refuse(verb, `${names[who] ?? who} is not here.`, 'physical');
        return ok([{ type: 'ActionPerformed', data: { actor: PLAYER_ID, action: verb.slice(0, 64), target: who }, source: 'stage2' }]);
      }
      return ok([{ type: 'ActionPerformed', data: { actor: PLAYER_ID, action: (verb || 'wait').slice(0, 64) }, source: 'stage2' }]);
    }
  }
}

/**
 * "light the lamp" in the lamp room: the mentioned lamp (the one the player carries) cannot
 * be lit, but the great lamp can. When the resolved entity has no affordance for the verb,
 * a visible object that has one and shares a word of its name with the input is meant.
 */
function affordanceTarget(e: StoryEntity, verb: string, p: ParsedClause, c: FactContext, view: ReturnType<typeof worldView>, where: Whereabouts): StoryEntity {
  if (e.affordances.some((a) => affordanceAnswers(a, verb) || affordanceAnswers(a, p.lemma ?? verb))) return e;
  const words = new Set(p.raw.toLowerCase().split(/[^a-z0-9']+/).filter((w) => w.length > 2 && w !== 'the'));
  const candidates = c.entities.objects.filter(
    (o) =>
      o.id !== e.id &&
      o.affordances.some((a) => affordanceAnswers(a, verb) || affordanceAnswers(a, p.lemma ?? verb)) &&
      isVisible(view, o.id, where) &&
      [o.name, ...o.aliases].some((n) => n.toLowerCase().split(/[^a-z0-9']+/).some((w) => words.has(w))),
  );
  return candidates.length === 1 ? (candidates[0] as StoryEntity) : e;
}

function onlyOpenDeparture(c: FactContext): string | undefined {
  const open = [...new Set(c.data.scene.departures.map((d) => c.data.departureSettings[d.to]).filter((s): s is string => s !== undefined && s !== c.data.setting.id))].filter(
    (setting) => departureToward(c.data, c.truthSet, setting, c.history) !== null,
  );
  return open.length === 1 ? open[0] : undefined;
}

/** Said to the room: the one whose motivations the words touch most answers (none on a tie or no touch). */
function concernedCharacter(p: ParsedClause, c: FactContext): string | undefined {
  const words = new Set(p.keywords);
  const scored = c.entities.characters
    .filter((ch) => c.cast.includes(ch.id))
    .map((ch) => ({ id: ch.id, score: ch.motivations.reduce((n, m) => n + m.keywords.filter((k) => words.has(k.toLowerCase())).length, 0) }))
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score);
  if (scored.length === 0 || (scored.length > 1 && scored[0]?.score === scored[1]?.score)) return undefined;
  return scored[0]?.id;
}
