import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { StorytellerError } from '../../errors.ts';
import { crossReferenceProblems, type StoryProblem } from './cross-references.ts';
import { characterSchema, entitySchema, relationSchema, sceneSchema, settingSchema, storySchema, type Story } from './schema.ts';

/**
 * Reads a story file (YAML or JSON), validates its shape and its cross-references,
 * and reports every problem with its path in the file (`scenes[2].gates[0].condition`)
 * and, for YAML, its line. Throws `STORY_INVALID` with `details.problems`.
 *
 * @example
 * const story = await loadStoryFile('db/stories/the-lighthouse-keeper.yaml');
 * // or: parseStory(text, 'inline.yaml')
 */
export interface LocatedProblem {
  path: string;
  line?: number;
  message: string;
}

export async function loadStoryFile(file: string): Promise<Story> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new StorytellerError('STORY_NOT_FOUND', `cannot read story file ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseStory(text, file);
}

/** Parses and validates story text; `name` picks the format (.json → JSON, else YAML) and labels errors. */
export function parseStory(text: string, name = 'story.yaml'): Story {
  const isJson = extname(name).toLowerCase() === '.json';
  let raw: unknown;
  let locate: (path: (string | number)[]) => number | undefined = () => undefined;
  if (isJson) {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw invalid(name, [{ path: '(file)', message: `not valid JSON: ${(error as Error).message}` }]);
    }
  } else {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    // One message for a syntax error, at the line to fix, with a hint: the parser's later errors follow from the first.
    const first = doc.errors[0];
    if (first) throw invalid(name, [yamlProblem(first, doc.errors, lineCounter)]);
    raw = doc.toJS();
    locate = (path) => lineOf(doc, lineCounter, path);
  }
  return validate(raw, name, locate);
}

/** Validates an already-parsed value (e.g. a story definition read back from the database). */
export function validateStory(raw: unknown, name = 'story'): Story {
  return validate(raw, name, () => undefined);
}

/**
 * Shape and cross-references in one run: when the schema fails, the parts that pass it are
 * still cross-checked (references to the failed parts are not reported twice), so an author
 * sees every problem at once.
 */
function validate(raw: unknown, name: string, locate: (path: (string | number)[]) => number | undefined): Story {
  const parsed = storySchema.safeParse(raw);
  if (parsed.success) {
    const problems = crossReferenceProblems(parsed.data);
    if (problems.length > 0) throw invalid(name, problems.map((p) => located(p, locate)));
    return parsed.data;
  }
  const shape = zodProblems(parsed.error, locate);
  const partial = partialStory(raw);
  const references = partial ? crossReferenceProblems(partial.story, { knownIds: partial.knownIds }).map((p) => located({ ...p, path: partial.remap(p.path) }, locate)) : [];
  const seen = new Set(shape.map((p) => `${p.path}: ${p.message}`));
  throw invalid(name, [...shape, ...references.filter((p) => !seen.has(`${p.path}: ${p.message}`))]);
}

const SECTIONS = { settings: settingSchema, characters: characterSchema, entities: entitySchema, relations: relationSchema, scenes: sceneSchema } as const;

/** The parts of a story that pass the schema, with the indexes they had in the file. */
function partialStory(raw: unknown): { story: Story; knownIds: Set<string>; remap: (path: (string | number)[]) => (string | number)[] } | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  const knownIds = new Set<string>();
  const indexes: Record<string, number[]> = {};
  const valid: Record<string, unknown[]> = {};
  for (const [section, schema] of Object.entries(SECTIONS)) {
    const items = Array.isArray(r[section]) ? (r[section] as unknown[]) : [];
    valid[section] = [];
    indexes[section] = [];
    items.forEach((item, i) => {
      const ok = (schema as z.ZodType).safeParse(item);
      if (ok.success) {
        valid[section]!.push(ok.data);
        indexes[section]!.push(i);
        return;
      }
      // A part that failed: its ids (and its gates' and goals') still exist for references.
      const x = item as { id?: unknown; gates?: unknown; goals?: unknown };
      if (typeof x?.id === 'string') knownIds.add(x.id);
      for (const list of [x?.gates, x?.goals]) if (Array.isArray(list)) for (const g of list) if (typeof (g as { id?: unknown })?.id === 'string') knownIds.add((g as { id: string }).id);
    });
  }
  const scenes = valid.scenes as Story['scenes'];
  const settings = valid.settings as Story['settings'];
  const player = (r.player ?? {}) as Record<string, unknown>;
  const world = r.world && typeof r.world === 'object' && !Array.isArray(r.world) ? (r.world as Story['world']) : {};
  const story = {
    format: 1,
    id: 'partial',
    title: 'partial',
    version: 1,
    author: '',
    intro: 'partial',
    player: { name: 'you', description: '', startsAt: typeof player.startsAt === 'string' ? player.startsAt : (settings[0]?.id ?? '') },
    start: typeof r.start === 'string' ? r.start : (scenes[0]?.id ?? ''),
    world,
    settings,
    characters: valid.characters as Story['characters'],
    entities: valid.entities as Story['entities'],
    relations: valid.relations as Story['relations'],
    scenes,
  } satisfies Story;
  const remap = (path: (string | number)[]) => {
    const [section, index, ...rest] = path;
    if (typeof section === 'string' && typeof index === 'number' && indexes[section]) return [section, indexes[section]![index] ?? index, ...rest];
    return path;
  };
  return { story, knownIds, remap };
}


/** `scenes[2].gates[0].condition` from ['scenes', 2, 'gates', 0, 'condition']. */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out.length === 0 ? String(seg) : `.${String(seg)}`;
  }
  return out.length === 0 ? '(root)' : out;
}

/** One line per problem: `file:line: path: message`. */
export function formatProblems(name: string, problems: readonly LocatedProblem[]): string {
  return problems.map((p) => `${name}${p.line ? `:${p.line}` : ''}: ${p.path}: ${p.message}`).join('\n');
}

function invalid(name: string, problems: LocatedProblem[]): StorytellerError {
  const shown = problems.slice(0, 50);
  const more = problems.length > shown.length ? `\n… and ${problems.length - shown.length} more` : '';
  return new StorytellerError('STORY_INVALID', `${name}: ${problems.length} problem(s)\n${formatProblems(name, shown)}${more}`, {
    details: { file: name, problems },
  });
}

function located(p: StoryProblem, locate: (path: (string | number)[]) => number | undefined): LocatedProblem {
  const line = locate(p.path);
  return line === undefined ? { path: formatPath(p.path), message: p.message } : { path: formatPath(p.path), line, message: p.message };
}

function zodProblems(error: z.ZodError, locate: (path: (string | number)[]) => number | undefined): LocatedProblem[] {
  const out: LocatedProblem[] = [];
  for (const issue of error.issues) {
    // A union of predicate forms fails as a whole; say which forms exist rather than dumping each branch.
    const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    out.push(located({ path, message: zodMessage(issue, path) }, locate));
  }
  return out;
}

/** The line of the deepest existing node on `path` (so a missing key points at its parent). */
function lineOf(doc: Document, counter: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Author-facing wording for a schema issue: the field's name, what it must be. */
function zodMessage(issue: z.core.$ZodIssue, path: (string | number)[]): string {
  const field = [...path].reverse().find((p): p is string => typeof p === 'string') ?? 'value';
  if (issue.code === 'invalid_union') return 'not a valid predicate/value here (see docs/story-format.md for the allowed forms)';
  if (issue.code === 'invalid_type') {
    const received = /received (\w+)/.exec(issue.message)?.[1];
    if (received === 'undefined') return `missing required field \`${field}\``;
    return `\`${field}\` must be ${article(issue.expected)}${received ? ` (got ${article(received)})` : ''}`;
  }
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')} (the reference in docs/story-format.md lists the fields)`;
  if (issue.code === 'invalid_value') return `\`${field}\` must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return issue.message;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

const YAML_HINTS: Record<string, string> = {
  MISSING_CHAR: 'this line is indented differently from the lines around it — the keys of one item line up under each other',
  BAD_INDENT: "check this line's indentation against the line above, and that every [ and { opened before it is closed",
  BLOCK_AS_IMPLICIT_KEY: 'this line is indented further than the key above it; a value either follows its key on the same line or starts on the next line, indented under it',
  MULTILINE_IMPLICIT_KEY: 'this line is indented further than the key above it; a value either follows its key on the same line or starts on the next line, indented under it',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  DUPLICATE_KEY: 'this key appears twice in the same mapping',
  BAD_SCALAR_START: 'a value starting with a special character (@, `, %, |, >, *, &, !) needs quotes',
  MISSING_FLOW_END: 'a [ or { is not closed',
  UNEXPECTED_TOKEN: 'check the quoting and indentation near this line',
};

/** The parser's first error as one problem: the line to fix (for a wrongly indented key, the key's own line) and a hint. */
function yamlProblem(e: { code: string; pos: [number, number]; message: string }, all: ReadonlyArray<{ code: string; pos: [number, number] }>, counter: LineCounter): LocatedProblem {
  // An over-indented key is reported at the key above it; the parser's follow-up error ends on the key itself.
  const multiline = all.find((x) => x.code === 'MULTILINE_IMPLICIT_KEY');
  const line = e.code === 'BLOCK_AS_IMPLICIT_KEY' || e.code === 'MULTILINE_IMPLICIT_KEY' ? counter.linePos((multiline ?? e).pos[1]).line : counter.linePos(e.pos[0]).line;
  const first = e.message.split('\n')[0] ?? e.message;
  const hint = YAML_HINTS[e.code] ?? 'check the indentation and quoting near this line';
  return { path: '(file)', line, message: `YAML syntax: ${first.replace(/ at line \d+, column \d+:?$/, '')} — ${hint}` };
}
