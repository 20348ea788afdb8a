import type { LlmProvider } from './provider.ts';

/**
 * A provider that stamps every request with the session it serves (and the turn, where
 * there is one): the router tracks cost and enforces budgets per session, the debug stream
 * says which turn a call belongs to, and agents build their requests without knowing
 * which session they are in.
 *
 * @example
 * const narrator = forSession(router.forRole('narrator'), req.session.sessionId, req.input.turn);
 */
export function forSession(provider: LlmProvider, sessionId: string, turn?: number): LlmProvider {
  const stamp = turn === undefined ? { sessionId } : { sessionId, turn };
  return {
    name: provider.name,
    complete: (req) => provider.complete({ ...req, ...stamp }),
    completeStreaming: (req) => provider.completeStreaming({ ...req, ...stamp }),
  };
}
