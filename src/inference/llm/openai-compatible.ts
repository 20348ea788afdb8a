import { z } from 'zod';
import { StorytellerError } from '../../errors.ts';
import { abortedError, codeForStatus, errorFromAbort, llmError, parseRetryAfter } from './errors.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, StreamChunk, Usage } from './provider.ts';

/**
 * A local (or remote) inference server speaking OpenAI chat completions — Ollama, vLLM,
 * llama.cpp server — over plain fetch. Streaming reads the SSE `data:` lines up to `[DONE]`
 * and asks for usage in the last chunk (`stream_options.include_usage`). With `jsonSchema`
 * the request carries `response_format: { type: 'json_schema', … }`.
 *
 * @example
 * const p = new OpenAICompatibleProvider({ baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' });
 */
export interface OpenAICompatibleOptions {
  /** Server root or its `/v1` URL. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  name?: string;
}

const usageSchema = z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).nullish();

const completionSchema = z.object({
  model: z.string().optional(),
  choices: z.array(z.object({ message: z.object({ content: z.string().nullish() }), finish_reason: z.string().nullish() })).min(1),
  usage: usageSchema,
});

const chunkSchema = z.object({
  choices: z.array(z.object({ delta: z.object({ content: z.string().nullish() }).partial().nullish(), finish_reason: z.string().nullish() })).optional(),
  usage: usageSchema,
});

const errorBodySchema = z.object({ error: z.union([z.string(), z.object({ message: z.string().optional(), type: z.string().nullish() })]) });

export class OpenAICompatibleProvider implements LlmProvider {
  readonly name: string;
  readonly model: string;
  private readonly url: string;

  constructor(private readonly options: OpenAICompatibleOptions) {
    this.name = options.name ?? 'openai';
    this.model = options.model;
    const root = options.baseUrl.replace(/\/+$/, '');
    this.url = root.endsWith('/v1') ? `${root}/chat/completions` : `${root}/v1/chat/completions`;
  }

  async complete(req: CompletionRequest): Promise<CompletionResponse> {
    const response = await this.post(req, false);
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw this.mapThrown(error, req.signal);
    }
    const parsed = completionSchema.safeParse(body);
    if (!parsed.success) throw llmError('LLM_UNAVAILABLE', `${this.name}: malformed completion body`, { provider: this.name });
    const choice = parsed.data.choices[0]!;
    return {
      text: choice.message.content ?? '',
      usage: toUsage(parsed.data.usage),
      provider: this.name,
      model: parsed.data.model ?? this.model,
      stopReason: choice.finish_reason ?? null,
    };
  }

  async *completeStreaming(req: CompletionRequest): AsyncIterable<StreamChunk> {
    const response = await this.post(req, true);
    if (!response.body) throw llmError('LLM_UNAVAILABLE', `${this.name}: empty stream`, { provider: this.name });
    let usage: Usage = { inputTokens: 0, outputTokens: 0 };
    let stopReason: string | null = null;
    let finished = false;
    try {
      for await (const data of sseData(response.body)) {
        if (data === '[DONE]') {
          finished = true;
          break;
        }
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch {
          throw llmError('LLM_UNAVAILABLE', `${this.name}: malformed stream chunk`, { provider: this.name });
        }
        const errorBody = errorBodySchema.safeParse(json);
        if (errorBody.success) throw llmError('LLM_UNAVAILABLE', `${this.name}: stream error ${JSON.stringify(errorBody.data.error)}`, { provider: this.name });
        const chunk = chunkSchema.safeParse(json);
        if (!chunk.success) throw llmError('LLM_UNAVAILABLE', `${this.name}: malformed stream chunk`, { provider: this.name });
        if (chunk.data.usage) usage = toUsage(chunk.data.usage);
        for (const choice of chunk.data.choices ?? []) {
          const text = choice.delta?.content;
          if (text) yield { type: 'text', text };
          if (choice.finish_reason) stopReason = choice.finish_reason;
        }
      }
    } catch (error) {
      throw this.mapThrown(error, req.signal);
    }
    if (req.signal?.aborted) throw errorFromAbort(this.name, req.signal) ?? abortedError(this.name);
    if (!finished) throw llmError('LLM_UNAVAILABLE', `${this.name}: stream ended without [DONE]`, { provider: this.name });
    yield { type: 'done', usage, stopReason };
  }

  private async post(req: CompletionRequest, stream: boolean): Promise<Response> {
    const messages: Array<{ role: string; content: string }> = [];
    if (req.system !== undefined) messages.push({ role: 'system', content: req.system });
    for (const m of req.messages) messages.push({ role: m.role, content: m.content });
    const body: Record<string, unknown> = { model: this.model, messages, max_tokens: req.maxTokens, stream };
    if (stream) body.stream_options = { include_usage: true };
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.jsonSchema) body.response_format = { type: 'json_schema', json_schema: { name: 'reply', schema: req.jsonSchema, strict: true } };
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    try {
      response = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal: req.signal ?? null });
    } catch (error) {
      throw this.mapThrown(error, req.signal);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      let type: string | undefined;
      let message = text.slice(0, 300);
      try {
        const parsed = errorBodySchema.safeParse(JSON.parse(text));
        if (parsed.success) {
          const e = parsed.data.error;
          message = typeof e === 'string' ? e : (e.message ?? message);
          type = typeof e === 'string' ? undefined : (e.type ?? undefined);
        }
      } catch {
        // not JSON: keep the raw text
      }
      const retryAfterMs = parseRetryAfter(response.headers);
      throw llmError(codeForStatus(response.status, type), `${this.name}: ${response.status} ${message}`, {
        provider: this.name,
        status: response.status,
        ...(type ? { errorType: type } : {}),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    return response;
  }

  private mapThrown(error: unknown, signal: AbortSignal | undefined): StorytellerError {
    if (error instanceof StorytellerError) return error;
    const fromAbort = errorFromAbort(this.name, signal, error);
    if (fromAbort) return fromAbort;
    const message = error instanceof Error ? error.message : String(error);
    return llmError('LLM_UNAVAILABLE', `${this.name}: ${message}`, { provider: this.name }, error);
  }
}

function toUsage(u: z.infer<typeof usageSchema>): Usage {
  return { inputTokens: u?.prompt_tokens ?? 0, outputTokens: u?.completion_tokens ?? 0 };
}

/** The `data:` payloads of a server-sent-events body, one per event. */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let dataLines: string[] = [];
  for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (dataLines.length > 0) yield dataLines.join('\n');
        dataLines = [];
      } else if (line.startsWith('data:')) {
        dataLines.push(line.slice(5).replace(/^ /, ''));
      }
    }
  }
  if (dataLines.length > 0) yield dataLines.join('\n');
}
