import type { NewEvent } from '../../domain/events.ts';
import { PLAYER_ID } from '../../domain/story/schema.ts';
import { canonicalVerb } from '../../domain/story/verb-synonyms.ts';
import type { TruthSet } from '../../domain/truth-set.ts';
import { worldView } from '../agents/world.ts';
import type { ParsedInput } from '../classifiers/stage1.ts';
import type { FactResult } from '../classifiers/stage2.ts';
import type { Warm } from './warm.ts';

/**
 * The player's act said back in the second person (what the narrator opens a turn with):
 * the accepted facts in clause order, with the story's names for people and things; an act
 * the story did not author in the player's own words, with the place around it.
 */
export function inventoryText(w: Warm, ts: TruthSet, names: Record<string, string>): string {
  const view = worldView(w.data.baseline, ts);
  const held = Object.entries(view.holders)
    .filter(([, holder]) => holder === PLAYER_ID)
    .map(([id]) => names[id] ?? id);
  if (held.length === 0) return 'You are carrying nothing.';
  return `You are carrying ${held.length === 1 ? held[0] : `${held.slice(0, -1).join(', ')} and ${held.at(-1)}`}.`;
}

export function nameMap(w: Warm): Record<string, string> {
  return Object.fromEntries([
    [PLAYER_ID, 'you'],
    ...(w.data.people ?? []).map((c) => [c.id, c.name] as const),
    ...(w.data.things ?? []).map((o) => [o.id, o.name] as const),
    ...w.entities.characters.map((c) => [c.id, c.name] as const),
    ...w.entities.objects.map((o) => [o.id, o.name] as const),
    [w.data.setting.id, w.data.setting.name],
    ...w.data.adjacent.map((a) => [a.id, a.name] as const),
  ]);
}

/** The player's acts in the second person, in order, from the accepted factual events. */
export function describeAct(p: ParsedInput, facts: FactResult | null, names: Record<string, string>, atmosphere = ''): string | null {
  const events = (facts?.events ?? []).filter((x) => x.type !== 'ConstraintViolation' && x.type !== 'DeferredResultApplied');
  const clauses = p.clauses && p.clauses.length > 0 ? p.clauses : [p];
  const out: string[] = [];
  let clauseIndex = 0;
  for (const e of events) {
    const clause = clauses[Math.min(clauseIndex++, clauses.length - 1)] ?? p;
    const line = describeOne(e, clause, names, atmosphere);
    if (line) out.push(line);
  }
  return out.length === 0 ? null : out.join(' ');
}

function describeOne(e: NewEvent, p: ParsedInput['clauses'][number], names: Record<string, string>, atmosphere: string): string | null {
  const name = (id: string | undefined) => (id ? (names[id] ?? id) : undefined);
  const manner = p.manner.filter((m) => m.endsWith('ly'));
  const how = manner.length > 0 ? `, ${manner.join(' and ')}` : '';
  switch (e.type) {
    case 'SpeechAct': {
      const to = name(e.data.addressee);
      return p.kind === 'question' ? (to ? `You put your question to ${to}${how}.` : `You ask the room${how}.`) : to ? `You speak to ${to}${how}.` : `You speak${how}, to no one in particular.`;
    }
    case 'MovementAction':
      return `You make your way to ${names[e.data.to] ?? e.data.to}${how}.`;
    case 'ExaminationAction':
      return null;
    case 'ActionPerformed': {
      if (e.data.actor !== PLAYER_ID) {
        const who = name(e.data.actor);
        if (e.data.action === 'give' && e.data.recipient === PLAYER_ID && who) return `${who} hands ${name(e.data.target)} back to you.`;
        return null;
      }
      const target = e.data.target ? (names[e.data.target] ?? e.data.target) : null;
      const to = e.data.recipient ? (names[e.data.recipient] ?? e.data.recipient) : null;
      if (e.data.action === 'give' && target && to) return `You give ${target} to ${to}${how}.`;
      if (e.data.action === 'show' && target && to) return `You hold up ${target} for ${to} to see${how}.`;
      if (e.data.action === 'take' && target) return `You take ${target}${how}.`;
      if (e.data.action === 'drop' && target) return `You set down ${target}${how}.`;
      // An act the story did not author: said plainly, with the place around it.
      const verb = p.lemma && canonicalVerb(p.lemma) === e.data.action ? p.lemma : e.data.action;
      // The player's own words only when this event is the clause's own act (not one it was mapped onto).
      const own = verb === p.lemma && e.data.target === p.entity;
      const did = `You ${verb.replace(/_/g, ' ')}${actObject(own ? p : null, target)}${how}.`;
      return atmosphere ? `${did} ${capitalise(atmosphere)} — nothing here answers to it.` : `${did} Nothing here answers to it.`;
    }
    default:
      return null;
  }
}

/**
 * What the act was done to or with, in the player's own words ("a sea shanty to the gulls",
 * "to Uncle Bram"): the words naming the target become the story's name for it.
 */
function actObject(p: ParsedInput['clauses'][number] | null, target: string | null): string {
  const phrase = p?.phrase ? secondPerson(p.phrase) : undefined;
  if (phrase && target && p?.targetSpan) return ` ${phrase.replace(secondPerson(p.targetSpan), target)}`;
  if (phrase && !target) return ` ${phrase}`;
  return target ? ` ${target}` : '';
}

/** The player's "my pack" is "your pack" when it is said back. */
function secondPerson(words: string): string {
  const swap: Record<string, string> = { my: 'your', me: 'you', i: 'you', myself: 'yourself', mine: 'yours', we: 'you', us: 'you', our: 'your' };
  return words
    .split(' ')
    .map((w) => swap[w] ?? w)
    .join(' ');
}

function capitalise(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

