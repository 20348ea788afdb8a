import { describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../src/errors.ts';
import { ManualClock } from '../../src/inference/llm/clock.ts';
import { llmError } from '../../src/inference/llm/errors.ts';
import { GovernedProvider } from '../../src/inference/llm/governed.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, StreamChunk } from '../../src/inference/llm/provider.ts';
import { TokenBucket } from '../../src/inference/llm/rate-limiter.ts';

/** In-memory provider answering from a queue of outcomes (pure unit test of governance). */
class QueueProvider implements LlmProvider {
  readonly name = 'q';
  calls = 0;
  constructor(private readonly outcomes: Array<Error | string | 'hang'>) {}
  async complete(req: CompletionRequest): Promise<CompletionResponse> {
    this.calls += 1;
    const next = this.outcomes.shift() ?? 'ok';
    if (next === 'hang') {
      // Never answers; settles only through the signal, like a silent server.
      return new Promise((_, reject) => req.signal?.addEventListener('abort', () => reject(new Error('socket aborted')), { once: true }));
    }
    if (next instanceof Error) throw next;
    return { text: next, usage: { inputTokens: 1, outputTokens: 1 }, provider: 'q', model: 'm', stopReason: 'end_turn' };
  }
  async *completeStreaming(req: CompletionRequest): AsyncIterable<StreamChunk> {
    const r = await this.complete(req);
    yield { type: 'text', text: r.text };
    yield { type: 'done', usage: r.usage, stopReason: r.stopReason };
  }
}

const req: CompletionRequest = { role: 'character', messages: [{ role: 'user', content: 'hi' }], maxTokens: 8 };
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const rateLimited = (retryAfterMs?: number) => llmError('LLM_RATE_LIMITED', 'slow down', { provider: 'q', status: 429, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

describe('GovernedProvider (simulated clock)', () => {
  it('waits the server-requested retry-after before retrying', async () => {
    const clock = new ManualClock();
    const inner = new QueueProvider([rateLimited(300), 'fine']);
    const governed = new GovernedProvider(inner, { backoff: { maxRetries: 2, baseMs: 10, maxMs: 1000, random: () => 0 }, timeoutMs: 10_000, clock });
    const result = governed.complete(req);
    await settle();
    expect(inner.calls).toBe(1);
    clock.advance(299);
    await settle();
    expect(inner.calls).toBe(1);
    clock.advance(1);
    expect((await result).text).toBe('fine');
    expect(inner.calls).toBe(2);
  });

  it('backs off exponentially between attempts and gives up after maxRetries', async () => {
    const clock = new ManualClock();
    const overloaded = () => llmError('LLM_OVERLOADED', 'busy', { provider: 'q', status: 529 });
    const inner = new QueueProvider([overloaded(), overloaded(), overloaded()]);
    const governed = new GovernedProvider(inner, { backoff: { maxRetries: 2, baseMs: 100, maxMs: 1000, random: () => 0.999999 }, timeoutMs: 10_000, clock });
    const result = governed.complete(req).catch((e: unknown) => e);
    await settle();
    clock.advance(99);
    await settle();
    expect(inner.calls).toBe(1);
    clock.advance(1); // first backoff: 100 ms
    await settle();
    expect(inner.calls).toBe(2);
    clock.advance(199);
    await settle();
    expect(inner.calls).toBe(2);
    clock.advance(1); // second backoff: 200 ms
    const error = await result;
    expect(inner.calls).toBe(3);
    expect(isStorytellerError(error, 'LLM_OVERLOADED')).toBe(true);
  });

  it('a per-request timeoutMs wins over the default and maps to LLM_TIMEOUT', async () => {
    const clock = new ManualClock();
    const governed = new GovernedProvider(new QueueProvider(['hang']), { backoff: { maxRetries: 0, baseMs: 0, maxMs: 0 }, timeoutMs: 60_000, clock });
    const result = governed.complete({ ...req, timeoutMs: 250 }).catch((e: unknown) => e);
    await settle();
    clock.advance(250);
    const error = await result;
    expect(isStorytellerError(error, 'LLM_TIMEOUT')).toBe(true);
    expect((error as { details?: { timeoutMs?: number } }).details?.timeoutMs).toBe(250);
  });

  it('the caller aborting during backoff stops with LLM_ABORTED and no further attempt', async () => {
    const clock = new ManualClock();
    const inner = new QueueProvider([rateLimited(), 'never']);
    const governed = new GovernedProvider(inner, { backoff: { maxRetries: 3, baseMs: 1000, maxMs: 1000 }, timeoutMs: 10_000, clock });
    const controller = new AbortController();
    const result = governed.complete({ ...req, signal: controller.signal }).catch((e: unknown) => e);
    await settle();
    controller.abort();
    expect(isStorytellerError(await result, 'LLM_ABORTED')).toBe(true);
    clock.advance(10_000);
    expect(inner.calls).toBe(1);
  });

  it('calls wait for the provider rate limit token', async () => {
    const clock = new ManualClock();
    const inner = new QueueProvider(['a', 'b']);
    const governed = new GovernedProvider(inner, {
      backoff: { maxRetries: 0, baseMs: 0, maxMs: 0 },
      timeoutMs: 10_000,
      clock,
      limiter: new TokenBucket({ capacity: 1, refillPerSecond: 0.5, clock }),
    });
    expect((await governed.complete(req)).text).toBe('a');
    let second: string | undefined;
    const pending = governed.complete(req).then((r) => (second = r.text));
    await settle();
    expect(second).toBeUndefined();
    expect(inner.calls).toBe(1);
    clock.advance(2000);
    await pending;
    expect(second).toBe('b');
  });

  it('non-retryable errors pass straight through', async () => {
    const inner = new QueueProvider([llmError('LLM_INVALID_REQUEST', 'bad', { provider: 'q', status: 400 })]);
    const governed = new GovernedProvider(inner, { backoff: { maxRetries: 5, baseMs: 0, maxMs: 0 }, timeoutMs: 10_000 });
    await expect(governed.complete(req)).rejects.toSatisfy((e) => isStorytellerError(e, 'LLM_INVALID_REQUEST'));
    expect(inner.calls).toBe(1);
  });

  it('an untyped throw becomes LLM_UNAVAILABLE', async () => {
    const governed = new GovernedProvider(new QueueProvider([new TypeError('boom')]), { backoff: { maxRetries: 0, baseMs: 0, maxMs: 0 }, timeoutMs: 10_000 });
    await expect(governed.complete(req)).rejects.toSatisfy((e) => isStorytellerError(e, 'LLM_UNAVAILABLE'));
  });
});
