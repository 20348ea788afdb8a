/**
 * The shipped default verb vocabulary: common English verbs grouped under the canonical
 * action stage 1 reports ("grab" → take, "kindle" → light). An affordance answers to its
 * `action`, to the author's own `verbs: [...]` and to every verb of its action's default
 * group, so `push lever` reaches an affordance `action: pull, verbs: [push]` and `hand`
 * reaches `give`. Groups are disjoint: one verb, one canonical action.
 *
 * @example
 * canonicalVerb('grab') // → 'take'
 * affordanceVerbs({ action: 'pull', verbs: ['yank'] }) // → Set { 'pull', 'tug', 'yank' }
 */
export const DEFAULT_VERB_GROUPS: Readonly<Record<string, readonly string[]>> = {
  take: ['take', 'get', 'grab', 'pick', 'collect', 'steal', 'snatch', 'seize', 'fetch', 'acquire', 'pocket'],
  give: ['give', 'hand', 'offer', 'pass', 'return', 'deliver'],
  show: ['show', 'present', 'display', 'reveal', 'hold'],
  drop: ['drop', 'discard', 'put', 'set', 'place', 'leave', 'lay'],
  unlock: ['unlock', 'unbolt', 'unlatch'],
  open: ['open'],
  close: ['close', 'shut', 'slam'],
  light: ['light', 'kindle', 'ignite', 'relight', 'fire'],
  extinguish: ['extinguish', 'douse', 'snuff', 'blow'],
  knock: ['knock', 'bang', 'hammer', 'pound', 'rap'],
  ring: ['ring', 'chime', 'toll'],
  read: ['read', 'peruse', 'skim'],
  comfort: ['comfort', 'hug', 'embrace', 'console', 'soothe', 'hold_hand'],
  push: ['push', 'shove', 'press'],
  pull: ['pull', 'tug', 'drag', 'haul'],
  attack: ['attack', 'hit', 'strike', 'punch', 'slap', 'stab', 'kill', 'fight', 'shoot', 'beat', 'smash', 'hurt', 'wound', 'threaten', 'shove_at'],
  kick: ['kick', 'boot'],
  wait: ['wait', 'rest', 'pause', 'linger', 'stay'],
  sit: ['sit', 'kneel', 'crouch'],
  listen: ['listen', 'hear'],
  smell: ['smell', 'sniff'],
  touch: ['touch', 'feel', 'stroke', 'pat', 'rub'],
  use: ['use', 'apply'],
  turn: ['turn', 'rotate', 'twist', 'wind'],
  climb: ['climb', 'scale', 'clamber'],
  play: ['play', 'blow_into', 'pipe'],
  eat: ['eat', 'taste', 'bite', 'devour'],
  drink: ['drink', 'sip', 'swallow'],
  break: ['break', 'shatter', 'crack', 'destroy'],
  throw: ['throw', 'toss', 'hurl', 'fling'],
  search: ['search', 'rummage', 'dig'],
  help: ['help', 'assist', 'aid'],
  wave: ['wave', 'beckon', 'gesture', 'nod', 'bow', 'smile', 'wink'],
  dance: ['dance', 'sing', 'whistle', 'hum', 'laugh', 'cry', 'shout_at'],
  fix: ['fix', 'mend', 'repair', 'trim'],
  fill: ['fill', 'pour', 'refill'],
  write: ['write', 'sign'],
};

const CANONICAL: ReadonlyMap<string, string> = new Map(Object.entries(DEFAULT_VERB_GROUPS).flatMap(([canonical, verbs]) => verbs.map((v) => [v, canonical] as const)));

/** Verbs whose act is hostile toward its target (an attacked character reacts and remembers). */
export const HOSTILE_ACTIONS: ReadonlySet<string> = new Set(['attack', 'kick', 'break', 'throw']);
/**
 * Acts that need nothing present: what follows the verb is what is performed or for whom
 * ("sing a sea shanty to the gulls", "wave to the old man"), never an object to look for.
 */
export const EXPRESSIVE_ACTIONS: ReadonlySet<string> = new Set(['dance', 'wave', 'wait', 'sit', 'listen']);
/** Verbs of kindness toward a character. */
export const KIND_ACTIONS: ReadonlySet<string> = new Set(['comfort', 'help']);

/** The canonical action of a verb lemma (itself when the table does not know it). */
export function canonicalVerb(lemma: string): string {
  return CANONICAL.get(lemma) ?? lemma;
}

/** Is `lemma` in the shipped table? */
export function isKnownVerb(lemma: string): boolean {
  return CANONICAL.has(lemma);
}

/** Every verb an affordance answers to: its action, the author's synonyms, and the action's default group. */
export function affordanceVerbs(a: { action: string; verbs?: readonly string[] | undefined }): Set<string> {
  const out = new Set<string>([a.action, ...(a.verbs ?? [])]);
  for (const v of DEFAULT_VERB_GROUPS[canonicalVerb(a.action)] ?? []) out.add(v);
  for (const v of [...out]) out.add(canonicalVerb(v));
  return out;
}

/** Does the affordance answer to the player's verb (a lemma or its canonical action)? */
export function affordanceAnswers(a: { action: string; verbs?: readonly string[] | undefined }, verb: string): boolean {
  const verbs = affordanceVerbs(a);
  return verbs.has(verb) || verbs.has(canonicalVerb(verb));
}
