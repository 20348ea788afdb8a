import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { affordanceAmbiguities } from '../../../src/checking/affordance-ambiguity.ts';
import { findSoftLocks, softLockProblems } from '../../../src/checking/soft-locks.ts';
import { StoryExplorer } from '../../../src/checking/story-explorer.ts';
import { loadStoryFile, parseStory } from '../../../src/domain/story/loader.ts';
import { renderStoryReference, REFERENCE_BEGIN, REFERENCE_END, storyReferenceRows, withStoryReference } from '../../../src/domain/story/schema-reference.ts';
import { storySchema } from '../../../src/domain/story/schema.ts';
import { StorytellerError } from '../../../src/errors.ts';

const problemsOf = (text: string): Array<{ path: string; line?: number; message: string }> => {
  try {
    parseStory(text, 'broken.yaml');
  } catch (error) {
    return ((error as StorytellerError).details as { problems: Array<{ path: string; line?: number; message: string }> }).problems;
  }
  throw new Error('expected STORY_INVALID');
};

describe('story check: no soft-locks', () => {
  it('proves the sample story finishable from every reachable state', async () => {
    const story = await loadStoryFile('db/stories/the-lighthouse-keeper.yaml');
    const report = findSoftLocks(story, { maxStates: 50_000 });
    expect(report.bounded).toBe(false);
    expect(report.deadEnds).toEqual([]);
    expect(softLockProblems(report).errors).toEqual([]);
    // The shortest playthrough, replayed step by step through the same rules, ends the story.
    const explorer = new StoryExplorer(story);
    let state = explorer.initial();
    for (const input of report.solution ?? []) state = explorer.step(state, input);
    expect(state.ended).toBe(true);
    // Only the interpretive gate (a stage-3/4 judgment of kindness) is left to the LLM track.
    // Both rest on what the turn rules cannot prove: the deferred ripple (a relationship) and a judgment.
    expect(report.unreachableGates).toEqual([
      { scene: 'the_lamp_room', gate: 'tobias_heard_of_you', interpretive: false, deferred: true },
      { scene: 'the_lamp_room', gate: 'tobias_hears_you', interpretive: true, deferred: false },
    ]);
  }, 300_000); // CPU-bound (every reachable state): 45–55 s alone on the 2-core machine, over 2 minutes beside the rest of the suite

  it('proves the second test story finishable', async () => {
    const report = findSoftLocks(await loadStoryFile('test/fixtures/the-fence-and-the-flute.yaml'));
    expect(softLockProblems(report)).toEqual({ errors: [], warnings: [] });
  });

  it('reports the shortest input path into a dead end, with the state it leaves', async () => {
    const report = findSoftLocks(await loadStoryFile('test/fixtures/broken/dead-end.yaml'));
    expect(report.endingReachable).toBe(true);
    expect(report.deadEnds[0]?.path).toEqual(['drop the coin', 'go to The Bay']);
    expect(report.deadEnds[0]?.state).toMatchObject({ scene: 'in_the_bay', lying: { coin: 'shore' }, holding: {} });
    expect(softLockProblems(report).errors[0]).toBe('soft-lock: after "drop the coin" → "go to The Bay" no ending can be reached (scene in_the_bay; holding: nothing; lying: coin at shore)');
  });

  it('reports unreachable gates and goals as errors', async () => {
    const report = findSoftLocks(await loadStoryFile('test/fixtures/broken/unreachable.yaml'));
    expect(report.deadEnds).toEqual([]);
    expect(report.unreachableGates).toEqual([{ scene: 'the_room', gate: 'wall_opens', interpretive: false, deferred: false }]);
    expect(report.unreachableGoals).toEqual([{ scene: 'the_room', goal: 'get_gem', interpretive: false, deferred: false }]);
    expect(softLockProblems(report).errors).toEqual(['scenes.the_room: gate "wall_opens" can never fire', 'scenes.the_room: goal "get_gem" can never be completed']);
  });

  it('warns when two affordances of one entity answer the same verb', async () => {
    const story = await loadStoryFile('test/fixtures/broken/unreachable.yaml');
    expect(affordanceAmbiguities(story)).toEqual([]);
    const lever = story.entities.find((e) => e.id === 'lever')!;
    lever.affordances.push({ action: 'yank', verbs: [], sets: {}, text: 'It sticks.' });
    expect(affordanceAmbiguities(story)).toEqual(['entities[1] (lever): affordances "pull" and "yank" both answer to "yank" — the first always wins']);
  });
});

const base = `format: 1
id: s
title: T
intro: I
player: { startsAt: a }
start: one
settings:
  - { id: a, name: A, description: D }
characters:
  - id: bo
    name: Bo
    description: D
    axes: [{ name: warmth, central: 0.1, low: 0, high: 0.2 }]
    motivations: [{ id: m, layer: surface, description: d }]
    communicability: { surfaceArea: 0.5, translationFriction: 0.5, reciprocity: 0.5 }
    persistence: { mode: persistent }
`;

describe('author-facing validation', () => {
  it('reports schema and cross-reference problems in one run, with lines', () => {
    const problems = problemsOf(`${base}scenes:
  - id: one
    name: One
    type: gate
    description: D
    cast: { required: [] }
    gates:
      - { id: g, speaker: bo, content: C, condition: { holds: { predicate: visited, args: [nowhere] } } }
    ending: { when: { holds: { predicate: gate_fired, args: [g] } }, text: E }
  - id: two
    name: Two
    type: gate
    setting: a
    description: D
    cast: { required: [] }
    departures: [{ to: ghost, when: { holds: { predicate: visited, args: [one] } } }]
`);
    expect(problems).toEqual([
      { path: 'scenes[0].setting', line: 18, message: 'missing required field `setting`' },
      // Scene 0 failed the schema, yet scene 1 is still cross-checked (index as in the file).
      { path: 'scenes[1].departures[0].to', line: 32, message: 'departure to unknown scene "ghost"' },
    ]);
  });

  it('checks that a gate speaker is in the scene cast', () => {
    const problems = problemsOf(`${base}scenes:
  - id: one
    name: One
    type: gate
    setting: a
    description: D
    cast: { required: [] }
    gates:
      - { id: g, speaker: bo, content: C, condition: { holds: { predicate: visited, args: [one] } } }
    ending: { when: { holds: { predicate: gate_fired, args: [g] } }, text: E }
`);
    expect(problems).toEqual([{ path: 'scenes[0].gates[0].speaker', line: 25, message: 'speaker "bo" is not in this scene\'s cast (add them to cast.required or cast.contingent)' }]);
  });

  it('names a wrong type in the field’s words', () => {
    const problems = problemsOf(base.replace('title: T', 'title: T\nversion: "2"') + 'scenes: []\n');
    expect(problems).toContainEqual({ path: 'version', line: 4, message: '`version` must be a number (got a string)' });
  });

  it('reduces an indentation mistake to one message at the line to fix, with a hint', () => {
    const problems = problemsOf('id: s\ntitle: T\n  intro: over-indented\nplayer: { startsAt: a }\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: '(file)', line: 3 });
    expect(problems[0]?.message).toMatch(/^YAML syntax: .* — this line is indented further than the key above it/);
    const item = problemsOf('settings:\n  - id: s\n    name: S\n   description: bad\n');
    expect(item).toHaveLength(1);
    expect(item[0]).toMatchObject({ line: 4 });
  });
});

describe('the generated field reference in docs/story-format.md', () => {
  it('is the one the schema generates now (regenerate: npm run docs:story-reference)', async () => {
    const doc = await readFile('docs/story-format.md', 'utf8');
    expect(doc).toContain(REFERENCE_BEGIN);
    expect(doc).toContain(REFERENCE_END);
    expect(withStoryReference(doc)).toBe(doc);
  });

  it('has a row for every field of the schema, with required and default read from zod itself', () => {
    // Independent oracle: walk the zod shapes directly (not through JSON Schema).
    const rows = new Map(storyReferenceRows().map((r) => [r.path, r]));
    const shape = storySchema.shape;
    for (const [key, field] of Object.entries(shape)) {
      const row = rows.get(key);
      expect(row, key).toBeDefined();
      const optional = field.safeParse(undefined).success;
      expect(row?.required, key).toBe(!optional);
    }
    expect(rows.get('version')).toMatchObject({ type: 'integer', required: false, default: '1' });
    expect(rows.get('scenes[].setting')).toMatchObject({ type: 'id', required: true });
    expect(rows.get('entities[].affordances[].verbs')).toMatchObject({ type: 'list of id', default: '[]' });
    expect(renderStoryReference().split('\n').length).toBe(rows.size + 2);
  });
});
