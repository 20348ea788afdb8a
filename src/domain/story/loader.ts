import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { StorytellerError } from '../../errors.ts';
import { crossReferenceProblems, type StoryProblem } from './cross-references.ts';
import { storySchema, type Story } from './schema.ts';

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
    if (doc.errors.length > 0) {
      throw invalid(
        name,
        doc.errors.map((e) => ({ path: '(file)', line: lineCounter.linePos(e.pos[0]).line, message: e.message.split('\n')[0] ?? e.message })),
      );
    }
    raw = doc.toJS();
    locate = (path) => lineOf(doc, lineCounter, path);
  }

  const parsed = storySchema.safeParse(raw);
  if (!parsed.success) throw invalid(name, zodProblems(parsed.error, locate));
  const problems = crossReferenceProblems(parsed.data);
  if (problems.length > 0) throw invalid(name, problems.map((p) => located(p, locate)));
  return parsed.data;
}

/** Validates an already-parsed value (e.g. a story definition read back from the database). */
export function validateStory(raw: unknown, name = 'story'): Story {
  const parsed = storySchema.safeParse(raw);
  if (!parsed.success) throw invalid(name, zodProblems(parsed.error, () => undefined));
  const problems = crossReferenceProblems(parsed.data);
  if (problems.length > 0) throw invalid(name, problems.map((p) => located(p, () => undefined)));
  return parsed.data;
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
    const message = issue.code === 'invalid_union' ? 'not a valid predicate/value here (see docs/story-format.md for the allowed forms)' : issue.message;
    const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    out.push(located({ path, message }, locate));
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
