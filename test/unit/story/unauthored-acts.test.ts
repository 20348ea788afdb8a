import { describe, expect, it } from 'vitest';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import { loadStoryFile } from '../../../src/domain/story/loader.ts';
import { EngineSession } from '../../support/engine-session.ts';

/**
 * Acts the story did not author, through the real engine: said back in the player's own
 * words (found in play, issue 12: "You see no sea here." for a song, "You wave Uncle Bram.").
 */
describe('an unauthored act is said back whole, with the story’s names', () => {
  const play = async () => {
    const story = await loadStoryFile('test/fixtures/the-fence-and-the-flute.yaml');
    const s = new EngineSession(new StoryBehaviour({ stories: async () => story }), { storyId: story.id });
    await s.start();
    return s;
  };

  it('a song about things that are not here is sung, not refused', async () => {
    const s = await play();
    const turn = await s.send('I sing a sea shanty to the gulls');
    expect(turn.text).toContain('You sing a sea shanty to the gulls.');
    expect(turn.text).not.toMatch(/You see no/);
    expect(turn.events.map((e) => e.type)).not.toContain('ConstraintViolation');
    expect(turn.events).toContainEqual(expect.objectContaining({ type: 'ActionPerformed', data: expect.objectContaining({ actor: 'player', action: 'dance' }) }));
  });

  it('a gesture keeps its preposition, and the person is named as the story names them', async () => {
    const s = await play();
    expect((await s.send('I wave to the old man')).text).toContain('You wave to Uncle Bram.');
    expect((await s.send('wave at bram')).text).toContain('You wave at Uncle Bram.');
    expect((await s.send('I sing a song for my uncle')).text).toMatch(/You sing a song for (your uncle|Uncle Bram)\./);
  });

  it('looking for something that is not here is still refused', async () => {
    const s = await play();
    const turn = await s.send('kick the anvil');
    expect(turn.text).toContain('You see no anvil here.');
  });
});
