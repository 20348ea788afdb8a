/**
 * The scene's lexicon for stage 1: every name and alias of the characters, objects and
 * settings the player may mention, longest first, each marked present (in the scene,
 * within reach) or not (named by the story but elsewhere) — so "talk to Orrin" while
 * Orrin is in another scene names an absent person instead of falling to whoever is here.
 * Mentions are found at word boundaries without overlaps; a one-word name typed with one
 * slip ("lanturn") still matches (two slips for names of seven letters or more).
 *
 * @example
 * const lexicon = buildLexicon({ characters, objects, settings, absentCharacters });
 * findMentions('give the lanturn to ada', lexicon) // → [{ id: 'brass_lamp', … }, { id: 'ada', … }]
 */
export interface LexiconEntry {
  id: string;
  kind: 'character' | 'entity' | 'setting';
  phrase: string;
  /** In the scene (cast member, object within reach, this or a neighbouring setting). */
  present: boolean;
}

export interface Lexicon {
  /** Phrases, longest first. */
  entries: LexiconEntry[];
  /** Cast ids in authored order (default addressee when the cast is one person). */
  cast: string[];
  /** Id of the setting the player is in (so "the lighthouse" from inside it is not a destination). */
  here: string;
}

interface Named {
  id: string;
  name: string;
  aliases: readonly string[];
}

export interface LexiconSource {
  characters: readonly Named[];
  objects: readonly Named[];
  /** The current setting first, then its neighbours and the story's other places. */
  settings: readonly Named[];
  /** Characters of the story who are not in this scene. */
  absentCharacters?: readonly Named[];
  /** Objects of the story out of reach. */
  absentObjects?: readonly Named[];
}

export type Mention = LexiconEntry & { at: number; fuzzy?: boolean };

/** Builds the scene's lexicon once per scene (names and aliases, "the" stripped, longest first). */
export function buildLexicon(source: LexiconSource): Lexicon {
  const entries: LexiconEntry[] = [];
  const add = (id: string, kind: LexiconEntry['kind'], text: string, present: boolean) => {
    const phrase = normalise(text).replace(/^(the|a|an) /, '');
    if (phrase.length === 0) return;
    // A present thing wins a phrase over an absent one of the same kind.
    if (entries.some((e) => e.phrase === phrase && e.kind === kind)) return;
    entries.push({ id, kind, phrase, present });
  };
  for (const c of source.characters) [c.name, ...c.aliases, c.id].forEach((t) => add(c.id, 'character', t, true));
  for (const o of source.objects) [o.name, ...o.aliases].forEach((t) => add(o.id, 'entity', t, true));
  for (const s of source.settings) [s.name, ...s.aliases].forEach((t) => add(s.id, 'setting', t, true));
  const here = new Set(source.characters.map((c) => c.id));
  for (const c of source.absentCharacters ?? []) if (!here.has(c.id)) [c.name, ...c.aliases, c.id].forEach((t) => add(c.id, 'character', t, false));
  const inReach = new Set(source.objects.map((o) => o.id));
  for (const o of source.absentObjects ?? []) if (!inReach.has(o.id)) [o.name, ...o.aliases].forEach((t) => add(o.id, 'entity', t, false));
  entries.sort((a, b) => b.phrase.length - a.phrase.length || Number(b.present) - Number(a.present));
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

/**
 * Lexicon phrases in normalised text at word boundaries, longest first, without overlaps;
 * then one-word names with a typo among the words left over (`skip`: words never read as names).
 */
export function findMentions(text: string, lexicon: Lexicon, skip: ReadonlySet<string> = new Set()): Mention[] {
  const padded = ` ${text} `;
  const taken: Array<[number, number]> = [];
  const found: Mention[] = [];
  const free = (start: number, end: number) => !taken.some(([s, e]) => start < e && end > s);
  for (const { entry, needle } of needlesOf(lexicon)) {
    let from = 0;
    for (;;) {
      const at = padded.indexOf(needle, from);
      if (at < 0) break;
      from = at + 1;
      const start = at + 1;
      const end = at + needle.length - 1;
      if (!free(start, end)) continue;
      taken.push([start, end]);
      found.push({ ...entry, at: start - 1 });
    }
  }
  // Typos: each remaining word of four letters or more against one-word names.
  const single = singlesOf(lexicon);
  let offset = 0;
  for (const word of text.split(' ')) {
    const start = offset + 1;
    offset += word.length + 1;
    if (word.length < 4 || skip.has(word) || !free(start, start + word.length)) continue;
    const limit = word.length >= 7 ? 2 : 1;
    let best: { entry: LexiconEntry; d: number } | null = null;
    for (const entry of single) {
      if (Math.abs(entry.phrase.length - word.length) > limit) continue;
      const d = editDistance(word, entry.phrase, limit);
      if (d <= limit && (best === null || d < best.d || (d === best.d && entry.present && !best.entry.present))) best = { entry, d };
    }
    if (best && best.d > 0) {
      taken.push([start, start + word.length]);
      found.push({ ...best.entry, at: start - 1, fuzzy: true });
    }
  }
  return found.sort((a, b) => a.at - b.at);
}

const needles = new WeakMap<Lexicon, Array<{ entry: LexiconEntry; needle: string }>>();
/** The padded search strings (" phrase ", " phrase's ") of every entry, longest phrase first, built once per lexicon. */
function needlesOf(lexicon: Lexicon): Array<{ entry: LexiconEntry; needle: string }> {
  let list = needles.get(lexicon);
  if (!list) {
    list = lexicon.entries.flatMap((entry) => ['', "'s"].map((suffix) => ({ entry, needle: ` ${entry.phrase}${suffix} ` })));
    needles.set(lexicon, list);
  }
  return list;
}

const singles = new WeakMap<Lexicon, LexiconEntry[]>();
/** One-word names of four letters or more (typo candidates), computed once per lexicon. */
function singlesOf(lexicon: Lexicon): LexiconEntry[] {
  let list = singles.get(lexicon);
  if (!list) {
    list = lexicon.entries.filter((e) => !e.phrase.includes(' ') && e.phrase.length >= 4);
    singles.set(lexicon, list);
  }
  return list;
}

/** Rolling rows of the distance table, reused across calls (names are short; grown when needed). */
let rowA = new Int32Array(64);
let rowB = new Int32Array(64);
let rowC = new Int32Array(64);

/** Optimal-string-alignment distance (a swap of two letters counts once), giving up past `limit`. */
export function editDistance(a: string, b: string, limit: number): number {
  const n = b.length;
  if (rowA.length <= n) {
    rowA = new Int32Array(n + 1);
    rowB = new Int32Array(n + 1);
    rowC = new Int32Array(n + 1);
  }
  // Three rows suffice: the swap reaches back two rows.
  let prev2 = rowA;
  let prev = rowB;
  let cur = rowC;
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j <= n; j++) {
      const bj = b.charCodeAt(j - 1);
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (ai === bj ? 0 : 1));
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > limit) return limit + 1;
    const spare = prev2;
    prev2 = prev;
    prev = cur;
    cur = spare;
  }
  return prev[n]!;
}
