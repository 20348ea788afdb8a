import { pino, type DestinationStream, type Logger, type LoggerOptions as PinoOptions } from 'pino';
import { z } from 'zod';
import type { Config } from './config.ts';
import { ERROR_CODES, type ErrorCode } from './errors.ts';

export type { Logger };

/**
 * One structured logger per process (pino, JSON lines). Three things ride on it
 * (docs/operations.md, "Logs"):
 *
 * - **Modules**: each layer logs through `moduleLogger(logger, 'persistence')`, a child
 *   bound to `{ module }` whose level STORYTELLER_LOG_LEVELS may set apart from LOG_LEVEL
 *   (`persistence=debug,gateway=warn`).
 * - **The turn in flight**: the engine binds `turn`, `inputId` (the client's input id) and
 *   `ledgerId` (the PlayerInput's ledger row) per session while a turn runs
 *   (`turnTrace(logger)`); any line that names a `sessionId` in its fields — the LLM
 *   router's, the frame observer's, the storage port's — gets them added, so every line of
 *   a turn can be joined to its ledger row without threading a logger through the
 *   statechart's plain-JSON context.
 * - **Error codes**: every line at `error` or above, and every line carrying an `err`, has
 *   a `code` from src/errors.ts (the error's own code when it is a StorytellerError).
 */
export const LOG_MODULES = ['engine', 'session', 'persistence', 'gateway', 'lease', 'workflows', 'inference', 'cli'] as const;
export type LogModule = (typeof LOG_MODULES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** STORYTELLER_LOG_LEVELS: `module=level` pairs separated by commas (empty: none). */
export const moduleLevelsSchema = z
  .string()
  .transform((text, ctx) => {
    const levels: Partial<Record<LogModule, LogLevel>> = {};
    for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
      const [name, level, ...rest] = pair.split('=').map((s) => s.trim());
      const m = z.enum(LOG_MODULES).safeParse(name);
      const l = z.enum(LOG_LEVELS).safeParse(level);
      if (rest.length > 0 || !m.success || !l.success) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not module=level (modules: ${LOG_MODULES.join(', ')}; levels: ${LOG_LEVELS.join(', ')})` });
        return z.NEVER;
      }
      levels[m.data] = l.data;
    }
    return levels;
  });

/** What the engine binds for a session while one of its turns runs. */
export interface TurnFields {
  turn: number;
  inputId: string;
  ledgerId: number;
}

/** Per-session turn fields, shared by a root logger and all its children. */
export interface TurnTrace {
  bind(sessionId: string, fields: TurnFields): void;
  /** Clears the session's fields (only if they still belong to `ledgerId`, when given). */
  release(sessionId: string, ledgerId?: number): void;
  get(sessionId: string): TurnFields | undefined;
}

const ROOT = Symbol.for('storyteller.logger.root');
const MODULE_LEVELS = Symbol.for('storyteller.logger.moduleLevels');
const TRACE = Symbol.for('storyteller.logger.turnTrace');

interface Marked {
  [ROOT]?: Logger;
  [MODULE_LEVELS]?: Partial<Record<LogModule, LogLevel>>;
  [TRACE]?: TurnTrace;
}

function createTurnTrace(): TurnTrace {
  const turns = new Map<string, TurnFields>();
  return {
    bind: (sessionId, fields) => void turns.set(sessionId, fields),
    release: (sessionId, ledgerId) => {
      if (ledgerId === undefined || turns.get(sessionId)?.ledgerId === ledgerId) turns.delete(sessionId);
    },
    get: (sessionId) => turns.get(sessionId),
  };
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The stable code a log line reports for an error value. */
export function errorCodeOf(error: unknown): ErrorCode {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string' && code in ERROR_CODES) return code as ErrorCode;
  // A SQL error passed through untouched (pg-database.ts maps connection failures itself).
  if (typeof code === 'string' && SQLSTATE.test(code)) return 'STORAGE_QUERY_FAILED';
  const cause = (error as { cause?: unknown } | null | undefined)?.cause;
  if (cause !== undefined && cause !== error) {
    const inner = errorCodeOf(cause);
    if (inner !== 'INTERNAL_ERROR') return inner;
  }
  return 'INTERNAL_ERROR';
}

export interface LoggerOptions {
  level?: LogLevel | string;
  /** Per-module levels (config.logLevels, from STORYTELLER_LOG_LEVELS). */
  modules?: Partial<Record<LogModule, LogLevel>>;
  /** Extra fields on every line (e.g. the instance id). */
  base?: Record<string, unknown>;
  /** Where lines go (default stdout); tests pass a collecting stream. */
  destination?: DestinationStream;
}

/** The process's root logger. */
export function createLogger(options: LoggerOptions | string = {}): Logger {
  const o: LoggerOptions = typeof options === 'string' ? { level: options } : options;
  const trace = createTurnTrace();
  const modules = o.modules ?? {};
  // A child's level is its own (pino): a module may be more verbose than LOG_LEVEL.
  const level = o.level ?? process.env.LOG_LEVEL ?? 'info';
  const pinoOptions: PinoOptions = {
      level,
      base: { service: 'storyteller', ...o.base },
      mixin(fields: object, levelValue: number) {
        const f = fields as { sessionId?: unknown; err?: unknown; error?: unknown; code?: unknown };
        const extra: Record<string, unknown> = {};
        if (typeof f.sessionId === 'string') Object.assign(extra, trace.get(f.sessionId));
        if (f.code === undefined && (levelValue >= 50 || f.err !== undefined)) extra.code = errorCodeOf(f.err ?? f.error);
        return extra;
      },
  };
  const logger = o.destination ? pino(pinoOptions, o.destination) : pino(pinoOptions);
  const marked = logger as Logger & Marked;
  marked[ROOT] = logger;
  marked[MODULE_LEVELS] = modules;
  marked[TRACE] = trace;
  return logger;
}

/**
 * A module's logger: a child of the root bound to `{ module }`, at the module's level
 * when STORYTELLER_LOG_LEVELS names it. Built from the root (not from `logger` itself), so
 * a layer handed another layer's child does not carry two `module` fields.
 */
export function moduleLogger(logger: Logger, module: LogModule): Logger {
  const m = logger as Logger & Marked;
  const root = m[ROOT];
  if (!root) return logger.child({ module });
  const level = m[MODULE_LEVELS]?.[module];
  return root.child({ module }, level ? { level } : undefined);
}

/** The turn fields the logger adds to session lines (a no-op trace for loggers not made here). */
export function turnTrace(logger: Logger): TurnTrace {
  return (logger as Logger & Marked)[TRACE] ?? NO_TRACE;
}

const NO_TRACE: TurnTrace = { bind: () => undefined, release: () => undefined, get: () => undefined };

/** A logger that writes nothing, for tests and benchmarks. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The root logger from the validated configuration (LOG_LEVEL, STORYTELLER_LOG_LEVELS, the instance id). */
export function loggerFromConfig(config: Pick<Config, 'logLevel' | 'logLevels' | 'instanceId'>, level: string = config.logLevel): Logger {
  return createLogger({ level, modules: config.logLevels, ...(config.instanceId ? { base: { instance: config.instanceId } } : {}) });
}
