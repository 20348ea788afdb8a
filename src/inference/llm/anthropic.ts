import Anthropic from '@anthropic-ai/sdk';
import { abortedError, codeForStatus, errorFromAbort, llmError, parseRetryAfter } from './errors.ts';
import { StorytellerError } from '../../errors.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, StreamChunk, Usage } from './provider.ts';

/**
 * Anthropic Messages API through the official SDK. The SDK's own retries are off
 * (`maxRetries: 0`): retries, timeouts and fallback belong to governance (`governed.ts`).
 * With `jsonSchema` the request uses structured outputs (`output_config.format`).
 *
 * @example
 * const p = new AnthropicProvider({ apiKey: process.env.ANTHROPIC_API_KEY!, model: 'claude-sonnet-5-5' });
 * const r = await p.complete({ role: 'narrator', messages: [{ role: 'user', content: 'Begin.' }], maxTokens: 300 });
 */
export interface AnthropicProviderOptions {
  apiKey: string;
  model: string;
  baseURL?: string;
  name?: string;
}

type CreateParams = Anthropic.MessageCreateParamsNonStreaming;

export class AnthropicProvider implements LlmProvider {
  readonly name: string;
  readonly model: string;
  private readonly client: Anthropic;

  constructor(options: AnthropicProviderOptions) {
    this.name = options.name ?? 'anthropic';
    this.model = options.model;
    this.client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? null,
      maxRetries: 0,
      // Governance enforces the per-call timeout through the AbortSignal; this is only a backstop.
      timeout: 10 * 60_000,
    });
  }

  async complete(req: CompletionRequest): Promise<CompletionResponse> {
    try {
      const message = await this.client.messages.create(this.params(req), { signal: req.signal ?? null });
      const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
      return {
        text,
        usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens },
        provider: this.name,
        model: message.model,
        stopReason: message.stop_reason ?? null,
      };
    } catch (error) {
      throw this.mapError(error, req.signal);
    }
  }

  async *completeStreaming(req: CompletionRequest): AsyncIterable<StreamChunk> {
    const usage: Usage = { inputTokens: 0, outputTokens: 0 };
    let stopReason: string | null = null;
    try {
      const stream = await this.client.messages.create({ ...this.params(req), stream: true }, { signal: req.signal ?? null });
      for await (const event of stream) {
        switch (event.type) {
          case 'message_start':
            usage.inputTokens = event.message.usage.input_tokens;
            usage.outputTokens = event.message.usage.output_tokens;
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta') yield { type: 'text', text: event.delta.text };
            break;
          case 'message_delta':
            usage.outputTokens = event.usage.output_tokens;
            if (event.usage.input_tokens != null) usage.inputTokens = event.usage.input_tokens;
            stopReason = event.delta.stop_reason ?? null;
            break;
          default:
            break;
        }
      }
    } catch (error) {
      throw this.mapError(error, req.signal);
    }
    // An aborted stream can end quietly; the caller must still see the cancellation.
    if (req.signal?.aborted) throw errorFromAbort(this.name, req.signal) ?? abortedError(this.name);
    yield { type: 'done', usage, stopReason };
  }

  private params(req: CompletionRequest): CreateParams {
    const params: CreateParams = {
      model: this.model,
      max_tokens: req.maxTokens,
      messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    };
    if (req.system !== undefined) params.system = req.system;
    // `temperature` is not part of this SDK's Messages params (the API dropped it); it is ignored here.
    if (req.jsonSchema) params.output_config = { format: { type: 'json_schema', schema: req.jsonSchema } };
    return params;
  }

  private mapError(error: unknown, signal: AbortSignal | undefined): StorytellerError {
    if (error instanceof StorytellerError) return error;
    const fromAbort = errorFromAbort(this.name, signal, error);
    if (fromAbort) return fromAbort;
    if (error instanceof Anthropic.APIUserAbortError) return abortedError(this.name, error);
    if (error instanceof Anthropic.APIConnectionError) {
      return llmError('LLM_UNAVAILABLE', `${this.name}: connection failed (${error.message})`, { provider: this.name }, error);
    }
    if (error instanceof Anthropic.APIError && typeof error.status === 'number') {
      const body = error.error as { error?: { type?: string; message?: string } } | undefined;
      const type = body?.error?.type;
      const retryAfterMs = parseRetryAfter(error.headers);
      const details = { provider: this.name, status: error.status, ...(type ? { errorType: type } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      return llmError(codeForStatus(error.status, type), `${this.name}: ${error.status} ${body?.error?.message ?? error.message}`, details, error);
    }
    if (error instanceof Anthropic.APIError) {
      // Errors inside an SSE stream (event: error) carry no HTTP status, only the body's type.
      const body = error.error as { error?: { type?: string; message?: string } } | undefined;
      const type = body?.error?.type;
      const code = type === 'overloaded_error' ? 'LLM_OVERLOADED' : type === 'rate_limit_error' ? 'LLM_RATE_LIMITED' : 'LLM_UNAVAILABLE';
      return llmError(code, `${this.name}: ${error.message}`, { provider: this.name, ...(type ? { errorType: type } : {}) }, error);
    }
    const message = error instanceof Error ? error.message : String(error);
    return llmError('LLM_UNAVAILABLE', `${this.name}: ${message}`, { provider: this.name }, error);
  }
}
