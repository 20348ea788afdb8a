import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config.ts';
import { loadStoryFile } from '../domain/story/loader.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { storeStory } from '../persistence/story-store.ts';

/**
 * `storyteller story load <file>`, `storyteller story check <file>`, `storyteller playtest <file>` and `storyteller play`.
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
    .description('validate a story file (schema, cross-references) and prove it finishable (no soft-locks) without storing it')
    .option('--max-states <n>', 'bound of the soft-lock exploration', (v) => Number.parseInt(v, 10), 50_000)
    .action(async (file: string, opts: { maxStates: number }) => {
      const s = await loadStoryFile(file);
      const { findSoftLocks, softLockProblems } = await import('../checking/soft-locks.ts');
      const { affordanceAmbiguities } = await import('../checking/affordance-ambiguity.ts');
      const report = findSoftLocks(s, { maxStates: opts.maxStates });
      const { errors, warnings } = softLockProblems(report);
      warnings.unshift(...affordanceAmbiguities(s));
      for (const w of warnings) process.stdout.write(`${file}: warning: ${w}\n`);
      if (errors.length > 0) {
        for (const e of errors) process.stdout.write(`${file}: error: ${e}\n`);
        process.stdout.write(`${file}: ${errors.length} error(s) — the story can be left unfinishable\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `${file}: ok — "${s.title}" v${s.version}: ${s.scenes.length} scenes, ${s.characters.length} characters, ${s.settings.length} settings, ${s.entities.length} entities; ` +
          `finishable from every one of ${report.statesExplored} reachable states (shortest playthrough: ${report.solution?.length ?? '?'} inputs)\n`,
      );
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

  program
    .command('playtest [file]')
    .description('seeded random and adversarial walks through the real engine on an in-memory database: crashes, refusals, dead ends, coverage (exit 1 on a crash or a dead end)')
    .option('-n, --walks <n>', 'number of walks (sessions)', positiveInt, 8)
    .option('-t, --turns <n>', 'most inputs per walk', positiveInt, 40)
    .option('--seed <n>', 'seed (the same seed replays the same walks)', positiveInt, 1)
    .option('--max-states <n>', 'bound of each dead-end search', positiveInt, 5_000)
    .option('--json <file>', 'also write the full report as JSON')
    .action(async (given: string | undefined, opts: { walks: number; turns: number; seed: number; maxStates: number; json?: string }) => {
      // Without a file: the story `npm start` plays (STORYTELLER_STORY).
      const file = given ?? loadConfig().storyPath;
      const s = await loadStoryFile(file);
      const { playtest } = await import('../playtest/playtest.ts');
      const { formatPlaytestReport } = await import('../playtest/format-report.ts');
      const report = await playtest(s, {
        walks: opts.walks,
        turns: opts.turns,
        seed: opts.seed,
        maxStates: opts.maxStates,
        onWalk: (w) => process.stderr.write(`  walk ${w.walk}: ${w.turns} inputs, ${w.ended ? 'reached the end' : `stopped in ${w.scenes.at(-1) ?? '?'} (finishable: ${w.finishable})`}\n`),
      });
      process.stdout.write(formatPlaytestReport(report, file));
      if (opts.json) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
      }
      if (!report.ok) process.exitCode = 1;
    });

  withPlayOptions(program.command('play').description('play a story in the terminal (embedded database and engine in-process)'));
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive whole number');
  return n;
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
    .option('--url <ws-url>', 'play on a running gateway (`storyteller serve`) over the player protocol, e.g. ws://127.0.0.1:8080/ws')
    .option('--show-frames', "print each character frame (the frame model's decoded prediction and the frame text)")
    .action(async (opts: { story?: string; local?: boolean; new?: boolean; url?: string; showFrames?: boolean }) => {
      if (opts.url) {
        const { playRemote } = await import('./remote-play.ts');
        const { join } = await import('node:path');
        const config = loadConfig();
        // One store per gateway address: token, session and the lines not yet answered.
        const storePath = join(config.dataDir, 'remote', `${encodeURIComponent(opts.url)}.json`);
        await playRemote({ url: opts.url, storePath, ...(opts.new ? { fresh: true } : {}) });
        return;
      }
      const { playInTerminal } = await import('./play.ts');
      await playInTerminal(loadConfig(), {
        ...(opts.story ? { storyPath: opts.story } : {}),
        ...(opts.local ? { local: true } : {}),
        ...(opts.new ? { fresh: true } : {}),
        ...(opts.showFrames ? { showFrames: true } : {}),
      });
    });
}
