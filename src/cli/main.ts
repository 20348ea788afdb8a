import { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { isStorytellerError } from '../errors.ts';
import { loggerFromConfig } from '../logger.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { migrate } from '../persistence/migrations.ts';
import { registerServeCommands } from './serve-command.ts';
import { registerModelCommands } from './model-commands.ts';
import { registerLedgerCommands } from './ledger-commands.ts';
import { registerStoryCommands, withPlayOptions } from './story-commands.ts';

const program = new Command()
  .name('storyteller')
  .description('Session runtime for storyteller interactive fiction')
  .showHelpAfterError();

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const config = loadConfig();
    const logger = loggerFromConfig(config);
    const db = await openDatabase(config);
    try {
      const report = await migrate(db);
      logger.info({ applied: report.applied, alreadyApplied: report.alreadyApplied, driver: db.driver }, 'migrations done');
    } finally {
      await db.close();
    }
  });

// `npm start`: migrate (embedded PGlite by default), load the story and play it in the terminal.
withPlayOptions(program.command('start', { isDefault: true }).description('migrate the database, load the story and play it with the engine in-process'));

registerStoryCommands(program);
registerServeCommands(program);

program
  .command('engine-stdio')
  .description('run the engine as a child process driven by JSON lines on stdin/stdout (crash trials, supervisors)')
  .action(async () => {
    const { runEngineStdio } = await import('./engine-stdio.ts');
    await runEngineStdio(loadConfig());
  });
registerModelCommands(program);
registerLedgerCommands(program);

program
  .command('tasker-local')
  .description('run the local Tasker-compatible workflow runner: POST/GET /v1/tasks, orchestration_task_requests and storyteller_domain_events on AMQP_URL')
  .action(async () => {
    const { runTaskerLocal } = await import('./tasker-local.ts');
    await runTaskerLocal(loadConfig());
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (isStorytellerError(error)) {
    process.stderr.write(`storyteller: ${error.code}: ${error.message}\n`);
  } else {
    process.stderr.write(`storyteller: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exitCode = 1;
}
