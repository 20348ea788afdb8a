import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { loadStoryFile } from '../domain/story/loader.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { storeStory } from '../persistence/story-store.ts';

/**
 * `storyteller story load <file>`, `storyteller story check <file>` and `storyteller play`.
 * An invalid story prints every problem with its path (and YAML line) and exits 1
 * (main.ts prints StorytellerErrors as `storyteller: STORY_INVALID: …`).
 *
 * @example
 * npm run storyteller -- story load db/stories/the-lighthouse-keeper.yaml
 */
export function registerStoryCommands(program: Command): void {
  const story = program.command('story').description('story files: validate and load');

  story
    .command('check <file>')
    .description('validate a story file (schema and cross-references) without storing it')
    .action(async (file: string) => {
      const s = await loadStoryFile(file);
      process.stdout.write(`${file}: ok — "${s.title}" v${s.version}: ${s.scenes.length} scenes, ${s.characters.length} characters, ${s.settings.length} settings, ${s.entities.length} entities\n`);
    });

  story
    .command('load <file>')
    .description('validate a story file and store it in the database (scenes, entities, baseline graph); idempotent')
    .action(async (file: string) => {
      const config = loadConfig();
      const s = await loadStoryFile(file);
      const db = await openDatabase(config);
      try {
        await migrate(db);
        const graph = await openGraphStore(db, config);
        try {
          const r = await storeStory(db, graph, s);
          process.stdout.write(
            `${r.changed ? 'loaded' : 'unchanged'}: ${r.storyId} "${r.title}" v${r.version} (${db.driver}) — ${r.scenes.length} scenes, ` +
              `${r.entities} entities, graph ${r.graph.vertices} vertices / ${r.graph.edges} edges, checksum ${r.checksum.slice(0, 12)}\n`,
          );
        } finally {
          await graph.close();
        }
      } finally {
        await db.close();
      }
    });

  withPlayOptions(program.command('play').description('play a story in the terminal (embedded database and engine in-process)'));
}

/**
 * The options of `play`, shared by `start` (which plays in the terminal until a gateway
 * serves the web client). `--inspect` is read by the engine (`inspectorFromEnvironment`);
 * declaring it here keeps the parser from refusing it.
 */
export function withPlayOptions(command: Command): Command {
  return command
    .option('-s, --story <file>', 'story file (default: STORYTELLER_STORY)')
    .option('--local', 'play fully in memory: no database, no engine')
    .option('--new', 'start a new game instead of resuming the unfinished one')
    .option('--inspect', 'serve the local Stately inspector (as STORYTELLER_INSPECT=1)')
    .option('--show-frames', "print each character frame (the frame model's decoded prediction and the frame text)")
    .action(async (opts: { story?: string; local?: boolean; new?: boolean; showFrames?: boolean }) => {
      const { playInTerminal } = await import('./play.ts');
      await playInTerminal(loadConfig(), {
        ...(opts.story ? { storyPath: opts.story } : {}),
        ...(opts.local ? { local: true } : {}),
        ...(opts.new ? { fresh: true } : {}),
        ...(opts.showFrames ? { showFrames: true } : {}),
      });
    });
}
