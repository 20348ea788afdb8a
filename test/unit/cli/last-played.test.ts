import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseStory, LAST_PLAYED_FILE, readLastPlayed, rememberStory } from '../../../src/cli/last-played.ts';

const dir = mkdtempSync(join(tmpdir(), 'storyteller-last-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FENCE = 'test/fixtures/the-fence-and-the-flute.yaml';
const SAMPLE = 'db/stories/the-lighthouse-keeper.yaml';

describe('which story `npm start` plays', () => {
  it('--story, then STORYTELLER_STORY, then the story played last, then the sample', () => {
    const dataDir = join(dir, 'a');
    const config = (env: NodeJS.ProcessEnv) => ({ dataDir, storyPath: env.STORYTELLER_STORY ?? SAMPLE, env });
    expect(chooseStory(config({}), undefined)).toEqual({ path: SAMPLE, why: 'default' });
    rememberStory({ dataDir }, FENCE, { id: 'the_fence_and_the_flute', title: 'The Fence and the Flute' });
    expect(chooseStory(config({}), undefined)).toEqual({ path: resolve(FENCE), why: 'last-played' });
    expect(chooseStory(config({ STORYTELLER_STORY: SAMPLE }), undefined)).toEqual({ path: SAMPLE, why: 'environment' });
    expect(chooseStory(config({ STORYTELLER_STORY: SAMPLE }), 'x.yaml')).toEqual({ path: 'x.yaml', why: 'option' });
  });

  it('ignores a record that is not valid JSON, has the wrong shape, or names a file that is gone', () => {
    const dataDir = join(dir, 'b');
    rememberStory({ dataDir }, FENCE, { id: 'f', title: 'F' });
    const file = join(dataDir, LAST_PLAYED_FILE);
    writeFileSync(file, '{ not json');
    expect(readLastPlayed({ dataDir })).toBeNull();
    writeFileSync(file, JSON.stringify({ path: 42 }));
    expect(readLastPlayed({ dataDir })).toBeNull();
    writeFileSync(file, JSON.stringify({ path: join(dir, 'gone.yaml'), storyId: 'g', title: 'G', at: '' }));
    expect(readLastPlayed({ dataDir })).toBeNull();
    expect(chooseStory({ dataDir, storyPath: SAMPLE, env: {} }, undefined).why).toBe('default');
  });
});
