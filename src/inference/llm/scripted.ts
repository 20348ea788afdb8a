import { StorytellerError } from '../../errors.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, StreamChunk, Usage } from './provider.ts';

/**
 * Deterministic offline provider: the reply is whatever `script(req)` returns, so the same
 * request always yields the same text. It is the default for every role when nothing is
 * configured, and the last link of fallback chains. Streaming yields the reply in word chunks
 * (each chunk is a word plus its trailing whitespace), so concatenating the chunks gives `complete`'s text.
 *
 * @example
 * const p = new ScriptedProvider({ script: (req) => `You said: ${req.messages.at(-1)?.content ?? ''}` });
 * const r = await p.complete({ role: 'narrator', messages: [{ role: 'user', content: 'hi' }], maxTokens: 50 });
 * // r.text === 'You said: hi'
 */
export interface ScriptedProviderOptions {
  script?: (req: CompletionRequest) => string;
  /** Provider name reported in responses and metrics (default `scripted`). */
  name?: string;
}

/** Default script: a short, neutral line; a minimal valid JSON value when a schema is asked for. */
export function defaultScript(req: CompletionRequest): string {
  if (req.jsonSchema) return JSON.stringify(minimalJsonFor(req.jsonSchema));
  const last = req.messages.at(-1)?.content ?? '';
  return last.length > 0 ? `The moment passes quietly. (${req.role})` : `The scene waits. (${req.role})`;
}

/** Rough token estimate (~4 characters per token), used where no tokenizer is available. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));
}

export class ScriptedProvider implements LlmProvider {
  readonly name: string;
  private readonly script: (req: CompletionRequest) => string;

  constructor(options: ScriptedProviderOptions = {}) {
    this.name = options.name ?? 'scripted';
    this.script = options.script ?? defaultScript;
  }

  async complete(req: CompletionRequest): Promise<CompletionResponse> {
    throwIfAborted(req.signal);
    const text = this.script(req);
    return { text, usage: this.usageFor(req, text), provider: this.name, model: 'script', stopReason: 'end_turn' };
  }

  async *completeStreaming(req: CompletionRequest): AsyncIterable<StreamChunk> {
    throwIfAborted(req.signal);
    const text = this.script(req);
    for (const piece of wordChunks(text)) {
      // Yield to the loop between chunks so a consumer can cancel mid-stream.
      await Promise.resolve();
      throwIfAborted(req.signal);
      yield { type: 'text', text: piece };
    }
    yield { type: 'done', usage: this.usageFor(req, text), stopReason: 'end_turn' };
  }

  private usageFor(req: CompletionRequest, text: string): Usage {
    const prompt = (req.system ?? '') + req.messages.map((m) => m.content).join('\n');
    return { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(text) };
  }
}

/** Splits text into word chunks that concatenate back to the original. */
export function wordChunks(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text.length > 0 ? [text] : []);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new StorytellerError('LLM_ABORTED', 'the LLM call was cancelled');
}

/** A smallest value that satisfies common JSON-schema shapes (object/array/string/number/boolean/enum). */
export function minimalJsonFor(schema: Record<string, unknown>): unknown {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
      for (const key of required) out[key] = props[key] ? minimalJsonFor(props[key]) : null;
      return out;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const items = (schema.items ?? {}) as Record<string, unknown>;
      return Array.from({ length: min }, () => minimalJsonFor(items));
    }
    case 'string':
      return typeof schema.minLength === 'number' && schema.minLength > 0 ? 'x'.repeat(schema.minLength) : '';
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}
