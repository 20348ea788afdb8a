/**
 * The LLM seam (seed: "LLM Abstraction Layer"). Agents talk to `LlmProvider` and do not know
 * which implementation answers; `LlmRouter.forRole(role)` picks one per agent role and wraps it
 * with governance (rate limit, retries, timeout, cost, budget, fallback).
 *
 * @example
 * const narrator = router.forRole('narrator');
 * for await (const chunk of narrator.completeStreaming({ role: 'narrator', messages, maxTokens: 400 })) {
 *   if (chunk.type === 'text') send(chunk.text);
 * }
 */
/** `classifier` (stage 1's optional decomposition) is used only when named explicitly in the configuration. */
export type LlmRole = 'narrator' | 'character' | 'storykeeper' | 'world' | 'reconciler' | 'stage4' | 'classifier';

export const LLM_ROLES: readonly LlmRole[] = ['narrator', 'character', 'storykeeper', 'world', 'reconciler', 'stage4', 'classifier'];

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  role: LlmRole;
  system?: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  /** JSON schema: the reply must be one JSON value of this schema (structured agent output). */
  jsonSchema?: Record<string, unknown>;
  signal?: AbortSignal;
  timeoutMs?: number;
  sessionId?: string;
  /** The session turn the call serves (the debug stream shows it); absent outside a turn. */
  turn?: number;
  /** Structured context the prompt was built from; the ScriptedProvider renders from it. */
  context?: Record<string, unknown>;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface CompletionResponse {
  text: string;
  usage: Usage;
  provider: string;
  model: string;
  stopReason: string | null;
}

export type StreamChunk = { type: 'text'; text: string } | { type: 'done'; usage: Usage; stopReason: string | null };

export interface LlmProvider {
  readonly name: string;
  complete(req: CompletionRequest): Promise<CompletionResponse>;
  completeStreaming(req: CompletionRequest): AsyncIterable<StreamChunk>;
}
