import type { LlmProvider } from './provider.ts';

/**
 * A provider that stamps every request with the session it serves: the router tracks
 * cost and enforces budgets per session, and agents build their requests without knowing
 * which session they are in.
 *
 * @example
 * const narrator = forSession(router.forRole('narrator'), req.session.sessionId);
 */
export function forSession(provider: LlmProvider, sessionId: string): LlmProvider {
  return {
    name: provider.name,
    complete: (req) => provider.complete({ ...req, sessionId }),
    completeStreaming: (req) => provider.completeStreaming({ ...req, sessionId }),
  };
}
