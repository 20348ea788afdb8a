/**
 * Retry delays: exponential from `baseMs`, capped at `maxMs`, with jitter in [50 %, 100 %];
 * a server's retry-after wins when it asks for longer. Past `maxMs` of requested wait the call
 * is not retried at all — falling back to the next provider is the better degradation.
 *
 * @example
 * backoffDelay({ baseMs: 100, maxMs: 2000, random: () => 1 }, 2) // 400
 */
export interface BackoffPolicy {
  maxRetries: number;
  baseMs: number;
  maxMs: number;
  /** Jitter source in [0,1); injected so tests are deterministic. */
  random?: () => number;
}

export function backoffDelay(policy: Pick<BackoffPolicy, 'baseMs' | 'maxMs' | 'random'>, attempt: number, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  const jitter = 0.5 + 0.5 * (policy.random ?? Math.random)();
  const computed = Math.round(exp * jitter);
  return retryAfterMs === undefined ? computed : Math.max(computed, Math.ceil(retryAfterMs));
}

/** Whether a retry is worth waiting for (the server's requested wait is within our cap). */
export function retryWithinCap(policy: Pick<BackoffPolicy, 'maxMs'>, retryAfterMs: number | undefined): boolean {
  return retryAfterMs === undefined || retryAfterMs <= policy.maxMs;
}
