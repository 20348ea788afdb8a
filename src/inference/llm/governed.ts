import type { Logger } from '../../logger.ts';
import { silentLogger } from '../../logger.ts';
import { StorytellerError } from '../../errors.ts';
import { backoffDelay, retryWithinCap, type BackoffPolicy } from './backoff.ts';
import { type Clock, sleep, systemClock } from './clock.ts';
import { CallTimeout, abortedError, errorFromAbort, isRetryable, llmError } from './errors.ts';
import type { LlmMetrics } from './metrics.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, StreamChunk } from './provider.ts';
import type { TokenBucket } from './rate-limiter.ts';

/**
 * One provider under governance: it waits for its rate-limit token, bounds every attempt by a
 * timeout, and retries 429 / overload / 5xx / timeouts with backoff (honouring retry-after).
 * A stream is retried only until its first text chunk — after that the caller already has text.
 * The caller's AbortSignal cancels the wait, the backoff and the call (LLM_ABORTED).
 *
 * @example
 * const governed = new GovernedProvider(new AnthropicProvider(opts), {
 *   backoff: { maxRetries: 2, baseMs: 250, maxMs: 4000 }, timeoutMs: 60_000, limiter: new TokenBucket({ capacity: 5, refillPerSecond: 1 }),
 * });
 */
export interface GovernanceOptions {
  backoff: BackoffPolicy;
  /** Default per-attempt timeout; a request's `timeoutMs` wins. */
  timeoutMs: number;
  /** Name in logs and metrics (default: the provider's own name; the router passes its chain key). */
  name?: string;
  limiter?: TokenBucket;
  clock?: Clock;
  logger?: Logger;
  metrics?: LlmMetrics;
}

export interface CallOverrides {
  maxRetries?: number;
}

export class GovernedProvider implements LlmProvider {
  readonly name: string;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(
    readonly inner: LlmProvider,
    private readonly options: GovernanceOptions,
  ) {
    this.name = options.name ?? inner.name;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** `overrides.maxRetries` lets a role ask for fewer (or more) retries than the provider default. */
  async complete(req: CompletionRequest, overrides: CallOverrides = {}): Promise<CompletionResponse> {
    for (let attempt = 0; ; attempt++) {
      await this.acquire(req);
      const call = this.callSignal(req);
      try {
        return await this.inner.complete({ ...req, signal: call.signal });
      } catch (error) {
        await this.afterFailure(this.normalize(error, call.signal), attempt, req, overrides);
      } finally {
        call.dispose();
      }
    }
  }

  async *completeStreaming(req: CompletionRequest, overrides: CallOverrides = {}): AsyncIterable<StreamChunk> {
    for (let attempt = 0; ; attempt++) {
      await this.acquire(req);
      const call = this.callSignal(req);
      let emitted = false;
      try {
        for await (const chunk of this.inner.completeStreaming({ ...req, signal: call.signal })) {
          if (chunk.type === 'text') emitted = true;
          yield chunk;
        }
        return;
      } catch (error) {
        const failure = this.normalize(error, call.signal);
        if (emitted) throw failure;
        await this.afterFailure(failure, attempt, req, overrides);
      } finally {
        call.dispose();
      }
    }
  }

  /** Rethrows unless the failure is worth another attempt; otherwise waits the backoff. */
  private async afterFailure(failure: StorytellerError, attempt: number, req: CompletionRequest, overrides: CallOverrides): Promise<void> {
    const backoff = overrides.maxRetries === undefined ? this.options.backoff : { ...this.options.backoff, maxRetries: overrides.maxRetries };
    const retryAfterMs = typeof failure.details?.retryAfterMs === 'number' ? failure.details.retryAfterMs : undefined;
    if (!isRetryable(failure) || attempt >= backoff.maxRetries || !retryWithinCap(backoff, retryAfterMs)) throw failure;
    const delay = backoffDelay(backoff, attempt, retryAfterMs);
    this.options.metrics?.retries.inc({ provider: this.name, code: failure.code });
    this.logger.warn({ provider: this.name, role: req.role, code: failure.code, attempt: attempt + 1, delayMs: delay }, 'llm call failed; retrying');
    try {
      await sleep(this.clock, delay, req.signal);
    } catch (reason) {
      throw abortedError(this.name, reason);
    }
  }

  private async acquire(req: CompletionRequest): Promise<void> {
    if (req.signal?.aborted) throw abortedError(this.name, req.signal.reason);
    if (!this.options.limiter) return;
    try {
      await this.options.limiter.acquire(req.signal);
    } catch (reason) {
      throw abortedError(this.name, reason);
    }
  }

  /** The attempt's signal: aborted by the caller's signal or by the timeout (reason CallTimeout). */
  private callSignal(req: CompletionRequest): { signal: AbortSignal; dispose: () => void } {
    const controller = new AbortController();
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
    const cancelTimer = this.clock.setTimer(() => controller.abort(new CallTimeout(timeoutMs)), timeoutMs);
    const onAbort = (): void => controller.abort(req.signal?.reason);
    if (req.signal?.aborted) controller.abort(req.signal.reason);
    else req.signal?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: controller.signal,
      dispose: () => {
        cancelTimer();
        req.signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  private normalize(error: unknown, signal: AbortSignal): StorytellerError {
    // Whatever the provider threw, an aborted call signal decides: our timer → TIMEOUT, the caller → ABORTED.
    if (signal.aborted && !(error instanceof StorytellerError && (error.code === 'LLM_TIMEOUT' || error.code === 'LLM_ABORTED'))) {
      return errorFromAbort(this.name, signal, error)!;
    }
    if (error instanceof StorytellerError) return error;
    return llmError('LLM_UNAVAILABLE', `${this.name}: ${error instanceof Error ? error.message : String(error)}`, { provider: this.name }, error);
  }
}
