import { pino, type Logger } from 'pino';

export type { Logger };

/** One structured logger for the process; children carry the session id. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'storyteller' } });
}

/** A logger that writes nothing, for tests and benchmarks. */
export const silentLogger: Logger = pino({ level: 'silent' });
