import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorytellerError, type StorytellerError } from '../../../src/errors.ts';
import { ManualClock } from '../../../src/inference/llm/clock.ts';
import { GovernedProvider } from '../../../src/inference/llm/governed.ts';
import type { CompletionRequest, LlmProvider, StreamChunk } from '../../../src/inference/llm/provider.ts';
import { LlmRouter } from '../../../src/inference/llm/router.ts';
import { ScriptedProvider } from '../../../src/inference/llm/scripted.ts';
import type { LoopbackLlmServer } from '../../support/loopback-llm-server.ts';

/**
 * One contract, two HTTP providers: the Anthropic SDK provider and the OpenAI-compatible one run
 * the same cases against their loopback servers — complete, streaming, retried 429, overload
 * exhausted then fallback, 400 not retried, abort mid-stream, timeout on a silent server.
 */
export interface HttpProviderSuite {
  title: string;
  start(): Promise<LoopbackLlmServer>;
  make(url: string): LlmProvider;
  /** Status the server uses for "overloaded" (529 for Anthropic, 503 for OpenAI-compatible servers). */
  overloadStatus: number;
  /** Checks the provider-specific request body (structured output field, system prompt placement). */
  expectStructuredRequest(body: Record<string, unknown>, schema: Record<string, unknown>): void;
}

const request = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  role: 'narrator',
  system: 'You narrate.',
  messages: [{ role: 'user', content: 'Light the lamp' }],
  maxTokens: 64,
  ...over,
});

async function caught(p: Promise<unknown>): Promise<StorytellerError> {
  try {
    await p;
  } catch (error) {
    if (isStorytellerError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

async function collect(stream: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

const fastRetry = { maxRetries: 2, baseMs: 1, maxMs: 20, random: () => 0 };

export function describeHttpProvider(suite: HttpProviderSuite): void {
  describe(suite.title, () => {
    let server: LoopbackLlmServer;
    beforeAll(async () => {
      server = await suite.start();
    });
    afterAll(async () => {
      await server.close();
    });

    it('completes: text, usage and the request it sent', async () => {
      const before = server.requests.length;
      server.enqueue({ kind: 'text', text: 'The lamp flickers on.', inputTokens: 11, outputTokens: 4 });
      const r = await suite.make(server.url).complete(request());
      expect(r.text).toBe('The lamp flickers on.');
      expect(r.usage).toEqual({ inputTokens: 11, outputTokens: 4 });
      expect(r.stopReason).not.toBeNull();
      expect(server.requests.length).toBe(before + 1);
      const body = server.requests.at(-1)!.body;
      expect(body.max_tokens).toBe(64);
      expect(JSON.stringify(body.messages)).toContain('Light the lamp');
      expect(JSON.stringify(body)).toContain('You narrate.');
    });

    it('sends the JSON schema for structured replies', async () => {
      const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
      server.enqueue({ kind: 'text', text: '{"ok":true}' });
      const r = await suite.make(server.url).complete(request({ jsonSchema: schema }));
      expect(JSON.parse(r.text)).toEqual({ ok: true });
      suite.expectStructuredRequest(server.requests.at(-1)!.body, schema);
    });

    it('streams chunks in order and reports usage at the end', async () => {
      server.enqueue({ kind: 'text', text: 'The keeper climbs the stairs slowly.', inputTokens: 9, outputTokens: 6 });
      const chunks = await collect(suite.make(server.url).completeStreaming(request()));
      const texts = chunks.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text);
      expect(texts).toEqual(['The ', 'keeper ', 'climbs ', 'the ', 'stairs ', 'slowly.']);
      const done = chunks.at(-1)!;
      expect(done).toMatchObject({ type: 'done', usage: { inputTokens: 9, outputTokens: 6 } });
      expect(chunks.filter((c) => c.type === 'done')).toHaveLength(1);
    });

    it('retries a 429 (honouring retry-after) and then succeeds', async () => {
      const before = server.requests.length;
      const registry = new Registry();
      const router = new LlmRouter({ providers: { p: suite.make(server.url) }, roles: { narrator: { chain: ['p'] } }, retry: fastRetry, registry });
      server.enqueue({ kind: 'error', status: 429, retryAfter: '0' }, { kind: 'text', text: 'Second time lucky.' });
      const r = await router.forRole('narrator').complete(request());
      expect(r.text).toBe('Second time lucky.');
      expect(r.fallbacks).toEqual([]);
      expect(server.requests.length).toBe(before + 2);
      const retries = await registry.getSingleMetric('storyteller_llm_retries_total')!.get();
      expect(retries.values).toEqual([expect.objectContaining({ value: 1, labels: { provider: 'p', code: 'LLM_RATE_LIMITED' } })]);
    });

    it('does not retry when retry-after asks for longer than the backoff cap', async () => {
      const before = server.requests.length;
      const governed = new GovernedProvider(suite.make(server.url), { backoff: fastRetry, timeoutMs: 60_000 });
      server.enqueue({ kind: 'error', status: 429, retryAfter: '30' });
      const e = await caught(governed.complete(request()));
      expect(e.code).toBe('LLM_RATE_LIMITED');
      expect(e.details?.retryAfterMs).toBe(30_000);
      expect(server.requests.length).toBe(before + 1);
    });

    it('overloaded on every attempt → LLM_OVERLOADED after the retries → falls back to scripted', async () => {
      const before = server.requests.length;
      const registry = new Registry();
      const provider = suite.make(server.url);
      const overloaded = { kind: 'error', status: suite.overloadStatus, type: suite.overloadStatus === 529 ? 'overloaded_error' : undefined } as const;
      server.enqueue(overloaded, overloaded, overloaded);
      const governed = new GovernedProvider(provider, { backoff: fastRetry, timeoutMs: 60_000 });
      const e = await caught(governed.complete(request()));
      expect(e.code).toBe('LLM_OVERLOADED');
      expect(server.requests.length).toBe(before + 3);

      server.enqueue(overloaded, overloaded, overloaded);
      const router = new LlmRouter({
        providers: { remote: provider, scripted: new ScriptedProvider({ script: () => 'The scripted narrator carries on.' }) },
        roles: { narrator: { chain: ['remote', 'scripted'] } },
        retry: fastRetry,
        registry,
      });
      const r = await router.forRole('narrator').complete(request({ sessionId: 's-overload' }));
      expect(r.text).toBe('The scripted narrator carries on.');
      expect(r.provider).toBe('scripted');
      expect(r.fallbacks).toEqual([expect.objectContaining({ role: 'narrator', from: 'remote', to: 'scripted', code: 'LLM_OVERLOADED' })]);
      expect(server.requests.length).toBe(before + 6);
      const fallbacks = await registry.getSingleMetric('storyteller_llm_fallbacks_total')!.get();
      expect(fallbacks.values).toEqual([expect.objectContaining({ value: 1, labels: { role: 'narrator', from: 'remote', to: 'scripted', reason: 'LLM_OVERLOADED' } })]);
    });

    it('a 500 is retried as LLM_UNAVAILABLE', async () => {
      const before = server.requests.length;
      server.enqueue({ kind: 'error', status: 500 }, { kind: 'text', text: 'Recovered.' });
      const governed = new GovernedProvider(suite.make(server.url), { backoff: fastRetry, timeoutMs: 60_000 });
      expect((await governed.complete(request())).text).toBe('Recovered.');
      expect(server.requests.length).toBe(before + 2);
    });

    it('400 → LLM_INVALID_REQUEST and is not retried', async () => {
      const before = server.requests.length;
      server.enqueue({ kind: 'error', status: 400, message: 'max_tokens: must be positive' });
      const governed = new GovernedProvider(suite.make(server.url), { backoff: fastRetry, timeoutMs: 60_000 });
      const e = await caught(governed.complete(request()));
      expect(e.code).toBe('LLM_INVALID_REQUEST');
      expect(e.message).toContain('max_tokens: must be positive');
      expect(server.requests.length).toBe(before + 1);
    });

    it('an AbortSignal cancels mid-stream with LLM_ABORTED and closes the connection', async () => {
      server.enqueue({ kind: 'partial-stream', chunks: ['Once ', 'upon '] });
      const controller = new AbortController();
      const router = new LlmRouter({
        providers: { remote: suite.make(server.url), scripted: new ScriptedProvider() },
        roles: { narrator: { chain: ['remote', 'scripted'] } },
        retry: fastRetry,
      });
      const seen: string[] = [];
      const closed = server.waitForClientClose();
      const run = (async () => {
        for await (const c of router.forRole('narrator').completeStreaming(request({ signal: controller.signal }))) {
          if (c.type === 'text') {
            seen.push(c.text);
            if (seen.length === 2) controller.abort();
          }
        }
      })();
      const e = await caught(run);
      expect(e.code).toBe('LLM_ABORTED');
      expect(seen).toEqual(['Once ', 'upon ']);
      await closed;
    });

    it('an abort before the answer rejects with LLM_ABORTED and does not fall back', async () => {
      server.enqueue({ kind: 'hang' });
      const before = server.requests.length;
      const controller = new AbortController();
      const router = new LlmRouter({
        providers: { remote: suite.make(server.url), scripted: new ScriptedProvider() },
        roles: { narrator: { chain: ['remote', 'scripted'] } },
        retry: fastRetry,
      });
      const pending = caught(router.forRole('narrator').complete(request({ signal: controller.signal })));
      await server.waitForRequests(before + 1);
      controller.abort();
      expect((await pending).code).toBe('LLM_ABORTED');
    });

    it('a silent server hits the per-call timeout (simulated clock) → LLM_TIMEOUT', async () => {
      server.enqueue({ kind: 'hang' });
      const before = server.requests.length;
      const clock = new ManualClock();
      const governed = new GovernedProvider(suite.make(server.url), { backoff: { ...fastRetry, maxRetries: 0 }, timeoutMs: 5_000, clock });
      const pending = caught(governed.complete(request()));
      await server.waitForRequests(before + 1);
      clock.advance(5_000);
      const e = await pending;
      expect(e.code).toBe('LLM_TIMEOUT');
      expect(e.details?.timeoutMs).toBe(5_000);
    });
  });
}
