/**
 * Stage 1 — structural parsing by rules (domain.md: "Classification stages", 10–50 ms
 * budget; this runs in microseconds). From raw player text it finds the action type
 * (speech, action, examination, movement, question, meta), the verb, the addressee,
 * targets resolved against the scene's cast, objects and neighbouring settings
 * (names and aliases, longest match first), the spoken content and keywords.
 *
 * @example
 * const lexicon = buildLexicon({ characters, objects, settings });
 * parseInput('give the letter to Ada', lexicon)
 * // → { kind: 'action', verb: 'give', entity: 'board_letter', recipient: 'ada', ... }
 */
export type ActionKind = 'speech' | 'action' | 'examination' | 'movement' | 'question' | 'meta';

export interface LexiconEntry {
  id: string;
  kind: 'character' | 'entity' | 'setting';
  phrase: string;
}

export interface Lexicon {
  /** Phrases, longest first. */
  entries: LexiconEntry[];
  /** Cast ids in authored order (default addressee when the cast is one person). */
  cast: string[];
  /** Id of the setting the player is in (so "the lighthouse" from inside it is not a destination). */
  here: string;
}

export interface ParsedInput {
  raw: string;
  kind: ActionKind;
  /** Normalised verb (take, give, show, drop, unlock, light, say, ask, look, go…). */
  verb: string;
  addressee?: string;
  /** Characters, entities and settings mentioned, in order of appearance. */
  mentions: Array<{ id: string; kind: LexiconEntry['kind'] }>;
  /** First entity mentioned (the object of an action). */
  entity?: string;
  /** For give/show: the character who receives. */
  recipient?: string;
  /** For movement: the destination setting. */
  destination?: string;
  /** What is said (speech/question). */
  content?: string;
  keywords: string[];
  /** For meta: the command without the slash. */
  command?: string;
}

export interface LexiconSource {
  characters: ReadonlyArray<{ id: string; name: string; aliases: readonly string[] }>;
  objects: ReadonlyArray<{ id: string; name: string; aliases: readonly string[] }>;
  /** The current setting first, then its neighbours. */
  settings: ReadonlyArray<{ id: string; name: string; aliases: readonly string[] }>;
}

const VERB_SYNONYMS: Record<string, string> = {
  take: 'take', get: 'take', grab: 'take', pick: 'take', collect: 'take', steal: 'take', snatch: 'take',
  give: 'give', hand: 'give', offer: 'give', pass: 'give', return: 'give',
  show: 'show', present: 'show', display: 'show',
  drop: 'drop', discard: 'drop', put: 'drop',
  unlock: 'unlock', unbolt: 'unlock',
  open: 'open',
  light: 'light', kindle: 'light', ignite: 'light', relight: 'light',
  knock: 'knock', bang: 'knock', hammer: 'knock', pound: 'knock',
  ring: 'ring', read: 'read', hug: 'comfort', comfort: 'comfort', embrace: 'comfort', console: 'comfort',
  push: 'push', pull: 'pull', kick: 'kick', hit: 'attack', attack: 'attack', strike: 'attack', punch: 'attack',
  wait: 'wait', sit: 'sit', listen: 'listen', smell: 'smell', touch: 'touch', use: 'use', turn: 'turn', help: 'help',
};
const EXAMINE_VERBS = new Set(['look', 'l', 'examine', 'x', 'inspect', 'study', 'search', 'check', 'observe', 'watch', 'peer', 'view', 'survey']);
const MOVE_VERBS = new Set(['go', 'walk', 'head', 'climb', 'run', 'enter', 'travel', 'move', 'descend', 'ascend', 'leave', 'follow', 'proceed', 'hurry', 'continue', 'depart']);
const DIRECTIONS = new Set(['up', 'down', 'upstairs', 'downstairs', 'in', 'inside', 'out', 'outside', 'north', 'south', 'east', 'west']);
const SPEECH_VERBS: Record<string, 'speech' | 'question'> = {
  say: 'speech', tell: 'speech', shout: 'speech', whisper: 'speech', call: 'speech', speak: 'speech', talk: 'speech',
  reply: 'speech', answer: 'speech', greet: 'speech', yell: 'speech', explain: 'speech', promise: 'speech', thank: 'speech',
  ask: 'question', question: 'question', inquire: 'question', enquire: 'question',
};
/** Openers that mark free conversation rather than a command. */
const CONVERSATIONAL = new Set([
  'i', "i'm", 'im', "i've", "i'll", 'we', 'you', "you're", 'hello', 'hi', 'hey', 'good', 'thanks', 'thank', 'yes', 'no', 'aye',
  'please', 'sorry', 'my', "it's", 'its', 'he', 'she', 'they', 'what', 'who', 'why', 'how',
  'where', 'when', 'is', 'are', 'do', 'does', 'did', 'can', 'could', 'will', 'would', 'should', 'was', 'were', 'have', 'has',
  'let', "let's", 'lets', 'don\'t', 'dont', 'well', 'oh', 'ah', 'sir', 'madam', 'mister', 'mr', 'miss', 'mrs', 'nobody', 'nothing',
]);
const STOPWORDS = new Set([
  'a', 'an', 'the', 'to', 'of', 'and', 'or', 'but', 'in', 'on', 'at', 'for', 'with', 'about', 'into', 'onto', 'from', 'by', 'up',
  'down', 'it', 'its', 'is', 'are', 'was', 'were', 'be', 'been', 'me', 'my', 'you', 'your', 'him', 'her', 'his', 'them', 'their',
  'this', 'that', 'these', 'those', 'i', 'we', 'he', 'she', 'they', 'do', 'does', 'did', 'so', 'then', 'there', 'here', 'what',
  'who', 'why', 'how', 'where', 'when', 'please', 'some', 'any', 'all', 'not', 'no', 'yes', 'can', 'will', 'would', 'could', 'should',
  "i'm", 'im', 'am', 'as', 'if', 'over', 'out', 'again', 'very', 'just', 'too', 'have', 'has', 'had', 'let', 'tell', 'ask', 'say',
]);

/** Builds the scene's lexicon once per scene (names and aliases, "the" stripped, longest first). */
export function buildLexicon(source: LexiconSource): Lexicon {
  const entries: LexiconEntry[] = [];
  const add = (id: string, kind: LexiconEntry['kind'], text: string) => {
    const phrase = normalise(text).replace(/^(the|a|an) /, '');
    if (phrase.length > 0 && !entries.some((e) => e.phrase === phrase && e.kind === kind)) entries.push({ id, kind, phrase });
  };
  for (const c of source.characters) [c.name, ...c.aliases, c.id].forEach((t) => add(c.id, 'character', t));
  for (const o of source.objects) [o.name, ...o.aliases].forEach((t) => add(o.id, 'entity', t));
  for (const s of source.settings) [s.name, ...s.aliases].forEach((t) => add(s.id, 'setting', t));
  entries.sort((a, b) => b.phrase.length - a.phrase.length);
  return { entries, cast: source.characters.map((c) => c.id), here: source.settings[0]?.id ?? '' };
}

/** Lower case, apostrophes kept, other punctuation → spaces, single spaces. */
export function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Finds lexicon phrases in normalised text at word boundaries, longest first, without overlaps. */
export function findMentions(text: string, lexicon: Lexicon): Array<LexiconEntry & { at: number }> {
  const padded = ` ${text} `;
  const taken: Array<[number, number]> = [];
  const found: Array<LexiconEntry & { at: number }> = [];
  for (const entry of lexicon.entries) {
    let from = 0;
    for (;;) {
      const at = padded.indexOf(` ${entry.phrase} `, from);
      if (at < 0) break;
      from = at + 1;
      const start = at + 1;
      const end = start + entry.phrase.length;
      if (taken.some(([s, e]) => start < e && end > s)) continue;
      // A possessive ("ada's") or plain match.
      taken.push([start, end]);
      found.push({ ...entry, at: start - 1 });
    }
    const possessive = padded.indexOf(` ${entry.phrase}'s `);
    if (possessive >= 0) {
      const start = possessive + 1;
      const end = start + entry.phrase.length + 2;
      if (!taken.some(([s, e]) => start < e && end > s)) {
        taken.push([start, end]);
        found.push({ ...entry, at: start - 1 });
      }
    }
  }
  return found.sort((a, b) => a.at - b.at);
}

/** Parses one player input against the scene's lexicon. */
export function parseInput(raw: string, lexicon: Lexicon): ParsedInput {
  const trimmed = raw.trim();
  if (trimmed.startsWith('/')) {
    const command = normalise(trimmed.slice(1)).split(' ')[0] ?? '';
    return { raw, kind: 'meta', verb: command, command, mentions: [], keywords: [] };
  }
  if (/^(i|inv|inventory|what do i have|what am i carrying)\??$/i.test(trimmed)) {
    return { raw, kind: 'meta', verb: 'inventory', command: 'inventory', mentions: [], keywords: [] };
  }
  const quoted = /["“]([^"”]+)["”]/.exec(trimmed)?.[1];
  let text = normalise(trimmed.replace(/^(let me |please |then |now )+/i, ''));
  // "I take the key" → "take the key"; "I am afraid" stays speech.
  const second = text.split(' ')[1] ?? '';
  if (text.startsWith('i ') && (second in VERB_SYNONYMS || EXAMINE_VERBS.has(second) || MOVE_VERBS.has(second) || second in SPEECH_VERBS)) text = text.slice(2);
  const words = text.split(' ').filter((w) => w.length > 0);
  const first = words[0] ?? '';
  const isVerb = first in VERB_SYNONYMS || EXAMINE_VERBS.has(first) || MOVE_VERBS.has(first) || first in SPEECH_VERBS;
  // "light the lamp": the verb itself is not a mention of the light.
  const mentions = findMentions(text, lexicon).filter((m) => !(isVerb && m.at === 0 && m.phrase === first));
  const keywords = [...new Set(words.filter((w) => !STOPWORDS.has(w) && w.length > 1))];
  const characters = mentions.filter((m) => m.kind === 'character');
  const entities = mentions.filter((m) => m.kind === 'entity');
  const settings = mentions.filter((m) => m.kind === 'setting' && m.id !== lexicon.here);
  const base = {
    raw,
    mentions: mentions.map((m) => ({ id: m.id, kind: m.kind })),
    keywords,
  };
  const soleCast = lexicon.cast.length === 1 ? lexicon.cast[0] : undefined;
  const endsWithQuestion = /\?\s*["”]?\s*$/.test(trimmed) || (quoted !== undefined && quoted.trim().endsWith('?'));

  // "give me the key" / "show us the way": a request to someone, i.e. speech.
  const request = (VERB_SYNONYMS[first] === 'give' || VERB_SYNONYMS[first] === 'show') && (words[1] === 'me' || words[1] === 'us');
  // Speech: quoted text, a speech verb, a request, or conversational openers.
  if (request || quoted !== undefined || first in SPEECH_VERBS || (CONVERSATIONAL.has(first) && !(first in VERB_SYNONYMS)) || trimmed.startsWith("'")) {
    const viaVerb = SPEECH_VERBS[first];
    const kind: ActionKind = viaVerb === 'question' || endsWithQuestion ? 'question' : 'speech';
    // Whom it is said to: a person named outside the quotation ("say 'where is the keeper?' to Ewan").
    const outside = quoted === undefined ? characters : findMentions(normalise(trimmed.replace(/["“][^"”]+["”]/, ' ')), lexicon).filter((m) => m.kind === 'character');
    const addressee = outside[0]?.id ?? (quoted === undefined ? undefined : characters[0]?.id) ?? soleCast;
    let content = quoted ?? text;
    if (quoted === undefined && viaVerb !== undefined) {
      // "ask ewan about the light" → "about the light"; "tell nell that …" → "that …"
      const afterVerb = words.slice(1).join(' ');
      const addresseePhrase = characters[0]?.phrase;
      content = addresseePhrase ? afterVerb.replace(new RegExp(`^(to |with )?${escape(addresseePhrase)}('s)? ?`), '') : afterVerb.replace(/^(to |with )/, '');
      if (content.length === 0) content = text;
    }
    return { ...base, kind, verb: viaVerb !== undefined ? first : 'say', ...(addressee ? { addressee } : {}), content };
  }

  if (EXAMINE_VERBS.has(first)) {
    const target = entities[0]?.id ?? characters[0]?.id;
    return { ...base, kind: 'examination', verb: 'look', ...(target ? { entity: target } : {}) };
  }

  const moveVerb = MOVE_VERBS.has(first) || (words.length <= 2 && DIRECTIONS.has(first));
  if (moveVerb && !(first === 'leave' && entities.length > 0)) {
    // Naming only the place the player is in is a destination too ("You are already here").
    const destination = settings[0]?.id ?? directionDestination(words, lexicon) ?? mentions.find((m) => m.kind === 'setting')?.id;
    return { ...base, kind: 'movement', verb: 'go', ...(destination ? { destination } : {}) };
  }

  const verb = VERB_SYNONYMS[first] ?? (first === 'leave' ? 'drop' : first);
  const entity = entities[0]?.id;
  const recipient = verb === 'give' || verb === 'show' ? characters[0]?.id ?? soleCast : undefined;
  const characterTarget = characters[0]?.id;
  const target = entity ?? (verb === 'give' || verb === 'show' ? undefined : characterTarget);
  // A bare unknown word with a question mark is a question to the room.
  if (endsWithQuestion && !(first in VERB_SYNONYMS)) {
    return { ...base, kind: 'question', verb: 'say', ...(characterTarget ?? soleCast ? { addressee: (characterTarget ?? soleCast) as string } : {}), content: text };
  }
  return {
    ...base,
    kind: 'action',
    verb,
    ...(target ? { entity: target } : {}),
    ...(recipient ? { recipient } : {}),
  };
}

function directionDestination(words: readonly string[], lexicon: Lexicon): string | undefined {
  // "go up" / "climb the stairs": a direction word that is itself an alias of a neighbouring setting.
  for (const w of words) {
    const hit = lexicon.entries.find((e) => e.kind === 'setting' && e.phrase === w && e.id !== lexicon.here);
    if (hit) return hit.id;
  }
  return undefined;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
