/**
 * Public surface of the LLM layer (issue 5). Agents import types from `provider.ts`; the engine
 * builds one router at start-up:
 *
 * @example
 * const router = LlmRouter.fromConfig(loadLlmConfig(config.env), { registry, logger, sink: new LlmUsageStore(db), script });
 * const narrator = router.forRole('narrator');
 */
export type { ChatMessage, CompletionRequest, CompletionResponse, LlmProvider, LlmRole, StreamChunk, Usage } from './provider.ts';
export { LLM_ROLES } from './provider.ts';
export { ScriptedProvider, defaultScript, estimateTokens } from './scripted.ts';
export { AnthropicProvider } from './anthropic.ts';
export { OpenAICompatibleProvider } from './openai-compatible.ts';
export { LlamaCppProvider } from './llama-cpp.ts';
export { LlmRouter, type FallbackRecord, type RoutedCompletionResponse, type RoutedProvider, type RoutedStreamChunk } from './router.ts';
export { loadLlmConfig, type LlmConfig } from './config.ts';
export { UsageLedger, type UsageSink, type UsageRecord } from './usage.ts';
export { GovernedProvider } from './governed.ts';
export { TokenBucket } from './rate-limiter.ts';
export { ManualClock, systemClock, type Clock } from './clock.ts';
export { createLlmMetrics, type LlmMetrics } from './metrics.ts';
