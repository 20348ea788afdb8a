import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.ts';

/**
 * Which story `npm start` plays: `--story FILE`, else STORYTELLER_STORY when it is set,
 * else the story played last (recorded under the data directory when a game starts on
 * the database — `--local` keeps nothing, so it records nothing), else the sample story.
 * The record is JSON read back through zod; a broken or stale one (file gone) is ignored.
 *
 * @example
 * const choice = chooseStory(config, undefined); // { path: '/…/my-story.yaml', why: 'last-played' }
 * rememberStory(config, choice.path, story);
 */
export const LAST_PLAYED_FILE = 'last-played.json';

const lastPlayedSchema = z.object({
  path: z.string().min(1).max(4_096),
  storyId: z.string().min(1).max(200),
  title: z.string().min(1).max(200),
  at: z.string().max(40),
});
export type LastPlayed = z.infer<typeof lastPlayedSchema>;

export interface StoryChoice {
  path: string;
  why: 'option' | 'environment' | 'last-played' | 'default';
}

export function readLastPlayed(config: Pick<Config, 'dataDir'>): LastPlayed | null {
  const file = join(config.dataDir, LAST_PLAYED_FILE);
  if (!existsSync(file)) return null;
  try {
    const parsed = lastPlayedSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success && existsSync(parsed.data.path) ? parsed.data : null;
  } catch {
    return null;
  }
}

export function chooseStory(config: Pick<Config, 'dataDir' | 'storyPath' | 'env'>, option: string | undefined): StoryChoice {
  if (option) return { path: option, why: 'option' };
  if (config.env.STORYTELLER_STORY) return { path: config.storyPath, why: 'environment' };
  const last = readLastPlayed(config);
  if (last) return { path: last.path, why: 'last-played' };
  return { path: config.storyPath, why: 'default' };
}

export function rememberStory(config: Pick<Config, 'dataDir'>, path: string, story: { id: string; title: string }): void {
  mkdirSync(config.dataDir, { recursive: true });
  const record: LastPlayed = { path: resolve(path), storyId: story.id, title: story.title, at: new Date().toISOString() };
  writeFileSync(join(config.dataDir, LAST_PLAYED_FILE), `${JSON.stringify(record, null, 2)}\n`);
}
