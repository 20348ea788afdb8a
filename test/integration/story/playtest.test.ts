import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadStoryFile } from '../../../src/domain/story/loader.ts';
import { findSoftLocks } from '../../../src/checking/soft-locks.ts';
import { playtest } from '../../../src/playtest/playtest.ts';
import { chooseInput, seededRandom } from '../../../src/playtest/walk-inputs.ts';
import { SAMPLE_STORY_PATH } from '../../support/story.ts';

/**
 * `storyteller playtest`: walks through the real engine (SessionEngine + StoryBehaviour on
 * an in-memory PGlite). Small on purpose (a few walks, bounded turns) so CI can afford it.
 * The dead-end oracle is `story check`'s exhaustive exploration (findSoftLocks), a
 * different computation from the playtest's per-walk search.
 */
describe('playtest', () => {
  it('the sample story: no crash, no dead end, the guided walk reaches the end, every scene is covered', async () => {
    const report = await playtest(await loadStoryFile(SAMPLE_STORY_PATH), { walks: 2, turns: 30, seed: 1 });
    expect(report.crashes).toEqual([]);
    expect(report.deadEnds).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.walks).toHaveLength(2);
    // Walk 0 is guided: it follows a way to the ending, with adversarial inputs mixed in.
    expect(report.walks[0]?.ended).toBe(true);
    expect(report.coverage.scenes.never).toEqual([]);
    expect(report.coverage.endings).toBeGreaterThanOrEqual(1);
    // Non-authored kinds were really sent, and reached the engine.
    expect(Object.keys(report.inputsByKind).length).toBeGreaterThanOrEqual(6);
    expect(report.inputs).toBe(report.walks.reduce((n, w) => n + w.turns, 0));
  }, 300_000);

  it('the second story (the fence and the flute): no crash, no dead end, with a suspended and resumed walk', async () => {
    const story = await loadStoryFile('test/fixtures/the-fence-and-the-flute.yaml');
    const report = await playtest(story, { walks: 3, turns: 20, seed: 3 });
    expect(report.crashes).toEqual([]);
    expect(report.deadEnds).toEqual([]);
    expect(report.walks.some((w) => w.ended)).toBe(true);
    const all = story.scenes.flatMap((s) => s.gates.map((g) => g.id));
    expect([...report.coverage.gates.reached, ...report.coverage.gates.never].sort()).toEqual([...all].sort());
  }, 300_000);

  it('finds a dead end in a broken story and names the input that made it unfinishable', async () => {
    const story = await loadStoryFile('test/fixtures/broken/dead-end.yaml');
    // The oracle: the exhaustive exploration says leaving the shore without the coin is the way in.
    expect(findSoftLocks(story).deadEnds[0]?.path).toEqual(['drop the coin', 'go to The Bay']);
    const report = await playtest(story, { walks: 6, turns: 8, seed: 2 });
    expect(report.crashes).toEqual([]);
    expect(report.ok).toBe(false);
    expect(report.deadEnds.length).toBeGreaterThan(0);
    for (const d of report.deadEnds) {
      // The entering input is the departure from the shore, with the coin left behind earlier in the walk.
      expect(d.path.at(-1)).toMatch(/^(I )?(slowly |carefully |then )?go to the bay/i);
      expect(d.path.some((p) => /drop|set down|put|leave|discard|lay|place/i.test(p))).toBe(true);
      expect(d.scene).toBe('in_the_bay');
    }
    // Walks that did not drop the coin can finish.
    expect(report.walks.filter((w) => w.finishable === 'no')).toHaveLength(report.deadEnds.length);
  }, 300_000);

  it('the same seed chooses the same inputs', async () => {
    const story = await loadStoryFile(SAMPLE_STORY_PATH);
    const { StoryExplorer } = await import('../../../src/checking/story-explorer.ts');
    const state = new StoryExplorer(story).initial();
    const at = { story, data: state.scene.data, entities: state.scene.entities, truthSet: state.ts };
    const run = (seed: number) => {
      const rng = seededRandom(seed);
      return Array.from({ length: 40 }, () => chooseInput(rng, at));
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  it('`storyteller playtest` exits 1 on a dead end and prints it', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'playtest', 'test/fixtures/broken/dead-end.yaml', '-n', '6', '-t', '8', '--seed', '2'], { env: { ...process.env, LOG_LEVEL: 'warn' } });
      let out = '';
      child.stdout?.on('data', (d) => (out += d));
      child.on('close', (c) => resolve({ code: c ?? 1, stdout: out }));
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(/DEAD END walk \d+ in scene in_the_bay: after .*"go to the bay" no ending can be reached/i);
    expect(stdout).toMatch(/FAILED/);
  }, 300_000);
});
