import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineSession } from '../../support/engine-session.ts';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import { parseStory } from '../../../src/domain/story/loader.ts';
import { holds } from '../../../src/domain/truth-set.ts';

/** The minimal story printed in docs/story-format.md is valid and playable to its end. */
describe('docs/story-format.md example story', () => {
  const doc = readFileSync('docs/story-format.md', 'utf8');
  const block = /<!-- example-story -->\s*```yaml\n([\s\S]*?)```/.exec(doc)?.[1];

  it('parses', () => {
    expect(block).toBeDefined();
    expect(parseStory(block as string, 'docs-example.yaml').scenes).toHaveLength(2);
  });

  it('plays to its end', async () => {
    const story = parseStory(block as string, 'docs-example.yaml');
    const s = new EngineSession(new StoryBehaviour({ stories: async () => story }), { storyId: story.id });
    await s.start();
    expect((await s.send('take the key')).text).toMatch(/Old Hobb is holding the belfry key/);
    expect((await s.send('ask Hobb for the key')).text).toContain('Not without a please');
    const relent = await s.send('ask Hobb for the key, please');
    expect(relent.text).toContain('since you ask nicely');
    await s.send('go up');
    expect(s.sceneKey).toBe('in_the_belfry');
    const last = await s.send('pull the rope');
    expect(last.text).toContain('The valley hears it.');
    expect(last.ended).toBe(true);
    expect(holds(s.truthSet, 'goal_completed', 'get_key')).toBe(true);
  });
});
