import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmRouter } from '../../../src/inference/llm/router.ts';
import { ScriptedProvider } from '../../../src/inference/llm/scripted.ts';
import { UsageLedger } from '../../../src/inference/llm/usage.ts';
import { LlmUsageStore } from '../../../src/persistence/llm-usage.ts';
import { AnthropicProvider } from '../../../src/inference/llm/anthropic.ts';
import { startLoopbackAnthropic } from '../../support/loopback-anthropic.ts';
import type { LoopbackLlmServer } from '../../support/loopback-llm-server.ts';
import { DRIVERS, createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

const prices = { anthropic: { inputPerMTok: 3, outputPerMTok: 15 } };

// Cost totals persisted per session × role × provider (migration 0003), on both drivers.
describe.each(DRIVERS)('LLM usage totals (%s)', (driver) => {
  let t: TestDatabase;
  let server: LoopbackLlmServer;

  beforeAll(async () => {
    t = await createTestDatabase(driver);
    server = await startLoopbackAnthropic();
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it('upserts: repeated adds accumulate in one row', async () => {
    const store = new LlmUsageStore(t.db);
    await store.add({ sessionId: 'u1', role: 'narrator', provider: 'anthropic', inputTokens: 100, outputTokens: 20, costUsd: 0.0006, calls: 1 });
    await store.add({ sessionId: 'u1', role: 'narrator', provider: 'anthropic', inputTokens: 50, outputTokens: 10, costUsd: 0.0003, calls: 1 });
    await store.add({ sessionId: 'u1', role: 'character', provider: 'scripted', inputTokens: 5, outputTokens: 5, costUsd: 0, calls: 1 });
    const rows = await store.totalsForSession('u1');
    expect(rows).toEqual([
      { sessionId: 'u1', role: 'character', provider: 'scripted', inputTokens: 5, outputTokens: 5, costUsd: 0, calls: 1 },
      { sessionId: 'u1', role: 'narrator', provider: 'anthropic', inputTokens: 150, outputTokens: 30, costUsd: 0.0009, calls: 2 },
    ]);
    expect(await store.sessionTotals('u1', ['anthropic'])).toEqual({ tokens: 180, costUsd: 0.0009 });
  });

  it('the router persists every call through the real SDK path, per session and role', async () => {
    const store = new LlmUsageStore(t.db);
    server.enqueue({ kind: 'text', text: 'a b c', inputTokens: 1000, outputTokens: 3 }, { kind: 'text', text: 'd e', inputTokens: 400, outputTokens: 2 });
    const router = new LlmRouter({
      providers: { anthropic: new AnthropicProvider({ apiKey: 'k', model: 'm', baseURL: server.url }), scripted: new ScriptedProvider({ script: () => 'four words right here' }) },
      roles: { narrator: { chain: ['anthropic', 'scripted'] }, character: { chain: ['anthropic', 'scripted'] }, world: { chain: ['scripted'] } },
      usage: new UsageLedger({ prices }),
      sink: store,
      retry: { maxRetries: 0, baseMs: 0, maxMs: 0 },
    });
    const messages = [{ role: 'user' as const, content: 'hello there' }];
    await router.forRole('narrator').complete({ role: 'narrator', messages, maxTokens: 10, sessionId: 'u2' });
    for await (const _ of router.forRole('character').completeStreaming({ role: 'character', messages, maxTokens: 10, sessionId: 'u2' })) void _;
    await router.forRole('world').complete({ role: 'world', messages, maxTokens: 10, sessionId: 'u2' });
    await router.flush();
    const rows = await store.totalsForSession('u2');
    expect(rows.map((r) => [r.role, r.provider, r.inputTokens, r.outputTokens, r.calls])).toEqual([
      ['character', 'anthropic', 400, 2, 1],
      ['narrator', 'anthropic', 1000, 3, 1],
      ['world', 'scripted', 3, 6, 1], // scripted estimates ~4 characters per token
    ]);
    expect(rows.find((r) => r.role === 'narrator')!.costUsd).toBeCloseTo(0.003045, 6);
  });

  it('a restarted router reads back spent budgets: the session and the global total', async () => {
    const store = new LlmUsageStore(t.db);
    await store.add({ sessionId: 'u3', role: 'narrator', provider: 'anthropic', inputTokens: 900, outputTokens: 100, costUsd: 0.0042, calls: 3 });
    const before = server.requests.length;
    const make = (budgets: ConstructorParameters<typeof UsageLedger>[0]) =>
      new LlmRouter({
        providers: { anthropic: new AnthropicProvider({ apiKey: 'k', model: 'm', baseURL: server.url }), scripted: new ScriptedProvider() },
        roles: { narrator: { chain: ['anthropic', 'scripted'] } },
        usage: new UsageLedger(budgets),
        sink: store,
        retry: { maxRetries: 0, baseMs: 0, maxMs: 0 },
      });
    const messages = [{ role: 'user' as const, content: 'again' }];

    const sessionCapped = make({ prices, budgets: { sessionTokens: 1000 } });
    const r = await sessionCapped.forRole('narrator').complete({ role: 'narrator', messages, maxTokens: 10, sessionId: 'u3' });
    expect(r.provider).toBe('scripted');
    expect(r.fallbacks[0]).toMatchObject({ code: 'LLM_BUDGET_EXCEEDED' });
    const other = await sessionCapped.forRole('narrator').complete({ role: 'narrator', messages, maxTokens: 10, sessionId: 'u4' });
    expect(other.provider).toBe('anthropic');
    await sessionCapped.flush();

    const globalTotal = await store.globalTotals(['anthropic']);
    const globalCapped = make({ prices, budgets: { globalTokens: globalTotal.tokens } });
    const g = await globalCapped.forRole('narrator').complete({ role: 'narrator', messages, maxTokens: 10, sessionId: 'u5' });
    expect(g.provider).toBe('scripted');
    expect(server.requests.length).toBe(before + 1);
  });
});
