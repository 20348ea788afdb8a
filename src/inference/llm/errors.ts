import { StorytellerError, type ErrorCode } from '../../errors.ts';

/**
 * Mapping from provider failures (HTTP status, connection errors, aborts) to the typed
 * `LLM_*` StorytellerErrors, plus the retry decision the governance layer takes on them.
 * Every provider throws only these, so the router never inspects SDK-specific errors.
 */
export type LlmErrorCode = Extract<
  ErrorCode,
  | 'LLM_RATE_LIMITED'
  | 'LLM_OVERLOADED'
  | 'LLM_TIMEOUT'
  | 'LLM_INVALID_REQUEST'
  | 'LLM_BUDGET_EXCEEDED'
  | 'LLM_UNAVAILABLE'
  | 'LLM_ABORTED'
  | 'LLM_OUTPUT_INVALID'
>;

export interface LlmErrorDetails {
  provider: string;
  status?: number;
  /** Server-requested wait before a retry (retry-after header), in ms. */
  retryAfterMs?: number;
  [key: string]: unknown;
}

export function llmError(code: LlmErrorCode, message: string, details: LlmErrorDetails, cause?: unknown): StorytellerError {
  return new StorytellerError(code, message, { details, cause });
}

/** HTTP status (and the body's error type when known) → error code. */
export function codeForStatus(status: number, errorType?: string): LlmErrorCode {
  if (errorType === 'overloaded_error' || status === 529 || status === 503) return 'LLM_OVERLOADED';
  if (status === 429 || errorType === 'rate_limit_error') return 'LLM_RATE_LIMITED';
  if (status === 408 || status === 504) return 'LLM_TIMEOUT';
  if (status >= 500) return 'LLM_UNAVAILABLE';
  return 'LLM_INVALID_REQUEST';
}

/** Parses a retry-after header (seconds or HTTP date) or retry-after-ms into milliseconds. */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Whether governance retries this failure on the same provider (429, overload, 5xx, timeout, connection). */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof StorytellerError)) return false;
  return (
    error.code === 'LLM_RATE_LIMITED' ||
    error.code === 'LLM_OVERLOADED' ||
    error.code === 'LLM_UNAVAILABLE' ||
    error.code === 'LLM_TIMEOUT'
  );
}

/** Whether the router may try the next provider of the chain (everything but the caller's own cancellation). */
export function allowsFallback(error: unknown): boolean {
  return !(error instanceof StorytellerError && error.code === 'LLM_ABORTED');
}

export function abortedError(provider: string, cause?: unknown): StorytellerError {
  return llmError('LLM_ABORTED', `${provider}: the LLM call was cancelled`, { provider }, cause);
}

export function timeoutError(provider: string, timeoutMs: number, cause?: unknown): StorytellerError {
  return llmError('LLM_TIMEOUT', `${provider}: no answer within ${timeoutMs} ms`, { provider, timeoutMs }, cause);
}

/** Reason attached to an AbortController when governance's per-call timer fires. */
export class CallTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
    this.name = 'CallTimeout';
  }
}

/**
 * Converts a failure that happened while `signal` was aborted into LLM_TIMEOUT (our own timer)
 * or LLM_ABORTED (the caller); returns undefined when the signal is not aborted.
 */
export function errorFromAbort(provider: string, signal: AbortSignal | undefined, cause?: unknown): StorytellerError | undefined {
  if (!signal?.aborted) return undefined;
  const reason: unknown = signal.reason;
  if (reason instanceof CallTimeout) return timeoutError(provider, reason.timeoutMs, cause);
  return abortedError(provider, cause);
}
