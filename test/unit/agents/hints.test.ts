import { describe, expect, it } from 'vitest';
import { EngineSession } from '../../support/engine-session.ts';
import { StoryBehaviour, type NarratorWarm, type StorykeeperOutput } from '../../../src/actors/story-behaviour.ts';
import { loadStoryFile } from '../../../src/domain/story/loader.ts';
import type { Story } from '../../../src/domain/story/schema.ts';
import { sampleStory } from '../../support/story.ts';

/**
 * Progressive hints (src/actors/agents/hints.ts), through the real story behaviour in a
 * EngineSession: the hint is the storykeeper's after each turn, or the scene's entry hint.
 * The oracle for "the hint is the next step" is the story itself: typing what the hint
 * says must move the story (a gate, a goal, a scene), and following the hints alone
 * must finish it.
 */
async function session(story: Story): Promise<{ s: EngineSession; hint: () => string | null; send: (text: string) => Promise<StorykeeperOutput | null> }> {
  let last: StorykeeperOutput | null = null;
  const behaviour = new StoryBehaviour({ stories: async () => story, onStorykeeper: (_id, o) => (last = o) });
  const s = new EngineSession(behaviour, { storyId: story.id });
  await s.start();
  let hint: string | null = (s.scene?.narrator as NarratorWarm).hint;
  return {
    s,
    hint: () => hint,
    async send(text) {
      last = null;
      const turn = await s.send(text);
      const verdict = last as StorykeeperOutput | null;
      hint = turn.enteredScene ? (s.scene?.narrator as NarratorWarm).hint : (verdict?.hint ?? hint);
      return verdict;
    },
  };
}

/** The input a hint suggests: its first clause, without the full stop. */
const typed = (hint: string) => (hint.split(/, then |, or /)[0] as string).replace(/\.$/, '');

describe('progressive hints', () => {
  it('following the hints alone finishes the sample story, and every hinted input moves it', async () => {
    const { s, hint, send } = await session(await sampleStory());
    const said: string[] = [];
    for (let i = 0; i < 20 && !s.ended; i++) {
      const h = hint();
      expect(h).not.toBeNull();
      said.push(h as string);
      const before = { scene: s.sceneKey, truth: JSON.stringify(s.truthSet.persistent.filter((p) => p.predicate === 'gate_fired' || p.predicate === 'goal_completed')) };
      await send(typed(h as string));
      const after = { scene: s.sceneKey, truth: JSON.stringify(s.truthSet.persistent.filter((p) => p.predicate === 'gate_fired' || p.predicate === 'goal_completed')) };
      if (!s.ended) expect(after, `"${h}" moved nothing`).not.toEqual(before);
    }
    expect(s.ended).toBe(true);
    expect(said.slice(0, 4)).toEqual(['Ask Ewan Pell about the light.', 'Go to The Drowned Bell.', "Give the Board's letter to Ada Marsh.", 'Go to The Cliff Path.']);
    expect(said.length).toBeLessThanOrEqual(12);
  });

  it('advances within a scene: a constraint that forbids the step hints what lifts it (the fence and the flute)', async () => {
    const { s, hint, send } = await session(await loadStoryFile('test/fixtures/the-fence-and-the-flute.yaml'));
    expect(hint()).toBe('Play the flute.');
    await send('play the flute');
    await send('go to the barn');
    expect(s.sceneKey).toBe('the_barn');
    // The pin lies in the barn, but taking it is forbidden until the hatch is open.
    expect(hint()).toBe('Pull the lever.');
    await send('pull the lever');
    expect(hint()).toBe('Take the brass pin.');
    await send('take the pin');
    expect(hint()).toBe('Give the brass pin to Marta Hollin.');
    await send('give the pin to Marta');
    expect(s.ended).toBe(true);
  });

  it("follows a sequence gate's progress, and starts the sequence again when its window was missed", async () => {
    const { hint, send } = await session(await loadStoryFile('test/fixtures/tide-and-boat.yaml'));
    expect(hint()).toBe('Examine the tide table, then ask Ewan Pell about the boat.');
    await send('examine the tide table');
    expect(hint()).toBe('Ask Ewan Pell about the boat.');
    // Too many steps pass (within: 8 narrative steps), so asking now does not open the gate…
    await send('take the lamp');
    const late = await send('ask Ewan about the boat');
    expect(late?.released.map((r) => r.gateId)).not.toContain('boat_due');
    // …and the hint starts the sequence again.
    expect(hint()).toBe('Examine the tide table, then ask Ewan Pell about the boat.');
    await send('examine the tide table');
    const inTime = await send('ask Ewan about the boat');
    expect(inTime?.released.map((r) => r.gateId)).toContain('boat_due');
    // The next gate of the scene is hinted once this one fired.
    expect(hint()).toBe('Ask Ewan Pell about the lamp.');
  });

  it('a move that changes nothing keeps the step; one that completes it moves the hint on', async () => {
    const { s, hint, send } = await session(await sampleStory());
    await send('ask Ewan about the light');
    await send('go to the inn');
    expect(s.sceneKey).toBe('the_drowned_bell');
    // Asking about something else does not change the step.
    await send('ask Ada about the weather');
    expect(hint()).toBe("Give the Board's letter to Ada Marsh.");
    await send('talk to Silas');
    expect(hint()).toBe("Give the Board's letter to Ada Marsh.");
    // Showing the letter while Ada is there also opens her gate (the story's `any`): the hint moves on.
    await send('show the letter to Silas');
    expect(hint()).toBe('Go to The Cliff Path.');
  });
});
