import { getLlama, LlamaChatSession, LlamaLogLevel, type ChatHistoryItem, type Llama, type LlamaContext, type LlamaGrammar, type LlamaModel } from 'node-llama-cpp';
import { StorytellerError } from '../../errors.ts';
import { AsyncQueue } from './async-queue.ts';
import { errorFromAbort, llmError } from './errors.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, StreamChunk, Usage } from './provider.ts';

/**
 * A local GGUF model in-process through node-llama-cpp (the seed's candle provider).
 * One context, one sequence, one request at a time (a local model on a shared CPU gains
 * nothing from interleaving). `threads` defaults to 1: on 2-core machines more threads were
 * ~1000× slower (architecture.md §7). With `jsonSchema` the sampler is constrained by a
 * grammar generated from the schema, so the reply is JSON of that schema unless cut by maxTokens.
 * Uses the prebuilt CPU binary only (`build: 'never'`): nothing is downloaded or compiled.
 *
 * @example
 * const local = new LlamaCppProvider({ modelPath: 'models/llm/qwen.gguf', threads: 1 });
 * const r = await local.complete({ role: 'stage4', messages, maxTokens: 64, jsonSchema: schema });
 * await local.dispose();
 */
export interface LlamaCppProviderOptions {
  modelPath: string;
  threads?: number;
  contextSize?: number;
  /** Use a GPU backend when one is available (default false: CPU only). */
  gpu?: boolean;
  name?: string;
}

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
}

export class LlamaCppProvider implements LlmProvider {
  readonly name: string;
  private loading: Promise<Loaded> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  constructor(private readonly options: LlamaCppProviderOptions) {
    this.name = options.name ?? 'local';
  }

  get model(): string {
    return this.options.modelPath;
  }

  async complete(req: CompletionRequest): Promise<CompletionResponse> {
    return this.exclusive(() => this.generate(req, undefined));
  }

  async *completeStreaming(req: CompletionRequest): AsyncIterable<StreamChunk> {
    // Our own controller, so a consumer that stops reading also stops the generation.
    const controller = new AbortController();
    const forward = (): void => controller.abort(req.signal?.reason);
    if (req.signal?.aborted) forward();
    else req.signal?.addEventListener('abort', forward, { once: true });
    const queue = new AsyncQueue<StreamChunk>();
    const run = this.exclusive(() => this.generate({ ...req, signal: controller.signal }, (text) => queue.push({ type: 'text', text })));
    run.then(
      (r) => {
        queue.push({ type: 'done', usage: r.usage, stopReason: r.stopReason });
        queue.end();
      },
      (e: unknown) => queue.fail(e),
    );
    let finished = false;
    try {
      for await (const chunk of queue) {
        if (chunk.type === 'done') finished = true;
        yield chunk;
      }
    } finally {
      req.signal?.removeEventListener('abort', forward);
      if (!finished) {
        controller.abort(new Error('stream consumer stopped'));
        await run.catch(() => undefined);
      }
    }
  }

  /** Loads the model now (otherwise on first call); surfaces a bad path as LLM_UNAVAILABLE. */
  async load(): Promise<void> {
    await this.loaded();
  }

  async dispose(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    if (!loading) return;
    const l = await loading.catch(() => undefined);
    if (!l) return;
    await l.context.dispose();
    await l.model.dispose();
    await l.llama.dispose();
  }

  private loaded(): Promise<Loaded> {
    this.loading ??= (async () => {
      try {
        const llama = await getLlama({ gpu: this.options.gpu ? 'auto' : false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
        const model = await llama.loadModel({ modelPath: this.options.modelPath });
        const context = await model.createContext({
          contextSize: Math.min(this.options.contextSize ?? 4096, model.trainContextSize),
          threads: this.options.threads ?? 1,
          sequences: 1,
        });
        return { llama, model, context };
      } catch (error) {
        this.loading = undefined;
        throw llmError('LLM_UNAVAILABLE', `${this.name}: cannot load ${this.options.modelPath}: ${(error as Error).message}`, { provider: this.name }, error);
      }
    })();
    return this.loading;
  }

  /** Runs calls one after another on the single sequence. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private grammarFor(llama: Llama, schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = llama.createGrammarForJsonSchema(schema as never).catch((error: unknown) => {
        this.grammars.delete(key);
        throw llmError('LLM_INVALID_REQUEST', `${this.name}: unsupported JSON schema: ${(error as Error).message}`, { provider: this.name }, error);
      });
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  private async generate(req: CompletionRequest, onText: ((text: string) => void) | undefined): Promise<CompletionResponse> {
    const fromAbort = errorFromAbort(this.name, req.signal);
    if (fromAbort) throw fromAbort;
    const last = req.messages.at(-1);
    if (!last || last.role !== 'user') throw llmError('LLM_INVALID_REQUEST', `${this.name}: the last message must be the user's`, { provider: this.name });
    const { llama, model, context } = await this.loaded();
    const grammar = req.jsonSchema ? await this.grammarFor(llama, req.jsonSchema) : undefined;
    const sequence = context.getSequence();
    const session = new LlamaChatSession({ contextSequence: sequence, systemPrompt: req.system ?? '', autoDisposeSequence: false });
    try {
      const history: ChatHistoryItem[] = [{ type: 'system', text: req.system ?? '' }];
      for (const m of req.messages.slice(0, -1)) {
        history.push(m.role === 'user' ? { type: 'user', text: m.content } : { type: 'model', response: [m.content] });
      }
      session.setChatHistory(history);
      let generated = 0;
      const result = await session.promptWithMeta(last.content, {
        maxTokens: req.maxTokens,
        temperature: req.temperature ?? 0,
        onToken: (tokens) => {
          generated += tokens.length;
        },
        ...(grammar ? { grammar } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
        ...(onText ? { onTextChunk: onText } : {}),
      });
      const text = result.responseText;
      if (req.jsonSchema) assertJson(this.name, text);
      const prompt = [req.system ?? '', ...req.messages.map((m) => m.content)].join('\n');
      const usage: Usage = { inputTokens: model.tokenize(prompt).length, outputTokens: generated };
      const stopReason = result.stopReason === 'maxTokens' ? 'max_tokens' : result.stopReason === 'abort' ? 'abort' : 'end_turn';
      return { text, usage, provider: this.name, model: this.options.modelPath, stopReason };
    } catch (error) {
      if (error instanceof StorytellerError) throw error;
      throw errorFromAbort(this.name, req.signal, error) ?? llmError('LLM_UNAVAILABLE', `${this.name}: ${(error as Error).message}`, { provider: this.name }, error);
    } finally {
      session.dispose({ disposeSequence: false });
      await sequence.clearHistory();
      sequence.dispose();
    }
  }
}

function assertJson(provider: string, text: string): void {
  try {
    JSON.parse(text);
  } catch (error) {
    throw llmError('LLM_OUTPUT_INVALID', `${provider}: reply is not complete JSON (raise maxTokens?)`, { provider, text: text.slice(0, 200) }, error);
  }
}
