import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { isStorytellerError } from '../../src/errors.ts';

describe('configuration', () => {
  it('has working defaults with no environment', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.gracePeriodMs).toBe(300_000);
    expect(config.dataDir).toBe('./data');
  });

  it('names the variable of an invalid value', () => {
    const error = (() => {
      try {
        loadConfig({ STORYTELLER_GRACE_PERIOD_MS: 'soon' });
      } catch (e) {
        return e;
      }
    })();
    expect(isStorytellerError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toContain('STORYTELLER_GRACE_PERIOD_MS');
  });

  it('rejects a DATABASE_URL that is not postgres', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
  });
});
