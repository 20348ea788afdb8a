import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { isStorytellerError, StorytellerError, type ErrorCode } from '../../src/errors.ts';
import { loadLlmConfig } from '../../src/inference/llm/config.ts';
import { llmError } from '../../src/inference/llm/errors.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, StreamChunk } from '../../src/inference/llm/provider.ts';
import { LlmRouter, type RoutedStreamChunk } from '../../src/inference/llm/router.ts';
import { ScriptedProvider } from '../../src/inference/llm/scripted.ts';
import { UsageLedger } from '../../src/inference/llm/usage.ts';

/** In-memory provider for pure routing tests: replies or fails as told, counts calls. */
class FakeProvider implements LlmProvider {
  calls = 0;
  constructor(
    readonly name: string,
    private readonly behaviour: { text?: string; fail?: ErrorCode; usage?: { inputTokens: number; outputTokens: number }; failAfterChunks?: number },
  ) {}
  async complete(req: CompletionRequest): Promise<CompletionResponse> {
    this.calls += 1;
    if (this.behaviour.fail) throw llmError(this.behaviour.fail as 'LLM_UNAVAILABLE', `${this.name} failed`, { provider: this.name });
    return { text: this.behaviour.text ?? 'ok', usage: this.behaviour.usage ?? { inputTokens: 10, outputTokens: 5 }, provider: this.name, model: 'fake', stopReason: 'end_turn' };
  }
  async *completeStreaming(req: CompletionRequest): AsyncIterable<StreamChunk> {
    this.calls += 1;
    const words = (this.behaviour.text ?? 'ok').split(' ');
    for (let i = 0; i < words.length; i++) {
      if (this.behaviour.fail && i >= (this.behaviour.failAfterChunks ?? 0)) throw llmError(this.behaviour.fail as 'LLM_UNAVAILABLE', `${this.name} failed`, { provider: this.name });
      yield { type: 'text', text: words[i]! };
    }
    if (this.behaviour.fail) throw llmError(this.behaviour.fail as 'LLM_UNAVAILABLE', `${this.name} failed`, { provider: this.name });
    void req;
    yield { type: 'done', usage: this.behaviour.usage ?? { inputTokens: 10, outputTokens: 5 }, stopReason: 'end_turn' };
  }
}

const noRetry = { maxRetries: 0, baseMs: 0, maxMs: 0 };
const req = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({ role: 'narrator', messages: [{ role: 'user', content: 'go' }], maxTokens: 50, sessionId: 's1', ...over });

async function rejection(p: Promise<unknown>): Promise<StorytellerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StorytellerError) return e;
    throw e;
  }
  throw new Error('expected rejection');
}

async function drain(stream: AsyncIterable<RoutedStreamChunk>): Promise<RoutedStreamChunk[]> {
  const out: RoutedStreamChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('LlmRouter: fallback chain', () => {
  it('walks anthropic → local → scripted, recording every step in the response, the log metric and order', async () => {
    const registry = new Registry();
    const anthropic = new FakeProvider('anthropic', { fail: 'LLM_OVERLOADED' });
    const local = new FakeProvider('local', { fail: 'LLM_UNAVAILABLE' });
    const router = new LlmRouter({
      providers: { anthropic, local, scripted: new ScriptedProvider({ script: () => 'scripted line' }) },
      roles: { narrator: { chain: ['anthropic', 'local', 'scripted'] } },
      retry: noRetry,
      registry,
    });
    const r = await router.forRole('narrator').complete(req());
    expect(r.text).toBe('scripted line');
    expect(r.provider).toBe('scripted');
    expect(r.fallbacks.map((f) => [f.from, f.to, f.code])).toEqual([
      ['anthropic', 'local', 'LLM_OVERLOADED'],
      ['local', 'scripted', 'LLM_UNAVAILABLE'],
    ]);
    const metric = await registry.getSingleMetric('storyteller_llm_fallbacks_total')!.get();
    expect(metric.values.map((v) => [v.labels.from, v.labels.to, v.value])).toEqual([
      ['anthropic', 'local', 1],
      ['local', 'scripted', 1],
    ]);
    const requests = await registry.getSingleMetric('storyteller_llm_requests_total')!.get();
    expect(requests.values.find((v) => v.labels.provider === 'scripted')?.labels.outcome).toBe('ok');
  });

  it('logs each fallback as a structured warning', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const router = new LlmRouter({
      providers: { anthropic: new FakeProvider('anthropic', { fail: 'LLM_RATE_LIMITED' }), scripted: new ScriptedProvider() },
      roles: { character: { chain: ['anthropic', 'scripted'] } },
      retry: noRetry,
      logger: pino({ level: 'warn' }, sink),
    });
    await router.forRole('character').complete(req({ role: 'character', sessionId: 'log-1' }));
    expect(lines).toEqual([expect.objectContaining({ level: 40, role: 'character', from: 'anthropic', to: 'scripted', code: 'LLM_RATE_LIMITED', sessionId: 'log-1', msg: 'llm provider failed; falling back' })]);
  });

  it('uses the first provider when it answers (no fallback recorded)', async () => {
    const anthropic = new FakeProvider('anthropic', { text: 'cloud' });
    const router = new LlmRouter({ providers: { anthropic, scripted: new ScriptedProvider() }, roles: { narrator: { chain: ['anthropic', 'scripted'] } }, retry: noRetry });
    const r = await router.forRole('narrator').complete(req());
    expect([r.text, r.provider, r.fallbacks]).toEqual(['cloud', 'anthropic', []]);
  });

  it('every provider failing → LLM_UNAVAILABLE with the attempts', async () => {
    const router = new LlmRouter({
      providers: { a: new FakeProvider('a', { fail: 'LLM_TIMEOUT' }), b: new FakeProvider('b', { fail: 'LLM_INVALID_REQUEST' }) },
      roles: { world: { chain: ['a', 'b'] } },
      retry: noRetry,
    });
    const e = await rejection(router.forRole('world').complete(req({ role: 'world' })));
    expect(e.code).toBe('LLM_UNAVAILABLE');
    expect((e.details?.attempts as Array<{ code: string }>).map((a) => a.code)).toEqual(['LLM_TIMEOUT', 'LLM_INVALID_REQUEST']);
  });

  it('a structured reply that fails its schema falls back (LLM_OUTPUT_INVALID)', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
    const router = new LlmRouter({
      providers: { local: new FakeProvider('local', { text: '{"ok":' }), scripted: new ScriptedProvider() },
      roles: { stage4: { chain: ['local', 'scripted'] } },
      retry: noRetry,
    });
    const r = await router.forRole('stage4').complete(req({ role: 'stage4', jsonSchema: schema }));
    expect(JSON.parse(r.text)).toEqual({ ok: false });
    expect(r.fallbacks[0]?.code).toBe('LLM_OUTPUT_INVALID');
  });

  it("the caller's abort never falls back", async () => {
    const controller = new AbortController();
    controller.abort();
    const scripted = new FakeProvider('scripted', { text: 'should not run' });
    const router = new LlmRouter({ providers: { a: new FakeProvider('a', { text: 'x' }), scripted }, roles: { narrator: { chain: ['a', 'scripted'] } }, retry: noRetry });
    const e = await rejection(router.forRole('narrator').complete(req({ signal: controller.signal })));
    expect(e.code).toBe('LLM_ABORTED');
    expect(scripted.calls).toBe(0);
  });

  it('a stream falls back before its first chunk, and reports provider + fallbacks in done', async () => {
    const router = new LlmRouter({
      providers: { a: new FakeProvider('a', { text: 'never', fail: 'LLM_OVERLOADED', failAfterChunks: 0 }), scripted: new ScriptedProvider({ script: () => 'plan b' }) },
      roles: { narrator: { chain: ['a', 'scripted'] } },
      retry: noRetry,
    });
    const chunks = await drain(router.forRole('narrator').completeStreaming(req()));
    expect(chunks.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text).join('')).toBe('plan b');
    expect(chunks.at(-1)).toMatchObject({ type: 'done', provider: 'scripted', fallbacks: [{ from: 'a', to: 'scripted', code: 'LLM_OVERLOADED' }] });
  });

  it('a stream that fails after text reached the caller is not taken over', async () => {
    const scripted = new FakeProvider('scripted', { text: 'other' });
    const router = new LlmRouter({
      providers: { a: new FakeProvider('a', { text: 'half a sentence', fail: 'LLM_UNAVAILABLE', failAfterChunks: 2 }), scripted },
      roles: { narrator: { chain: ['a', 'scripted'] } },
      retry: noRetry,
    });
    const seen: string[] = [];
    const e = await rejection(
      (async () => {
        for await (const c of router.forRole('narrator').completeStreaming(req())) if (c.type === 'text') seen.push(c.text);
      })(),
    );
    expect(e.code).toBe('LLM_UNAVAILABLE');
    expect(seen).toEqual(['half', 'a']);
    expect(scripted.calls).toBe(0);
  });

  it('a chain naming an unknown provider is CONFIG_INVALID', () => {
    expect(() => new LlmRouter({ providers: { scripted: new ScriptedProvider() }, roles: { narrator: { chain: ['anthropic'] } } })).toThrow(/not configured/);
  });

  it('fromConfig with no configuration routes every role to scripted', async () => {
    const router = LlmRouter.fromConfig(loadLlmConfig({}), { script: (r) => `scripted ${r.role}` });
    for (const role of ['narrator', 'character', 'storykeeper', 'world', 'reconciler', 'stage4'] as const) {
      const r = await router.forRole(role).complete(req({ role }));
      expect([r.text, r.provider]).toEqual([`scripted ${role}`, 'scripted']);
    }
    await router.close();
  });
});

describe('LlmRouter: cost and budgets', () => {
  const prices = { anthropic: { inputPerMTok: 3, outputPerMTok: 15 } };

  it('prices each call, per session and role, and exports tokens and cost', async () => {
    const registry = new Registry();
    const router = new LlmRouter({
      providers: { anthropic: new FakeProvider('anthropic', { usage: { inputTokens: 1000, outputTokens: 200 } }) },
      roles: { narrator: { chain: ['anthropic'] }, character: { chain: ['anthropic'] } },
      usage: new UsageLedger({ prices }),
      retry: noRetry,
      registry,
    });
    const r = await router.forRole('narrator').complete(req());
    await router.forRole('character').complete(req({ role: 'character' }));
    await router.forRole('character').complete(req({ role: 'character', sessionId: 's2' }));
    expect(r.costUsd).toBeCloseTo(0.006, 10); // 1000 × 3/1M + 200 × 15/1M
    expect(router.usage.totals('s1').map((t) => [t.role, t.inputTokens, t.outputTokens, t.calls])).toEqual([
      ['narrator', 1000, 200, 1],
      ['character', 1000, 200, 1],
    ]);
    expect(router.usage.spent('s1').session.tokens).toBe(2400);
    expect(router.usage.spent('s1').global.tokens).toBe(3600);
    const tokens = await registry.getSingleMetric('storyteller_llm_tokens_total')!.get();
    expect(tokens.values.find((v) => v.labels.role === 'character' && v.labels.kind === 'input')?.value).toBe(2000);
    const cost = await registry.getSingleMetric('storyteller_llm_cost_usd_total')!.get();
    expect(cost.values.find((v) => v.labels.role === 'narrator')?.value).toBeCloseTo(0.006, 10);
    const latency = await registry.getSingleMetric('storyteller_llm_latency_seconds')!.get();
    expect(latency.values.find((v) => (v as { metricName?: string }).metricName === 'storyteller_llm_latency_seconds_count' && v.labels.role === 'narrator')?.value).toBe(1);
  });

  it('a spent session budget sends the session to the free providers, other sessions keep the cloud', async () => {
    const anthropic = new FakeProvider('anthropic', { text: 'cloud', usage: { inputTokens: 60, outputTokens: 40 } });
    const router = new LlmRouter({
      providers: { anthropic, scripted: new ScriptedProvider({ script: () => 'local fallback' }) },
      roles: { narrator: { chain: ['anthropic', 'scripted'] } },
      usage: new UsageLedger({ prices, budgets: { sessionTokens: 150 } }),
      retry: noRetry,
    });
    const narrator = router.forRole('narrator');
    expect((await narrator.complete(req())).text).toBe('cloud'); // 100 tokens
    expect((await narrator.complete(req())).text).toBe('cloud'); // 200 ≥ 150 now
    const third = await narrator.complete(req());
    expect(third.text).toBe('local fallback');
    expect(third.fallbacks).toEqual([expect.objectContaining({ from: 'anthropic', to: 'scripted', code: 'LLM_BUDGET_EXCEEDED' })]);
    expect(anthropic.calls).toBe(2);
    expect((await narrator.complete(req({ sessionId: 's2' }))).text).toBe('cloud');
    router.releaseSession('s1');
    expect(router.usage.totals('s1')).toEqual([]);
    expect(router.usage.spent('s1').global.tokens).toBe(300);
  });

  it('a spent global budget stops every session; a chain with nothing else left → LLM_BUDGET_EXCEEDED', async () => {
    const anthropic = new FakeProvider('anthropic', { usage: { inputTokens: 500, outputTokens: 500 } });
    const router = new LlmRouter({
      providers: { anthropic, scripted: new ScriptedProvider() },
      roles: { narrator: { chain: ['anthropic'] }, world: { chain: ['anthropic', 'scripted'] } },
      usage: new UsageLedger({ prices, budgets: { globalUsd: 0.009 } }),
      retry: noRetry,
    });
    await router.forRole('narrator').complete(req({ sessionId: 'a' })); // $0.009
    const e = await rejection(router.forRole('narrator').complete(req({ sessionId: 'b' })));
    expect(e.code).toBe('LLM_BUDGET_EXCEEDED');
    expect(isStorytellerError(e.cause, 'LLM_BUDGET_EXCEEDED')).toBe(true);
    const world = await router.forRole('world').complete(req({ role: 'world', sessionId: 'c' }));
    expect(world.provider).toBe('scripted');
    expect(world.fallbacks[0]).toMatchObject({ code: 'LLM_BUDGET_EXCEEDED' });
    expect(anthropic.calls).toBe(1);
  });

  it('free providers never count against budgets', async () => {
    const router = new LlmRouter({
      providers: { scripted: new ScriptedProvider() },
      roles: { narrator: { chain: ['scripted'] } },
      usage: new UsageLedger({ prices, budgets: { sessionTokens: 1, globalTokens: 1 } }),
      retry: noRetry,
    });
    for (let i = 0; i < 3; i++) expect((await router.forRole('narrator').complete(req())).provider).toBe('scripted');
    expect(router.usage.spent('s1').session.tokens).toBe(0);
  });
});
