import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { isStorytellerError } from '../../../src/errors.ts';
import { loadStoryFile, parseStory, type LocatedProblem } from '../../../src/domain/story/loader.ts';
import { sceneUuid } from '../../../src/domain/story/ids.ts';

const SAMPLE = 'db/stories/the-lighthouse-keeper.yaml';
const text = readFileSync(SAMPLE, 'utf8');

function problemsOf(fn: () => unknown): LocatedProblem[] {
  try {
    fn();
  } catch (error) {
    expect(isStorytellerError(error, 'STORY_INVALID')).toBe(true);
    return (error as { details: { problems: LocatedProblem[] } }).details.problems;
  }
  throw new Error('expected STORY_INVALID');
}

/** Replaces the n-th occurrence (0-based) of `from` in the sample text. */
function mutate(from: string, to: string, nth = 0): string {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(from, at + 1);
    if (at < 0) throw new Error(`"${from}" occurs fewer than ${nth + 1} times`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

function lineOf(haystack: string, needle: string): number {
  return haystack.slice(0, haystack.indexOf(needle)).split('\n').length;
}

describe('story loader: the sample story', () => {
  it('loads and meets the sample-story brief', async () => {
    const story = await loadStoryFile(SAMPLE);
    expect(story.scenes.length).toBeGreaterThanOrEqual(5);
    expect(story.characters.length).toBeGreaterThanOrEqual(5);
    expect(story.settings.length).toBeGreaterThanOrEqual(4);
    // every relational dimension is present on every edge; personality axes, emotions, motivations, profiles on every character
    for (const r of story.relations) for (const d of ['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt'] as const) expect(typeof r[d]).toBe('number');
    for (const c of story.characters) {
      expect(c.axes.length).toBeGreaterThan(0);
      expect(Object.keys(c.emotions).length).toBeGreaterThan(0);
      expect(c.motivations.length).toBeGreaterThan(0);
      expect(c.communicability.surfaceArea).toBeGreaterThan(0);
      expect(c.persistence.mode).toBeTruthy();
    }
    expect(story.entities.some((e) => e.portable && e.heldBy)).toBe(true);
    expect(story.scenes.filter((s) => s.ending).length).toBe(1);
  });

  it('derives the same scene UUID for the same story and key, different ones for different keys', () => {
    expect(sceneUuid('s', 'a')).toBe(sceneUuid('s', 'a'));
    expect(sceneUuid('s', 'a')).not.toBe(sceneUuid('s', 'b'));
    expect(sceneUuid('s', 'a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('reads the same story from JSON', () => {
    const story = parseStory(JSON.stringify(YAML.parse(text)), 'story.json');
    expect(story.id).toBe('the_lighthouse_keeper');
  });
});

describe('story loader: invalid files name the path (and the YAML line)', () => {
  const cases: Array<{ name: string; yaml: string; path: string; message: RegExp; lineOfText?: string }> = [
    { name: 'unknown setting of a scene', yaml: mutate('    setting: harbour\n', '    setting: nowhere\n'), path: 'scenes[0].setting', message: /unknown setting "nowhere"/, lineOfText: 'setting: nowhere' },
    { name: 'departure to a scene that does not exist', yaml: mutate('      - to: the_drowned_bell', '      - to: the_moon'), path: 'scenes[0].departures[0].to', message: /unknown scene "the_moon"/, lineOfText: 'to: the_moon' },
    { name: 'a predicate naming an unknown gate', yaml: mutate('args: [why_the_light_is_dark] } }\n    gates:', 'args: [no_such_gate] } }\n    gates:'), path: 'scenes[0].goals[0].completion.holds.args[0]', message: /unknown gate "no_such_gate"/ },
    { name: 'a malformed gate condition', yaml: mutate('            - { holds: { predicate: said, args: [player, ewan] } }', '            - { holdz: { predicate: said } }'), path: 'scenes[0].gates[0].condition', message: /predicate/ },
    { name: 'asymmetric adjacency', yaml: mutate('    adjacent:\n      - { to: keepers_yard, cost: 1 }\n\ncharacters:', '    adjacent: []\n\ncharacters:'), path: 'settings[3].adjacent[1]', message: /not symmetric/ },
    { name: 'a budget below the cast and objects', yaml: mutate('    entityBudget: 12', '    entityBudget: 1'), path: 'scenes[0].entityBudget', message: /budget 1/, lineOfText: 'entityBudget: 1' },
    { name: 'a relation to an unknown character', yaml: mutate('{ from: ewan, to: player,', '{ from: ewan, to: ghost,'), path: 'relations[0].to', message: /unknown character "ghost"/ },
    { name: 'an id that is not lower_snake_case', yaml: mutate('  - id: ewan\n', '  - id: Ewan Pell\n'), path: 'characters[0].id', message: /lower_snake_case/, lineOfText: 'id: Ewan Pell' },
    { name: 'a missing required field', yaml: mutate('    type: threshold\n', ''), path: 'scenes[0].type', message: /./ },
    { name: 'a holder that does not exist', yaml: mutate('    heldBy: ada', '    heldBy: adah'), path: 'entities[3].heldBy', message: /unknown holder "adah"/ },
  ];

  it.each(cases)('$name → $path', ({ yaml, path, message, lineOfText }) => {
    const problems = problemsOf(() => parseStory(yaml, 'bad.yaml'));
    const hit = problems.find((p) => p.path === path || p.path.startsWith(`${path}.`) || p.path.startsWith(`${path}[`));
    expect(hit, JSON.stringify(problems)).toBeDefined();
    expect(hit?.message).toMatch(message);
    if (lineOfText) expect(hit?.line).toBe(lineOf(yaml, lineOfText));
  });

  it('reports YAML syntax errors with a line', () => {
    const problems = problemsOf(() => parseStory('id: x\n  title: [unclosed\n', 'broken.yaml'));
    expect(problems[0]?.line).toBeGreaterThan(0);
  });

  it('reports invalid JSON', () => {
    expect(problemsOf(() => parseStory('{ "id": ', 'broken.json'))[0]?.message).toMatch(/not valid JSON/);
  });

  it('names the file and the path in the error message', () => {
    try {
      parseStory(mutate('    setting: harbour\n', '    setting: nowhere\n'), 'bad.yaml');
    } catch (error) {
      expect((error as Error).message).toMatch(/bad\.yaml:\d+: scenes\[0\]\.setting: unknown setting "nowhere"/);
    }
  });

  it('a missing file is STORY_NOT_FOUND', async () => {
    await expect(loadStoryFile('db/stories/nope.yaml')).rejects.toSatisfy((e: unknown) => isStorytellerError(e, 'STORY_NOT_FOUND'));
  });
});
