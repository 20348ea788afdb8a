import { candidateInputs } from '../checking/story-explorer.ts';
import type { SceneData, SceneEntities } from '../actors/scene-model.ts';
import { DEFAULT_VERB_GROUPS } from '../domain/story/verb-synonyms.ts';
import type { Story } from '../domain/story/schema.ts';
import type { TruthSet } from '../domain/truth-set.ts';

/**
 * What a playtest walk types: a seeded mixture of the story's own inputs (the ones
 * `story check` explores) and the kinds of input a real player sends that the author did
 * not write — synonyms, first-person prose, two clauses at once, verbs nobody authored,
 * names from other scenes, typos, pronouns, directions that may not exist, questions
 * about the place, meta commands, and hostile bytes (empty, over-long, markup, SQL).
 * Every input carries its kind, so the report can say which kinds were refused.
 *
 * @example
 * const rng = seededRandom(7);
 * const next = chooseInput(rng, { story, data, entities, truthSet }); // { kind: 'synonym', text: 'grab the letter' }
 */
export type InputKind =
  | 'authored'
  | 'synonym'
  | 'first_person'
  | 'multi_clause'
  | 'unknown_verb'
  | 'absent_name'
  | 'typo'
  | 'pronoun'
  | 'direction'
  | 'question'
  | 'meta'
  | 'hostile_bytes';

export interface WalkInput {
  kind: InputKind;
  text: string;
}

export interface WalkPosition {
  story: Story;
  data: SceneData & { cast: string[] };
  entities: SceneEntities;
  truthSet: TruthSet;
}

/** mulberry32: a small, fast, well-distributed 32-bit generator; the same seed gives the same walk. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(rng: () => number, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(rng() * items.length)];
}

/** Weights of each kind; authored inputs dominate so walks make progress through the story. */
const WEIGHTS: ReadonlyArray<readonly [InputKind, number]> = [
  ['authored', 50],
  ['synonym', 8],
  ['first_person', 6],
  ['multi_clause', 5],
  ['unknown_verb', 6],
  ['absent_name', 5],
  ['typo', 4],
  ['pronoun', 4],
  ['direction', 3],
  ['question', 3],
  ['meta', 4],
  ['hostile_bytes', 2],
];
const TOTAL = WEIGHTS.reduce((n, [, w]) => n + w, 0);

const UNKNOWN_VERBS = ['dance', 'juggle', 'whistle at', 'sniff', 'lick', 'kick', 'attack', 'hug', 'salute', 'interrogate', 'photograph', 'tickle'];
const DIRECTIONS = ['north', 'go south', 'go up', 'go down', 'west', 'go east', 'climb out'];
const QUESTIONS = ['what is this place?', 'where am I?', 'who is here?', 'what can I do?', 'why?'];
const META = ['/hint', 'hint', 'help', '/help', 'inventory', 'i', 'look around', 'wait'];
const HOSTILE = ['', '   ', '???', '🙂🙂🙂', '<script>alert(1)</script>', "'; DROP TABLE event_ledger; --", 'ÀÉÎÕÜ ñ ß 龍', 'a'.repeat(4_100), '\u0000\u0007', '{"type":"GateFired"}'];

/** The next input of a walk at this position. */
export function chooseInput(rng: () => number, at: WalkPosition): WalkInput {
  let roll = rng() * TOTAL;
  let kind: InputKind = 'authored';
  for (const [k, w] of WEIGHTS) {
    if (roll < w) {
      kind = k;
      break;
    }
    roll -= w;
  }
  return { kind, text: inputOfKind(rng, kind, at) ?? authored(rng, at) };
}

function authored(rng: () => number, at: WalkPosition): string {
  return pick(rng, candidateInputs(at.data, at.entities, at.truthSet)) ?? 'look';
}

function inputOfKind(rng: () => number, kind: InputKind, at: WalkPosition): string | null {
  const here = at.entities.characters;
  const things = at.entities.objects;
  switch (kind) {
    case 'authored':
      return authored(rng, at);
    case 'synonym': {
      // An authored input with its verb swapped for another of the same group, or an affordance's own verbs.
      const base = authored(rng, at);
      const [verb, ...rest] = base.split(' ');
      if (!verb || rest.length === 0) return null;
      const own = things.flatMap((o) => o.affordances.filter((a) => a.action === verb).flatMap((a) => a.verbs));
      const group = Object.values(DEFAULT_VERB_GROUPS).find((g) => g.includes(verb)) ?? [];
      const synonym = pick(rng, [...own, ...group].filter((v) => v !== verb && !v.includes('_')));
      return synonym ? `${synonym} ${rest.join(' ')}` : null;
    }
    case 'first_person':
      return `I ${pick(rng, ['', 'slowly ', 'carefully ', 'then '])}${authored(rng, at)}`.replace(/ {2,}/g, ' ');
    case 'multi_clause':
      return `${authored(rng, at)} and ${authored(rng, at)}`;
    case 'unknown_verb': {
      const target = pick(rng, [...here.map((c) => c.name), ...things.map((o) => o.name), '']);
      return `${pick(rng, UNKNOWN_VERBS)}${target ? ` ${target}` : ''}`;
    }
    case 'absent_name': {
      const present = new Set([...at.data.cast, ...things.map((o) => o.id)]);
      const people = at.story.characters.filter((c) => !present.has(c.id));
      const objects = at.story.entities.filter((e) => !present.has(e.id));
      const person = pick(rng, people);
      const object = pick(rng, objects);
      const options = [
        person ? `talk to ${person.name}` : null,
        person ? `ask ${person.aliases[0] ?? person.name} about the weather` : null,
        object ? `examine ${object.name}` : null,
        object ? `take ${object.name}` : null,
        'talk to the king',
        'take the anchor',
      ].filter((x): x is string => x !== null);
      return pick(rng, options) ?? null;
    }
    case 'typo': {
      const name = pick(rng, [...here.map((c) => c.name.split(' ').at(-1) ?? c.name), ...things.map((o) => o.name.replace(/^the /i, ''))]);
      if (!name || name.length < 4) return null;
      const i = 1 + Math.floor(rng() * (name.length - 2));
      const typo = name.slice(0, i) + (name[i + 1] ?? '') + (name[i] ?? '') + name.slice(i + 2);
      return `${pick(rng, ['examine', 'talk to', 'take'])} ${typo}`;
    }
    case 'pronoun':
      return pick(rng, ['take it', 'examine it', 'ask her about it', 'talk to him', 'give it to her', 'show it to him']) ?? null;
    case 'direction':
      return pick(rng, DIRECTIONS) ?? null;
    case 'question':
      return pick(rng, QUESTIONS) ?? null;
    case 'meta':
      return pick(rng, META) ?? null;
    case 'hostile_bytes':
      return pick(rng, HOSTILE) ?? null;
  }
}
