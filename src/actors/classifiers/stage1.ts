import { canonicalVerb, isKnownVerb } from '../../domain/story/verb-synonyms.ts';
import { readEnglish, type Token } from './english.ts';
import { buildLexicon, findMentions, normalise, type Lexicon, type LexiconEntry, type LexiconSource, type Mention } from './lexicon.ts';

/**
 * Stage 1 — structural parsing by rules (domain.md: "Classification stages"). The
 * player's words are read as English (src/actors/classifiers/english.ts: tokens, part of
 * speech, lemmas) and split into clauses, in order ("take the flute and hold it up" →
 * take, then show). Each clause is first-person narration ("I slowly give…", "Then I…"),
 * an imperative, a question or speech; its verb is lemmatised and mapped to the story's
 * vocabulary (src/domain/story/verb-synonyms.ts), adverbs and manner are kept as
 * keywords, pronouns resolve to the last thing or person mentioned (this input, then the
 * previous turn), and people are addressed only if present — a name from elsewhere in
 * the story is reported as `absent`. Deterministic, tens of microseconds per input.
 *
 * @example
 * parseInput('I take the flute from my pack and hold it up', lexicon)
 * // → { kind: 'action', verb: 'take', entity: 'flute', clauses: [{ verb: 'take', … }, { verb: 'show', entity: 'flute', … }] }
 */
export type ActionKind = 'speech' | 'action' | 'examination' | 'movement' | 'question' | 'meta';

export { buildLexicon, findMentions, normalise, type Lexicon, type LexiconEntry, type LexiconSource };

/** One act of the player's input. */
export interface ParsedClause {
  raw: string;
  kind: ActionKind;
  /** Canonical verb (take, give, show, drop, unlock, light, say, ask, look, go…), or the lemma the table does not know. */
  verb: string;
  /** The verb's dictionary form as the player used it ("yank", "hugged" → "hug"), before canonicalisation. */
  lemma?: string;
  addressee?: string;
  /** Characters, entities and settings mentioned and present, in order of appearance. */
  mentions: Array<{ id: string; kind: LexiconEntry['kind'] }>;
  /** First entity mentioned (the object of an action). */
  entity?: string;
  /** For give/show: the character who receives. */
  recipient?: string;
  /** For movement: the destination setting. */
  destination?: string;
  /** For movement: a compass or vertical direction that names no place here ("north"). */
  direction?: string;
  /** What is said (speech/question). */
  content?: string;
  keywords: string[];
  /** Adverbs and manner ("slowly", "watching"): kept for the agents, never a target. */
  manner: string[];
  /** Named by the story but not here: characters in other scenes, objects out of reach. */
  absent?: Array<{ id: string; kind: LexiconEntry['kind'] }>;
  /** Nouns that name nothing the story knows ("x door" where there is no door). */
  unknown?: string[];
  /** Speech asking the addressee for an item ("give me the letter back", "ask Ewan for the key"). */
  requested?: string;
  /** A question about the place itself ("what is this place?"): answered by describing it. */
  aboutPlace?: boolean;
  /** For meta: the command without the slash. */
  command?: string;
  /**
   * For actions: the player's words after the verb, manner left out ("a sea shanty to the
   * gulls", "to the old man"), so an act the story did not author can be said back whole.
   */
  phrase?: string;
  /** The words of `phrase` that name the target ("the old man"): the narration puts the story's name there. */
  targetSpan?: string;
}

export interface ParsedInput extends ParsedClause {
  /** Every act in order; the first is also spread at the top level. */
  clauses: ParsedClause[];
}

/** What the previous turn mentioned, for pronouns ("take it"). */
export interface ParseContext {
  lastEntity?: string;
  lastCharacter?: string;
}

const EXAMINE = new Set(['look', 'l', 'examine', 'x', 'inspect', 'study', 'check', 'observe', 'watch', 'peer', 'view', 'survey', 'regard', 'scan', 'eye', 'glance', 'stare', 'gaze']);
const MOVE = new Set(['go', 'walk', 'head', 'run', 'enter', 'travel', 'move', 'descend', 'ascend', 'leave', 'follow', 'proceed', 'hurry', 'continue', 'depart', 'return', 'approach', 'step', 'wander', 'stroll', 'climb', 'exit', 'cross', 'make']);
const DIRECTIONS = new Set(['up', 'down', 'upstairs', 'downstairs', 'in', 'inside', 'out', 'outside', 'north', 'south', 'east', 'west', 'northeast', 'northwest', 'southeast', 'southwest', 'n', 's', 'e', 'w', 'ne', 'nw', 'se', 'sw', 'forward', 'back', 'onward', 'away']);
const COMPASS: Record<string, string> = { n: 'north', s: 'south', e: 'east', w: 'west', ne: 'northeast', nw: 'northwest', se: 'southeast', sw: 'southwest' };
const SPEECH: Record<string, 'speech' | 'question'> = {
  say: 'speech', tell: 'speech', shout: 'speech', whisper: 'speech', call: 'speech', speak: 'speech', talk: 'speech', chat: 'speech',
  reply: 'speech', answer: 'speech', greet: 'speech', yell: 'speech', explain: 'speech', promise: 'speech', thank: 'speech', apologise: 'speech',
  apologize: 'speech', mention: 'speech', admit: 'speech', confess: 'speech', introduce: 'speech', murmur: 'speech', insist: 'speech', beg: 'speech',
  ask: 'question', question: 'question', inquire: 'question', enquire: 'question', wonder: 'question',
};
/** First-person verbs of thought: "I think Silas is lying" is said, not done. */
const THOUGHT = new Set(['think', 'believe', 'know', 'hope', 'guess', 'suppose', 'mean', 'understand', 'agree', 'feel_that', 'fear', 'doubt', 'bet', 'want', 'need', 'wish', 'like', 'love', 'hate', 'am', 'be', "'m", "i'm", 'have_to', 'remember', 'forgot', 'forget', 'see_that']);
/** Openers of free conversation. */
const CONVERSATIONAL = new Set([
  'hello', 'hi', 'hey', 'greetings', 'good', 'thanks', 'thank', 'yes', 'no', 'aye', 'nay', 'sorry', 'please', 'well', 'oh', 'ah', 'sir', 'madam',
  'mister', 'mr', 'miss', 'mrs', 'nobody', 'nothing', 'my', 'it', "it's", 'its', 'he', 'she', 'they', 'you', "you're", 'we', "let's", 'lets', 'okay', 'ok',
  "i'm", 'im', "i've", "i'll", "don't", 'dont', 'excuse', 'pardon', 'farewell', 'goodbye', 'bye', 'listen_up', 'alright', 'right', 'there',
]);
const QUESTION_OPENERS = new Set(['what', 'who', 'why', 'how', 'where', 'when', 'which', 'whose', 'is', 'are', 'do', 'does', 'did', 'can', 'could', 'will', 'would', 'should', 'was', 'were', 'have', 'has', 'may', 'might', 'shall', "what's", "where's", "who's", 'whats', 'wheres']);
/** Words before the verb that do not change the act: "then I slowly try to …". */
const LEAD_INS = new Set(['then', 'now', 'so', 'and', 'next', 'first', 'finally', 'also', 'again', 'just', 'quickly', 'carefully', 'ok', 'okay', 'anyway', 'meanwhile', 'after', 'that']);
const AUX_LEAD = new Set(['will', 'shall', "'ll", 'try', 'attempt', 'decide', 'start', 'begin', 'go_and', 'manage', 'want', 'would', "'d", 'like', 'need', 'have', 'gonna', 'wanna', 'must', 'can', 'let']);
const STOPWORDS = new Set([
  'a', 'an', 'the', 'to', 'of', 'and', 'or', 'but', 'in', 'on', 'at', 'for', 'with', 'about', 'into', 'onto', 'from', 'by', 'up',
  'down', 'it', 'its', 'is', 'are', 'was', 'were', 'be', 'been', 'me', 'my', 'you', 'your', 'him', 'her', 'his', 'them', 'their',
  'this', 'that', 'these', 'those', 'i', 'we', 'he', 'she', 'they', 'do', 'does', 'did', 'so', 'then', 'there', 'here', 'what',
  'who', 'why', 'how', 'where', 'when', 'please', 'some', 'any', 'all', 'not', 'no', 'yes', 'can', 'will', 'would', 'could', 'should',
  "i'm", 'im', 'am', 'as', 'if', 'over', 'out', 'again', 'very', 'just', 'too', 'have', 'has', 'had', 'let', 'tell', 'ask', 'say', 'now',
  "'s", "'m", "'d", "'ll", "n't", 'us', 'our', 'myself', 'back',
]);
const PLACE_QUESTION = /^(what|where) ?(is|'s|s)? (this|here|this place|the place)$|^where am i$|^where are we$|^what (is|'s) (around|here)$|^what (can|do) i see$|^look around$|^where (is|'s) this$|^what place is this$|^what is this place called$/;
const REQUEST = /\b(give|hand|pass|return|lend|show) (me|us)\b|\b(can|could|may) (i|we) (have|get|borrow|take)\b|\bi (want|need|would like|'d like)\b|\bask (\S+ )*for\b|\bback\b/;
/** What may stand before an addressee: "talk to", "ask", "hello", nothing. */
const ADDRESS_PREFIX = /^((say|talk|speak|ask|tell|greet|call|shout|whisper|question|thank|hello|hi|hey|chat|reply|answer|yell|i|i'll|let me)( (to|with|at))?)?$/;
const ENTITY_PRONOUNS = new Set(['it', 'them', 'this', 'that']);
const PERSON_PRONOUNS = new Set(['him', 'her']);

/** Parses one player input against the scene's lexicon. */
export function parseInput(raw: string, lexicon: Lexicon, context: ParseContext = {}): ParsedInput {
  const trimmed = raw.trim();
  if (trimmed.startsWith('/')) {
    const command = normalise(trimmed.slice(1)).split(' ')[0] ?? '';
    return single({ raw, kind: 'meta', verb: command, command, mentions: [], keywords: [], manner: [] });
  }
  if (/^(i|inv|inventory|what do i have|what am i (carrying|holding)|what have i got)\??$/i.test(trimmed)) {
    return single({ raw, kind: 'meta', verb: 'inventory', command: 'inventory', mentions: [], keywords: [], manner: [] });
  }
  // Quoted words are speech as a whole, said to whoever is named outside the quotation.
  const quoted = /["“]([^"”]+)["”]/.exec(trimmed)?.[1];
  if (quoted !== undefined || trimmed.startsWith("'")) return single(quotedSpeech(raw, trimmed, quoted ?? trimmed.replace(/^'|'$/g, ''), lexicon));

  const clauses: ParsedClause[] = [];
  const memory: ParseContext = { ...context };
  for (const part of splitClauses(readEnglish(trimmed))) {
    const clause = parseClause(raw, part.tokens, part.question, lexicon, memory);
    if (!clause) continue;
    clauses.push(clause);
    const lastEntity = [...clause.mentions].reverse().find((m) => m.kind === 'entity')?.id ?? clause.entity;
    const lastCharacter = clause.recipient ?? clause.addressee ?? [...clause.mentions].reverse().find((m) => m.kind === 'character')?.id;
    if (lastEntity) memory.lastEntity = lastEntity;
    if (lastCharacter) memory.lastCharacter = lastCharacter;
  }
  if (clauses.length === 0) clauses.push({ raw, kind: 'speech', verb: 'say', mentions: [], keywords: [], manner: [], content: trimmed, ...(soleCast(lexicon) ? { addressee: soleCast(lexicon) as string } : {}) });
  // Speech runs on: "hello Ewan, I'm the new keeper" is one utterance, not two.
  const merged = mergeSpeech(clauses, raw);
  return { ...(merged[0] as ParsedClause), clauses: merged };
}

function single(c: ParsedClause): ParsedInput {
  return { ...c, clauses: [c] };
}

interface ClauseTokens {
  tokens: Token[];
  question: boolean;
}

/**
 * Sentences, and within them "and" / "then" / a comma before a new verb. A comma before an
 * -ing form is manner ("…, watching the old man work") and stays with its clause.
 */
function splitClauses(tokens: readonly Token[]): ClauseTokens[] {
  const out: ClauseTokens[] = [];
  let current: Token[] = [];
  const flush = (question: boolean) => {
    if (current.some((t) => t.pos !== 'PUNCT')) out.push({ tokens: current, question });
    current = [];
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.pos === 'PUNCT' && ['.', '!', '?', ';', '…'].includes(t.norm)) {
      flush(t.norm === '?');
      continue;
    }
    const joiner = t.norm === 'and' || t.norm === 'then' || t.norm === ',' || t.norm === 'before' || t.norm === 'after';
    if (joiner && current.length > 0 && startsAct(tokens, i + 1) && !isSpeechSoFar(current)) {
      flush(false);
      continue;
    }
    current.push(t);
  }
  flush(false);
  return out;
}

/** Does a new act start at `i` (after optional "then", "I", adverbs)? */
function startsAct(tokens: readonly Token[], i: number): boolean {
  let j = i;
  while (j < tokens.length) {
    const t = tokens[j] as Token;
    if (t.norm === 'then' || t.norm === 'and' || t.norm === 'i' || t.norm === 'we' || (t.pos === 'ADV' && !DIRECTIONS.has(t.norm)) || t.norm === ',') j++;
    else break;
  }
  const t = tokens[j];
  if (!t) return false;
  if (t.norm.endsWith('ing') && t.pos === 'VERB') return false;
  return (t.pos === 'VERB' && t.norm !== 'be') || isKnownVerb(t.lemma) || EXAMINE.has(t.lemma) || (MOVE.has(t.lemma) && t.pos !== 'NOUN') || t.lemma in SPEECH;
}

function isSpeechSoFar(tokens: readonly Token[]): boolean {
  const first = tokens.find((t) => t.pos !== 'PUNCT');
  return first !== undefined && (CONVERSATIONAL.has(first.norm) || first.pos === 'INTJ') && !isKnownVerb(first.lemma);
}

function soleCast(lexicon: Lexicon): string | undefined {
  return lexicon.cast.length === 1 ? lexicon.cast[0] : undefined;
}

function parseClause(raw: string, all: readonly Token[], question: boolean, lexicon: Lexicon, memory: ParseContext): ParsedClause | null {
  const tokens = all.filter((t) => t.pos !== 'PUNCT' || t.norm === "'");
  if (tokens.length === 0) return null;
  const manner: string[] = [];
  // Lead-ins, the first-person subject and auxiliaries before the verb.
  let i = 0;
  let firstPerson = false;
  for (;;) {
    const t = tokens[i];
    if (!t) break;
    const next = tokens[i + 1];
    if (LEAD_INS.has(t.norm) && tokens.length > i + 1) i++;
    else if ((t.norm === 'i' || t.norm === 'we') && next && next.norm !== "'m" && next.norm !== 'am') {
      firstPerson = true;
      i++;
    } else if (t.norm === 'let' && next && (next.norm === 'me' || next.norm === 'us')) i += 2;
    else if (firstPerson && AUX_LEAD.has(t.lemma) && next && (next.norm === 'to' || next.pos === 'VERB' || isKnownVerb(next.lemma) || next.norm === 'like' || next.norm === 'and')) i += next.norm === 'to' || next.norm === 'and' ? 2 : 1;
    else if (t.pos === 'ADV' && !DIRECTIONS.has(t.norm) && tokens.length > i + 1 && !QUESTION_OPENERS.has(t.norm)) {
      manner.push(t.norm);
      i++;
    } else if (t.pos === 'PART' && t.norm === 'to') i++;
    else break;
  }
  const body = tokens.slice(i);
  if (body.length === 0) return null;
  // Manner: adverbs anywhere, and a trailing -ing phrase after a comma ("…, watching the man").
  for (const t of body.slice(1)) if (t.pos === 'ADV' && /ly$/.test(t.norm)) manner.push(t.norm);
  const gerundAt = all.findIndex((t, k) => k > 0 && all[k - 1]?.norm === ',' && t.pos === 'VERB' && t.norm.endsWith('ing'));
  if (gerundAt > 0) manner.push(...all.slice(gerundAt).filter((t) => t.pos === 'VERB').map((t) => t.lemma));
  const acting = gerundAt > 0 ? body.filter((t) => all.indexOf(t) < gerundAt) : body;

  const head = acting[0] as Token;
  const verbWord = head.norm === 'x' || head.norm === 'l' ? head.norm : head.lemma;
  const text = acting.map((t) => t.norm).join(' ').replace(/ ' ?s\b/g, "'s").replace(/ '/g, "'");
  const words = text.split(' ').filter((w) => w.length > 0);
  const rest = words.slice(1).join(' ');
  // Typos are looked for only among nouns and unknown words (not verbs, adverbs, function words).
  const notNames = acting.filter((t) => !['NOUN', 'PROPN', 'ADJ', 'X', 'NUM'].includes(t.pos)).map((t) => t.norm);
  const skip = new Set([verbWord, head.norm, ...notNames, ...words.filter((w) => STOPWORDS.has(w) || isKnownVerb(w) || EXAMINE.has(w) || MOVE.has(w) || DIRECTIONS.has(w))]);
  const found = findMentions(text, lexicon, skip).filter((m) => !(m.at === 0 && (m.phrase === head.norm || m.phrase === verbWord) && looksLikeVerb(head)));
  const resolved = resolvePronouns(acting, text, found, memory, lexicon);
  const present = resolved.filter((m) => m.present);
  const absent = resolved.filter((m) => !m.present);
  const characters = present.filter((m) => m.kind === 'character');
  const entities = present.filter((m) => m.kind === 'entity');
  const settings = present.filter((m) => m.kind === 'setting' && m.id !== lexicon.here);
  const named = new Set(resolved.flatMap((m) => (m.fuzzy ? [text.slice(m.at, m.at + 40).trim().split(' ')[0] ?? ''] : m.phrase.split(' '))));
  const unknown = acting.slice(1).filter((t) => (t.pos === 'NOUN' || t.pos === 'PROPN') && !STOPWORDS.has(t.norm) && !DIRECTIONS.has(t.norm) && !named.has(t.norm) && t.norm.length > 1).map((t) => t.norm);
  const keywords = [...new Set([...words.filter((w) => !STOPWORDS.has(w) && w.length > 1), ...manner])];
  const base = {
    raw,
    mentions: present.map((m) => ({ id: m.id, kind: m.kind })),
    keywords,
    manner: [...new Set(manner)],
    ...(absent.length > 0 ? { absent: absent.map((m) => ({ id: m.id, kind: m.kind })) } : {}),
    ...(unknown.length > 0 ? { unknown } : {}),
  };
  // An absent person in the addressee's place ("talk to Orrin", "Orrin, …") is not replaced by whoever is here.
  const absentAddressed = absent.some((m) => m.kind === 'character' && ADDRESS_PREFIX.test(text.slice(0, m.at).trim()));
  const addressee = characters[0]?.id ?? (absentAddressed ? undefined : soleCast(lexicon));
  const requestedEntity = REQUEST.test(text) ? entities[0]?.id : undefined;
  const withAddressee = addressee ? { addressee } : {};

  // Questions about the place describe it.
  if (PLACE_QUESTION.test(text)) return { ...base, kind: 'examination', verb: 'look', aboutPlace: true };

  const opener = words[0] ?? '';
  const speechVerb = SPEECH[verbWord];
  const request = requestedEntity !== undefined && (verbWord === 'give' || verbWord === 'hand' || verbWord === 'pass' || verbWord === 'ask' || verbWord === 'return' || verbWord === 'can' || verbWord === 'could' || verbWord === 'may' || firstPerson || REQUEST.test(text)) && !(verbWord === 'give' && characters.length > 0 && !/\b(me|us)\b/.test(text));
  if (request) {
    return { ...base, kind: 'speech', verb: 'ask', ...withAddressee, requested: requestedEntity as string, content: text };
  }
  if (speechVerb !== undefined) {
    const afterVerb = rest;
    const phrase = characters[0]?.phrase ?? absent.find((m) => m.kind === 'character')?.phrase;
    let content = phrase ? afterVerb.replace(new RegExp(`^(to |with )?${escape(phrase)}('s)? ?`), '') : afterVerb.replace(/^(to |with )/, '');
    if (content.length === 0) content = text;
    const kind: ActionKind = speechVerb === 'question' || question ? 'question' : 'speech';
    return { ...base, kind, verb: verbWord, ...withAddressee, content };
  }
  const conversational = (CONVERSATIONAL.has(opener) && !isKnownVerb(opener) && !EXAMINE.has(opener) && !MOVE.has(opener)) || head.pos === 'INTJ' || (firstPerson && THOUGHT.has(verbWord)) || (!firstPerson && (opener === 'i' || opener === 'we'));
  const asking = QUESTION_OPENERS.has(opener) || question;
  if (asking && !looksLikeVerb(head)) return { ...base, kind: 'question', verb: 'say', ...withAddressee, content: text };
  if (asking && (QUESTION_OPENERS.has(opener) || !isKnownVerb(verbWord))) return { ...base, kind: 'question', verb: 'say', ...withAddressee, content: text };
  if (conversational) return { ...base, kind: question ? 'question' : 'speech', verb: 'say', ...withAddressee, content: text };

  if (EXAMINE.has(verbWord) || (verbWord === 'search' && entities.length > 0)) {
    const target = entities[0]?.id ?? characters[0]?.id;
    return { ...base, kind: 'examination', verb: 'look', lemma: verbWord, ...(target ? { entity: target } : {}) };
  }

  const bareDirection = DIRECTIONS.has(verbWord) && words.length <= 3;
  const moving = (MOVE.has(verbWord) && !(['leave', 'return', 'make'].includes(verbWord) && entities.length > 0) && !(verbWord === 'approach' && settings.length === 0 && !words.some((w) => DIRECTIONS.has(w)))) || bareDirection;
  if (moving && !(verbWord === 'climb' && entities.length > 0 && settings.length === 0 && directionDestination(words, lexicon) === undefined)) {
    const destination = settings[0]?.id ?? directionDestination(words, lexicon) ?? present.find((m) => m.kind === 'setting')?.id;
    const dir = words.find((w) => DIRECTIONS.has(w));
    return { ...base, kind: 'movement', verb: 'go', lemma: verbWord, ...(destination ? { destination } : {}), ...(dir && !destination ? { direction: COMPASS[dir] ?? dir } : {}) };
  }

  const verb = canonicalVerb(verbWord === 'pick' ? 'take' : verbWord);
  const entity = entities[0]?.id;
  const giving = verb === 'give' || verb === 'show';
  const recipient = giving ? (characters[0]?.id ?? (absent.some((m) => m.kind === 'character') ? undefined : soleCast(lexicon))) : undefined;
  if (giving && recipient === undefined && absent.some((m) => m.kind === 'character')) base.absent = absent.map((m) => ({ id: m.id, kind: m.kind }));
  const target = entity ?? (giving ? undefined : characters[0]?.id);
  const said = actPhrase(text, head.norm.length + 1, manner, present.find((m) => m.id === target));
  return {
    ...base,
    kind: 'action',
    verb,
    lemma: verbWord,
    ...(target ? { entity: target } : {}),
    ...(recipient ? { recipient } : {}),
    ...said,
  };
}

const DETERMINERS = new Set(['the', 'a', 'an', 'my', 'his', 'her', 'their', 'this', 'that', 'our', 'your']);

/** The words after the verb (from `from` in `text`), manner dropped, and the span naming the target mention. */
function actPhrase(text: string, from: number, manner: readonly string[], target: Mention | undefined): { phrase?: string; targetSpan?: string } {
  const drop = new Set(manner);
  let span: string | undefined;
  if (target && target.at >= from) {
    const rest = text.slice(target.at);
    // A pronoun or a typo stands where the mention was found: its one word is the span.
    const named = !target.fuzzy && rest.startsWith(target.phrase) ? target.phrase : (rest.split(' ')[0] ?? '');
    const before = text.slice(from, target.at).trim().split(' ').filter((w) => w.length > 0);
    const det = before.at(-1);
    span = det !== undefined && DETERMINERS.has(det) ? `${det} ${named}` : named;
  }
  const phrase = text
    .slice(from)
    .split(' ')
    .filter((w) => w.length > 0 && !drop.has(w))
    .join(' ');
  return { ...(phrase.length > 0 ? { phrase } : {}), ...(span && phrase.includes(span) ? { targetSpan: span } : {}) };
}

function looksLikeVerb(t: Token): boolean {
  return t.pos === 'VERB' || isKnownVerb(t.lemma) || EXAMINE.has(t.lemma) || MOVE.has(t.lemma) || t.lemma in SPEECH || t.norm === 'x' || t.norm === 'l';
}

/** "it" / "them" → the last object mentioned, "him" / "her" → the last person; in place, so order is kept. */
function resolvePronouns(tokens: readonly Token[], text: string, found: Mention[], memory: ParseContext, lexicon: Lexicon): Mention[] {
  const out = [...found];
  const pronouns = new Set(tokens.filter((t) => t.pos === 'PRON' && (ENTITY_PRONOUNS.has(t.norm) || PERSON_PRONOUNS.has(t.norm))).map((t) => t.norm));
  if (pronouns.size === 0) return out;
  let at = 0;
  for (const word of text.split(' ')) {
    const here = at;
    at += word.length + 1;
    if (!pronouns.has(word)) continue;
    const wantsEntity = ENTITY_PRONOUNS.has(word);
    const before = found.filter((m) => m.at < here);
    const id = wantsEntity
      ? ([...before].reverse().find((m) => m.kind === 'entity')?.id ?? memory.lastEntity)
      : ([...before].reverse().find((m) => m.kind === 'character')?.id ?? memory.lastCharacter ?? soleCast(lexicon));
    if (!id || out.some((m) => m.id === id)) continue;
    const entry = lexicon.entries.find((e) => e.id === id);
    if (entry) out.push({ ...entry, at: here });
  }
  return out.sort((a, b) => a.at - b.at);
}

function quotedSpeech(raw: string, trimmed: string, quoted: string, lexicon: Lexicon): ParsedClause {
  const outside = normalise(trimmed.replace(/["“][^"”]*["”]/, ' ').replace(/^'.*'$/, ''));
  const named = findMentions(outside, lexicon).filter((m) => m.kind === 'character');
  const here = named.filter((m) => m.present);
  const absent = named.filter((m) => !m.present);
  const addressee = here[0]?.id ?? (absent.length > 0 ? undefined : soleCast(lexicon));
  const kind: ActionKind = quoted.trim().endsWith('?') || /\bask\b/.test(outside) ? 'question' : 'speech';
  const words = normalise(quoted).split(' ');
  return {
    raw,
    kind,
    verb: /\bask\b/.test(outside) ? 'ask' : 'say',
    mentions: here.map((m) => ({ id: m.id, kind: m.kind })),
    keywords: [...new Set(words.filter((w) => !STOPWORDS.has(w) && w.length > 1))],
    manner: [],
    ...(absent.length > 0 ? { absent: absent.map((m) => ({ id: m.id, kind: m.kind })) } : {}),
    ...(addressee ? { addressee } : {}),
    content: quoted,
  };
}

/** Speech followed by more speech to the same person is one utterance. */
function mergeSpeech(clauses: ParsedClause[], raw: string): ParsedClause[] {
  const out: ParsedClause[] = [];
  for (const c of clauses) {
    const prev = out.at(-1);
    const talk = (x: ParsedClause) => (x.kind === 'speech' || x.kind === 'question') && x.requested === undefined;
    if (prev && talk(prev) && talk(c) && (c.addressee === undefined || c.addressee === prev.addressee)) {
      out[out.length - 1] = {
        ...prev,
        kind: prev.kind === 'question' || c.kind === 'question' ? 'question' : 'speech',
        content: `${prev.content ?? ''} ${c.content ?? ''}`.trim(),
        keywords: [...new Set([...prev.keywords, ...c.keywords])],
        mentions: [...prev.mentions, ...c.mentions.filter((m) => !prev.mentions.some((p) => p.id === m.id))],
        manner: [...new Set([...prev.manner, ...c.manner])],
        raw,
      };
    } else out.push(c);
  }
  return out;
}

function directionDestination(words: readonly string[], lexicon: Lexicon): string | undefined {
  // "go up" / "climb the stairs": a direction word that is itself an alias of a neighbouring setting.
  for (const w of words) {
    const hit = lexicon.entries.find((e) => e.kind === 'setting' && e.phrase === w && e.id !== lexicon.here && e.present);
    if (hit) return hit.id;
  }
  return undefined;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
