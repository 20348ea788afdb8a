import type { WarmScene } from '../../src/actors/behaviour.ts';
import type { SceneEntities } from '../../src/actors/scene-model.ts';
import { StoryBehaviour, type StorySceneData, type StoryBehaviourServices } from '../../src/actors/story-behaviour.ts';
import type { SensitivityMap } from '../../src/actors/classifiers/sensitivity-map.ts';
import { loadStoryFile } from '../../src/domain/story/loader.ts';
import type { Story } from '../../src/domain/story/schema.ts';
import { EngineSession, type EngineSessionOptions } from './engine-session.ts';

export const SAMPLE_STORY_PATH = 'db/stories/the-lighthouse-keeper.yaml';

let cached: Promise<Story> | null = null;
/** The sample story, parsed once per test file. */
export function sampleStory(): Promise<Story> {
  cached ??= loadStoryFile(SAMPLE_STORY_PATH);
  return cached;
}

/** The walkthrough that finishes the sample story (the README's transcript). */
export const WALKTHROUGH = [
  'look',
  'ask Ewan about the light',
  'go to the inn',
  'ask Silas about the Curlew',
  'take the key',
  'give the letter to Ada',
  'go to the cliff path',
  'take the lamp',
  'ask Nell about the lamp',
  'go to the lighthouse',
  'go up',
  'unlock the door',
  'go up',
  'ask Tobias about Davey',
  'give the lamp to Tobias',
] as const;

/** A session of the sample story through the real engine on the file's in-memory database (not started). */
export async function engineSession(services: Partial<StoryBehaviourServices> = {}, options: EngineSessionOptions = {}): Promise<EngineSession> {
  const story = await sampleStory();
  const behaviour = new StoryBehaviour({ stories: async () => story, ...services });
  return new EngineSession(behaviour, { storyId: story.id }, options);
}

/** Plays the walkthrough up to (not including) the first input of `sceneKey`, returning the session there. */
export async function sessionAt(sceneKey: string, services: Partial<StoryBehaviourServices> = {}): Promise<EngineSession> {
  const s = await engineSession(services);
  await s.start();
  for (const line of WALKTHROUGH) {
    if (s.sceneKey === sceneKey) break;
    await s.send(line);
  }
  if (s.sceneKey !== sceneKey) throw new Error(`never reached ${sceneKey}`);
  return s;
}

export function warmParts(scene: WarmScene): { data: StorySceneData; entities: SceneEntities; sensitivity: SensitivityMap } {
  return { data: scene.definition.data as StorySceneData, entities: scene.entities as SceneEntities, sensitivity: scene.sensitivity as SensitivityMap };
}
