import type { Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { migrate } from '../persistence/migrations.ts';
import { openDatabase } from '../persistence/open-database.ts';

/** `npm start`: migrate the database (embedded PGlite by default) and serve. */
export async function startEngineProcess(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const db = await openDatabase(config);
  const report = await migrate(db);
  logger.info({ driver: db.driver, applied: report.applied }, 'database ready');
  logger.info('storyteller engine ready');
  await db.close();
}
