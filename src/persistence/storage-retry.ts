import { isStorytellerError } from '../errors.ts';

/**
 * Retrying a session write through a database outage (issue 13, "PostgreSQL restarted
 * during play"). A write whose connection dropped is retried with capped exponential
 * backoff instead of failing the session; every write the persistence actor retries is
 * idempotent (keys on ledger rows, the scene exit detects its own committed
 * SceneExited, status writes are plain updates). Inputs are NOT retried here: their
 * refusal goes back to the client (STORAGE_UNAVAILABLE), which keeps and resends them.
 */
export interface StorageRetryPolicy {
  /** First wait (ms), doubled each attempt up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** Give up (the session fails with the last error) after retrying this long. */
  forMs: number;
}

export const DEFAULT_STORAGE_RETRY: StorageRetryPolicy = { baseMs: 100, maxMs: 2_000, forMs: 300_000 };

/**
 * The database could not be reached: STORAGE_UNAVAILABLE, or the event writer's
 * "not written after N attempts (still queued)" whose cause is a lost connection.
 */
export function isTransientStorageError(error: unknown): boolean {
  if (isStorytellerError(error, 'STORAGE_UNAVAILABLE')) return true;
  if (isStorytellerError(error, 'LEDGER_WRITE_FAILED')) {
    const cause = (error as Error).cause;
    return isStorytellerError(cause, 'STORAGE_UNAVAILABLE') || /still queued/.test((error as Error).message);
  }
  return false;
}

/**
 * Runs `work` until it succeeds, fails permanently, `stopped()` turns true (the error is
 * rethrown), or the policy's time is spent. `onRetry` sees each transient failure.
 */
export async function withStorageRetry<T>(
  work: () => Promise<T>,
  options: { policy?: StorageRetryPolicy; stopped?: () => boolean; onRetry?: (error: unknown, attempt: number) => void; now?: () => number },
): Promise<T> {
  const policy = options.policy ?? DEFAULT_STORAGE_RETRY;
  const now = options.now ?? Date.now;
  const started = now();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isTransientStorageError(error) || options.stopped?.() || now() - started >= policy.forMs) throw error;
      options.onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1))));
      if (options.stopped?.()) throw error;
    }
  }
}
