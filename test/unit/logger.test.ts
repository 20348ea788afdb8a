import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { StorytellerError } from '../../src/errors.ts';
import { createLogger, errorCodeOf, moduleLogger, turnTrace } from '../../src/logger.ts';

/** The logger's own rules: per-module levels, one `module` field, turn fields by session, codes on error lines. */
function capture(options: Parameters<typeof createLogger>[0] & object) {
  const raw: string[] = [];
  const logger = createLogger({ ...options, destination: { write: (s: string) => void raw.push(s) } });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('STORYTELLER_LOG_LEVELS sets single modules above and below LOG_LEVEL', () => {
    const config = loadConfig({ LOG_LEVEL: 'info', STORYTELLER_LOG_LEVELS: 'persistence=debug, gateway=warn' });
    expect(config.logLevels).toEqual({ persistence: 'debug', gateway: 'warn' });
    const { logger, lines } = capture({ level: config.logLevel, modules: config.logLevels });
    moduleLogger(logger, 'persistence').debug('p');
    moduleLogger(logger, 'gateway').info('g-info');
    moduleLogger(logger, 'gateway').warn('g-warn');
    moduleLogger(logger, 'engine').debug('e-debug');
    moduleLogger(logger, 'engine').info('e-info');
    expect(lines().map((l) => `${String(l.module)}:${String(l.msg)}`)).toEqual(['persistence:p', 'gateway:g-warn', 'engine:e-info']);
  });

  it('refuses a malformed STORYTELLER_LOG_LEVELS with the variable named', () => {
    for (const bad of ['persistence', 'nosuch=debug', 'gateway=loud', 'a=b=c']) {
      expect(() => loadConfig({ STORYTELLER_LOG_LEVELS: bad }), bad).toThrow(/STORYTELLER_LOG_LEVELS/);
    }
    expect(loadConfig({}).logLevels).toEqual({});
  });

  it('a module logger made from another module\'s logger carries one module field', () => {
    const { logger, lines } = capture({ level: 'info' });
    moduleLogger(moduleLogger(logger, 'engine'), 'persistence').info('x');
    const raw = lines()[0]!;
    expect(raw.module).toBe('persistence');
  });

  it('adds the turn fields to lines naming a session with a turn in flight, and only until released', () => {
    const { logger, lines } = capture({ level: 'info' });
    const trace = turnTrace(logger);
    const log = moduleLogger(logger, 'inference');
    trace.bind('s-1', { turn: 4, inputId: 'c-4', ledgerId: 17 });
    log.info({ sessionId: 's-1' }, 'during');
    log.info({ sessionId: 's-2' }, 'other session');
    trace.release('s-1', 99); // another turn's release does not clear this one
    log.info({ sessionId: 's-1' }, 'still during');
    trace.release('s-1', 17);
    log.info({ sessionId: 's-1' }, 'after');
    const got = lines().map((l) => [l.msg, l.turn, l.inputId, l.ledgerId]);
    expect(got).toEqual([
      ['during', 4, 'c-4', 17],
      ['other session', undefined, undefined, undefined],
      ['still during', 4, 'c-4', 17],
      ['after', undefined, undefined, undefined],
    ]);
  });

  it('error lines carry a stable code: the error\'s own, a SQL error\'s, or INTERNAL_ERROR', () => {
    const { logger, lines } = capture({ level: 'info' });
    logger.error({ err: new StorytellerError('LEDGER_FENCED') }, 'a');
    logger.error({ err: Object.assign(new Error('duplicate key'), { code: '23505' }) }, 'b');
    logger.error({ err: new Error('wrapped', { cause: new StorytellerError('STORAGE_UNAVAILABLE') }) }, 'c');
    logger.error('d');
    logger.warn({ err: new Error('plain') }, 'e');
    logger.error({ code: 'WORKFLOW_FAILED' }, 'f');
    logger.info('g');
    expect(lines().map((l) => [l.msg, l.code])).toEqual([
      ['a', 'LEDGER_FENCED'],
      ['b', 'STORAGE_QUERY_FAILED'],
      ['c', 'STORAGE_UNAVAILABLE'],
      ['d', 'INTERNAL_ERROR'],
      ['e', 'INTERNAL_ERROR'],
      ['f', 'WORKFLOW_FAILED'],
      ['g', undefined],
    ]);
    expect(errorCodeOf(undefined)).toBe('INTERNAL_ERROR');
  });
});
