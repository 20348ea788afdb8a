import type { Config } from '../config.ts';
import { loggerFromConfig } from '../logger.ts';
import { openGraphStore } from '../persistence/graph/open-graph-store.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';
import { AmqpBus } from '../workflows/bus.ts';
import { LocalRunner } from '../workflows/local-runner.ts';
import { serveRunner } from '../workflows/runner-http.ts';
import { SCENE_BOUNDARY_HANDLERS } from '../workflows/steps/index.ts';
import { BETWEEN_SESSIONS_HANDLERS } from '../workflows/steps/between-sessions.ts';
import { BETWEEN_SESSIONS_TEMPLATE_PATH, loadTemplate } from '../workflows/template.ts';

/**
 * `storyteller tasker-local`: the local stand-in for Tasker Core as its own process — the
 * REST endpoint on STORYTELLER_TASKER_LOCAL_PORT, task requests from and domain events to
 * RabbitMQ (AMQP_URL), task state in DATABASE_URL. Runs until SIGINT/SIGTERM.
 */
export async function runTaskerLocal(config: Config): Promise<void> {
  const logger = loggerFromConfig(config);
  const db = await openDatabase(config);
  await migrate(db);
  const graph = await openGraphStore(db, config);
  const bus = config.amqpUrl ? new AmqpBus({ url: config.amqpUrl, logger }) : null;
  const runner = new LocalRunner({ db, template: loadTemplate(), more: [loadTemplate(BETWEEN_SESSIONS_TEMPLATE_PATH)], handlers: [...SCENE_BOUNDARY_HANDLERS, ...BETWEEN_SESSIONS_HANDLERS], deps: { db, graph }, bus, logger,
    staleAfterMs: config.workflows.localStaleAfterMs ?? 60_000,
    hold: config.workflows.localHold ? { ...config.workflows.localHold, onHold: (step, phase) => process.stdout.write(`tasker-local: holding ${step} (${phase} its handler)\n`) } : null,
  });
  await runner.start();
  const http = await serveRunner(runner, { host: config.host, port: config.workflows.localPort, token: config.workflows.taskerToken });
  logger.info({ url: http.url, amqp: Boolean(bus), workerId: runner.workerId }, 'tasker-local listening');
  // A plain line for supervisors and tests, whatever the log level.
  process.stdout.write(`tasker-local: listening on ${http.url}\n`);
  if (config.workflows.taskerToken) logger.info('tasker-local requires Authorization: Bearer (STORYTELLER_TASKER_TOKEN)');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await http.close();
  await runner.stop();
  await bus?.close();
  await graph.close();
  await db.close();
}
