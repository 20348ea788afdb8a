import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isStorytellerError, type StorytellerError } from '../../src/errors.ts';
import { loadLlmConfig, parsePrices, parseRateLimits, parseRoles } from '../../src/inference/llm/config.ts';
import { LLM_ROLES } from '../../src/inference/llm/provider.ts';

function configError(fn: () => unknown): StorytellerError {
  try {
    fn();
  } catch (error) {
    if (isStorytellerError(error, 'CONFIG_INVALID')) return error;
    throw error;
  }
  throw new Error('expected CONFIG_INVALID');
}

const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-5-5';

// The SDK's own list of deprecated models (not an exported path, so read by file).
const sdkDir = dirname(createRequire(import.meta.url).resolve('@anthropic-ai/sdk'));
const { DEPRECATED_MODELS } = createRequire(import.meta.url)(join(sdkDir, 'internal/data/deprecated-models.js')) as { DEPRECATED_MODELS: Record<string, string> };

describe('LLM configuration', () => {
  // Regression: the default was claude-sonnet-4-5, which reached end-of-life on 2026-11-30.
  it('defaults the Anthropic model to one the installed SDK does not list as deprecated', () => {
    const model = loadLlmConfig({ ANTHROPIC_API_KEY: 'sk-test' }).anthropic?.model;
    expect(model).toBe(DEFAULT_ANTHROPIC_MODEL);
    expect(Object.keys(DEPRECATED_MODELS)).not.toContain(model);
    expect(Object.keys(DEPRECATED_MODELS)).toContain('claude-sonnet-4-5'); // the list is the one we think it is
  });

  it('with nothing set, every role is on scripted with sane defaults', () => {
    const c = loadLlmConfig({});
    for (const role of LLM_ROLES) expect(c.roles[role]).toEqual({ chain: ['scripted'] });
    expect(c.anthropic).toBeUndefined();
    expect(c.local).toBeUndefined();
    expect(c.openai).toBeUndefined();
    expect(c.budgets).toEqual({});
    expect(c.timeoutMs).toBe(60_000);
    expect(c.retry).toEqual({ maxRetries: 2, baseMs: 500, maxMs: 8_000 });
    expect(c.prices.anthropic).toEqual({ inputPerMTok: 3, outputPerMTok: 15 });
  });

  it('reads the compact role syntax with a default for the rest', () => {
    const roles = parseRoles('narrator=anthropic>local>scripted, character=openai>scripted, *=local>scripted');
    expect(roles.narrator.chain).toEqual(['anthropic', 'local', 'scripted']);
    expect(roles.character.chain).toEqual(['openai', 'scripted']);
    expect(roles.stage4.chain).toEqual(['local', 'scripted']);
  });

  it('reads the JSON role syntax with per-role timeout and retries', () => {
    const roles = parseRoles('{"narrator":{"chain":["anthropic","scripted"],"timeoutMs":20000,"maxRetries":1},"world":["local"]}');
    expect(roles.narrator).toEqual({ chain: ['anthropic', 'scripted'], timeoutMs: 20000, maxRetries: 1 });
    expect(roles.world.chain).toEqual(['local']);
    expect(roles.character.chain).toEqual(['scripted']);
  });

  it('a full configuration wires every provider', () => {
    const c = loadLlmConfig({
      ANTHROPIC_API_KEY: 'sk-test',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999',
      STORYTELLER_LLM_MODEL: 'models/llm/tiny.gguf',
      STORYTELLER_LLM_THREADS: '2',
      STORYTELLER_OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      STORYTELLER_OPENAI_MODEL: 'llama3.2',
      STORYTELLER_LLM_ROLES: 'narrator=anthropic>local>scripted,stage4=openai>scripted',
      STORYTELLER_LLM_PRICES: 'anthropic=3/15,openai=0.1/0.2',
      STORYTELLER_LLM_BUDGET_SESSION_TOKENS: '50000',
      STORYTELLER_LLM_BUDGET_GLOBAL_USD: '25',
      STORYTELLER_LLM_RATE_LIMITS: 'anthropic=50/min,openai=5/s',
    });
    expect(c.anthropic).toEqual({ apiKey: 'sk-test', baseUrl: 'http://127.0.0.1:9999', model: DEFAULT_ANTHROPIC_MODEL });
    expect(c.local).toEqual({ modelPath: 'models/llm/tiny.gguf', threads: 2, contextSize: 4096 });
    expect(c.openai).toEqual({ baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2', apiKey: undefined });
    expect(c.prices.openai).toEqual({ inputPerMTok: 0.1, outputPerMTok: 0.2 });
    expect(c.budgets).toEqual({ sessionTokens: 50000, globalUsd: 25 });
    expect(c.rateLimits.anthropic).toEqual({ capacity: 50, refillPerSecond: 50 / 60 });
    expect(c.rateLimits.openai).toEqual({ capacity: 5, refillPerSecond: 5 });
  });

  it.each([
    [{ STORYTELLER_LLM_ROLES: 'narrator=anthropic' }, 'ANTHROPIC_API_KEY'],
    [{ STORYTELLER_LLM_ROLES: 'character=local>scripted' }, 'STORYTELLER_LLM_MODEL'],
    [{ STORYTELLER_LLM_ROLES: 'stage4=openai', STORYTELLER_OPENAI_MODEL: 'm' }, 'STORYTELLER_OPENAI_BASE_URL'],
    [{ STORYTELLER_LLM_ROLES: 'stage4=openai', STORYTELLER_OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' }, 'STORYTELLER_OPENAI_MODEL'],
    [{ STORYTELLER_LLM_ROLES: 'narrator=gpt9' }, 'STORYTELLER_LLM_ROLES'],
    [{ STORYTELLER_LLM_ROLES: 'bard=scripted' }, 'STORYTELLER_LLM_ROLES'],
    [{ STORYTELLER_LLM_ROLES: '{"narrator":[]}' }, 'STORYTELLER_LLM_ROLES'],
    [{ STORYTELLER_LLM_ROLES: '{not json' }, 'STORYTELLER_LLM_ROLES'],
    [{ STORYTELLER_LLM_THREADS: 'many' }, 'STORYTELLER_LLM_THREADS'],
    [{ STORYTELLER_LLM_BUDGET_SESSION_TOKENS: '-5' }, 'STORYTELLER_LLM_BUDGET_SESSION_TOKENS'],
    [{ STORYTELLER_LLM_PRICES: 'anthropic=three/15' }, 'STORYTELLER_LLM_PRICES'],
    [{ STORYTELLER_LLM_PRICES: '{"anthropic":{"input":-1,"output":2}}' }, 'STORYTELLER_LLM_PRICES'],
    [{ STORYTELLER_LLM_RATE_LIMITS: 'anthropic=fast' }, 'STORYTELLER_LLM_RATE_LIMITS'],
    [{ ANTHROPIC_BASE_URL: 'not a url' }, 'ANTHROPIC_BASE_URL'],
    [{ STORYTELLER_LLM_RETRY_BASE_MS: '1000', STORYTELLER_LLM_RETRY_MAX_MS: '10' }, 'STORYTELLER_LLM_RETRY_MAX_MS'],
  ])('invalid %j → CONFIG_INVALID naming %s', (env, variable) => {
    const e = configError(() => loadLlmConfig(env));
    expect(e.message).toContain(variable);
    expect(e.details?.variables).toEqual([variable]);
  });

  it('prices accept JSON and keep the defaults for unnamed providers', () => {
    expect(parsePrices('{"openai":{"input":1,"output":2}}')).toEqual({
      anthropic: { inputPerMTok: 3, outputPerMTok: 15 },
      openai: { inputPerMTok: 1, outputPerMTok: 2 },
    });
  });

  it('rate limits name known providers only', () => {
    expect(parseRateLimits('local=2/s')).toEqual({ local: { capacity: 2, refillPerSecond: 2 } });
    expect(() => parseRateLimits('mystery=2/s')).toThrow(/STORYTELLER_LLM_RATE_LIMITS/);
  });
});
