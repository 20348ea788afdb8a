import type { Registry } from 'prom-client';
import type { ErrorCode } from '../../errors.ts';
import { StorytellerError } from '../../errors.ts';
import { type Logger, moduleLogger, silentLogger } from '../../logger.ts';
import { AnthropicProvider } from './anthropic.ts';
import { type Clock, systemClock } from './clock.ts';
import type { LlmConfig, ProviderKind, RoleConfig } from './config.ts';
import { allowsFallback, llmError } from './errors.ts';
import { type CallOverrides, GovernedProvider } from './governed.ts';
import { parseStructuredReply } from './json-output.ts';
import { LlamaCppProvider } from './llama-cpp.ts';
import { createLlmMetrics, type LlmMetrics } from './metrics.ts';
import { OpenAICompatibleProvider } from './openai-compatible.ts';
import type { CompletionRequest, CompletionResponse, LlmProvider, LlmRole, StreamChunk, Usage } from './provider.ts';
import { TokenBucket } from './rate-limiter.ts';
import { ScriptedProvider } from './scripted.ts';
import { UsageLedger, type UsageSink } from './usage.ts';

/** One step down the chain: `from` failed (or was over budget) with `code`; `to` is tried next. */
export interface FallbackRecord {
  role: LlmRole;
  from: string;
  to: string | null;
  code: ErrorCode;
  message: string;
}

/** What a routed call returns: the plain response plus which fallbacks it took and what it cost. */
export interface RoutedCompletionResponse extends CompletionResponse {
  fallbacks: FallbackRecord[];
  costUsd: number;
}

export type RoutedStreamChunk =
  | { type: 'text'; text: string }
  | { type: 'done'; usage: Usage; stopReason: string | null; provider: string; fallbacks: FallbackRecord[]; costUsd: number };

/** The provider a role gets: complete / stream with governance, budget, cost and fallback applied. */
export interface RoutedProvider extends LlmProvider {
  readonly role: LlmRole;
  readonly chain: readonly string[];
  complete(req: CompletionRequest): Promise<RoutedCompletionResponse>;
  completeStreaming(req: CompletionRequest): AsyncIterable<RoutedStreamChunk>;
}

/** One answered LLM call as the debug stream shows it: the prompt sent and the raw reply. */
export interface LlmCallRecord {
  sessionId: string | null;
  /** The turn it served (null outside a turn, e.g. at scene entry). */
  turn: number | null;
  role: LlmRole;
  provider: string;
  system: string | null;
  messages: Array<{ role: string; content: string }>;
  /** The provider's text before any parsing (for a stream, its chunks joined). */
  reply: string;
  ms: number;
}

export interface LlmRouterOptions {
  /** Providers by name (the names the role chains use). */
  providers: Record<string, LlmProvider>;
  roles: Partial<Record<LlmRole, RoleConfig | { chain: string[]; timeoutMs?: number; maxRetries?: number }>>;
  /** Chain for roles not listed (default: scripted). */
  defaultChain?: string[];
  timeoutMs?: number;
  retry?: { maxRetries: number; baseMs: number; maxMs: number; random?: () => number };
  rateLimits?: Record<string, { capacity: number; refillPerSecond: number }>;
  usage?: UsageLedger;
  /** Persists totals (see src/persistence/llm-usage.ts); also restores spent budgets. */
  sink?: UsageSink;
  registry?: Registry;
  logger?: Logger;
  clock?: Clock;
}

/**
 * Routes each agent role to its provider chain (seed: "Configuration determines the provider per
 * agent role"). Per call: skip providers whose budget is spent, call the next one under
 * governance, validate structured output, account tokens and cost, and on failure fall back to
 * the next provider, recording each fallback in the log, the metrics and the response.
 * A stream falls back only before its first text chunk. The caller's abort never falls back.
 *
 * @example
 * const router = LlmRouter.fromConfig(loadLlmConfig(config.env), { registry, logger, sink: new LlmUsageStore(db) });
 * const reply = await router.forRole('narrator').complete({ role: 'narrator', messages, maxTokens: 400, sessionId });
 * reply.fallbacks // [] unless a provider failed
 */
export class LlmRouter {
  readonly usage: UsageLedger;
  readonly metrics: LlmMetrics | undefined;
  private readonly governed = new Map<string, GovernedProvider>();
  private readonly routes = new Map<LlmRole, RoutedProvider>();
  private readonly pending = new Set<Promise<void>>();
  private readonly restoring = new Map<string, Promise<void>>();
  private globalRestore: Promise<void> | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(private readonly options: LlmRouterOptions) {
    this.usage = options.usage ?? new UsageLedger();
    this.metrics = options.registry ? createLlmMetrics(options.registry) : undefined;
    this.logger = moduleLogger(options.logger ?? silentLogger, 'inference');
    this.clock = options.clock ?? systemClock;
    const retry = options.retry ?? { maxRetries: 2, baseMs: 500, maxMs: 8_000 };
    for (const [name, provider] of Object.entries(options.providers)) {
      const limit = options.rateLimits?.[name];
      this.governed.set(
        name,
        new GovernedProvider(provider, {
          name,
          backoff: retry,
          timeoutMs: options.timeoutMs ?? 60_000,
          clock: this.clock,
          logger: this.logger,
          ...(limit ? { limiter: new TokenBucket({ ...limit, clock: this.clock }) } : {}),
          ...(this.metrics ? { metrics: this.metrics } : {}),
        }),
      );
    }
    const known = new Set(Object.keys(options.providers));
    for (const [role, route] of Object.entries(options.roles)) {
      for (const name of route?.chain ?? []) {
        if (!known.has(name)) throw new StorytellerError('CONFIG_INVALID', `role ${role} names provider "${name}", which is not configured`, { details: { variables: ['STORYTELLER_LLM_ROLES'] } });
      }
    }
  }

  /**
   * Builds the providers a configuration needs and the router over them. The scripted provider
   * uses `script` (the STORY task's story-aware script) when given.
   */
  static fromConfig(
    config: LlmConfig,
    deps: { registry?: Registry; logger?: Logger; sink?: UsageSink; clock?: Clock; script?: (req: CompletionRequest) => string; providers?: Record<string, LlmProvider> } = {},
  ): LlmRouter {
    const providers: Record<string, LlmProvider> = { scripted: new ScriptedProvider(deps.script ? { script: deps.script } : {}) };
    if (config.anthropic) providers.anthropic = new AnthropicProvider({ apiKey: config.anthropic.apiKey, model: config.anthropic.model, ...(config.anthropic.baseUrl ? { baseURL: config.anthropic.baseUrl } : {}) });
    if (config.local) providers.local = new LlamaCppProvider({ modelPath: config.local.modelPath, threads: config.local.threads, contextSize: config.local.contextSize });
    if (config.openai) providers.openai = new OpenAICompatibleProvider({ baseUrl: config.openai.baseUrl, model: config.openai.model, ...(config.openai.apiKey ? { apiKey: config.openai.apiKey } : {}) });
    Object.assign(providers, deps.providers ?? {});
    const rateLimits: Record<string, { capacity: number; refillPerSecond: number }> = {};
    for (const [k, v] of Object.entries(config.rateLimits) as Array<[ProviderKind, { capacity: number; refillPerSecond: number }]>) rateLimits[k] = v;
    return new LlmRouter({
      providers,
      roles: config.roles,
      timeoutMs: config.timeoutMs,
      retry: config.retry,
      rateLimits,
      usage: new UsageLedger({ prices: config.prices, budgets: config.budgets }),
      ...(deps.sink ? { sink: deps.sink } : {}),
      ...(deps.registry ? { registry: deps.registry } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
  }

  readonly #callObservers = new Set<(record: LlmCallRecord) => void>();

  /** Sees every answered call's prompt and raw reply (the gateway's debug stream). Returns the unsubscribe function. */
  observeCalls(observer: (record: LlmCallRecord) => void): () => void {
    this.#callObservers.add(observer);
    return () => this.#callObservers.delete(observer);
  }

  #called(role: LlmRole, provider: string, req: CompletionRequest, reply: string, started: number): void {
    if (this.#callObservers.size === 0) return;
    const record: LlmCallRecord = {
      sessionId: req.sessionId ?? null,
      turn: req.turn ?? null,
      role,
      provider,
      system: req.system ?? null,
      messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
      reply,
      ms: Math.max(0, this.clock.now() - started),
    };
    for (const o of this.#callObservers) {
      try {
        o(record);
      } catch (error) {
        this.logger.warn({ err: error }, 'llm call observer failed');
      }
    }
  }

  /** The governed, budgeted, falling-back provider for one agent role. */
  forRole(role: LlmRole): RoutedProvider {
    let routed = this.routes.get(role);
    if (!routed) {
      const route = this.options.roles[role] ?? { chain: this.options.defaultChain ?? ['scripted'] };
      routed = this.makeRoute(role, route);
      this.routes.set(role, routed);
    }
    return routed;
  }

  /** Resolves when every usage record handed to the sink so far is persisted. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Releases a finished session's in-memory accounting (its persisted totals remain). */
  releaseSession(sessionId: string): void {
    this.usage.forget(sessionId);
  }

  /** Flushes usage and releases local models. */
  async close(): Promise<void> {
    await this.flush();
    for (const p of Object.values(this.options.providers)) {
      if (p instanceof LlamaCppProvider) await p.dispose();
    }
  }

  private makeRoute(role: LlmRole, route: { chain: string[]; timeoutMs?: number; maxRetries?: number }): RoutedProvider {
    const router = this;
    const chain = route.chain.length > 0 ? route.chain : ['scripted'];
    const overrides: CallOverrides = route.maxRetries === undefined ? {} : { maxRetries: route.maxRetries };
    const withRoleDefaults = (req: CompletionRequest): CompletionRequest =>
      route.timeoutMs !== undefined && req.timeoutMs === undefined ? { ...req, timeoutMs: route.timeoutMs } : req;
    return {
      name: `router:${role}`,
      role,
      chain,
      async complete(req) {
        return router.completeAlong(role, chain, withRoleDefaults(req), overrides);
      },
      completeStreaming(req) {
        return router.streamAlong(role, chain, withRoleDefaults(req), overrides);
      },
    };
  }

  private async completeAlong(role: LlmRole, chain: readonly string[], req: CompletionRequest, overrides: CallOverrides): Promise<RoutedCompletionResponse> {
    await this.restoreBudget(req.sessionId);
    const fallbacks: FallbackRecord[] = [];
    const failures: StorytellerError[] = [];
    for (let i = 0; i < chain.length; i++) {
      const name = chain[i]!;
      const next = chain[i + 1] ?? null;
      const started = this.clock.now();
      try {
        this.checkBudget(req.sessionId, name);
        const provider = this.governed.get(name)!;
        const response = await provider.complete(req, overrides);
        if (req.jsonSchema) parseStructuredReply(name, response.text, req.jsonSchema);
        const costUsd = this.account(role, name, req.sessionId, response.usage, started);
        this.#called(role, name, req, response.text, started);
        return { ...response, provider: name, fallbacks, costUsd };
      } catch (error) {
        const failure = this.asLlmError(error, name);
        this.metrics?.requests.inc({ provider: name, role, outcome: failure.code });
        if (!allowsFallback(failure)) throw failure;
        failures.push(failure);
        if (next !== null) fallbacks.push(this.recordFallback(role, name, next, failure, req.sessionId));
      }
    }
    throw this.exhausted(role, chain, failures);
  }

  private async *streamAlong(role: LlmRole, chain: readonly string[], req: CompletionRequest, overrides: CallOverrides): AsyncIterable<RoutedStreamChunk> {
    await this.restoreBudget(req.sessionId);
    const fallbacks: FallbackRecord[] = [];
    const failures: StorytellerError[] = [];
    for (let i = 0; i < chain.length; i++) {
      const name = chain[i]!;
      const next = chain[i + 1] ?? null;
      const started = this.clock.now();
      let emitted = false;
      const text: string[] = [];
      try {
        this.checkBudget(req.sessionId, name);
        for await (const chunk of this.governed.get(name)!.completeStreaming(req, overrides)) {
          if (chunk.type === 'text') {
            emitted = true;
            if (this.#callObservers.size > 0) text.push(chunk.text);
            yield chunk;
          } else {
            const costUsd = this.account(role, name, req.sessionId, chunk.usage, started);
            this.#called(role, name, req, text.join(''), started);
            yield { type: 'done', usage: chunk.usage, stopReason: chunk.stopReason, provider: name, fallbacks, costUsd };
            return;
          }
        }
        throw llmError('LLM_UNAVAILABLE', `${name}: stream ended without a done chunk`, { provider: name });
      } catch (error) {
        const failure = this.asLlmError(error, name);
        this.metrics?.requests.inc({ provider: name, role, outcome: failure.code });
        // Text already reached the caller: another provider cannot take over mid-sentence.
        if (emitted || !allowsFallback(failure)) throw failure;
        failures.push(failure);
        if (next !== null) fallbacks.push(this.recordFallback(role, name, next, failure, req.sessionId));
      }
    }
    throw this.exhausted(role, chain, failures);
  }

  private checkBudget(sessionId: string | undefined, provider: string): void {
    const problem = this.usage.budgetProblem(sessionId, provider);
    if (problem) {
      const spent = this.usage.spent(sessionId);
      throw llmError('LLM_BUDGET_EXCEEDED', `${provider}: ${problem} token/cost budget exhausted`, { provider, budget: problem, spent: problem === 'session' ? spent.session : spent.global });
    }
  }

  /** Records usage in memory, metrics and (asynchronously) the sink; returns the call's cost. */
  private account(role: LlmRole, provider: string, sessionId: string | undefined, usage: Usage, started: number): number {
    const record = this.usage.record({ sessionId, role, provider, usage });
    if (this.metrics) {
      this.metrics.requests.inc({ provider, role, outcome: 'ok' });
      this.metrics.tokens.inc({ provider, role, kind: 'input' }, usage.inputTokens);
      this.metrics.tokens.inc({ provider, role, kind: 'output' }, usage.outputTokens);
      this.metrics.costUsd.inc({ provider, role }, record.costUsd);
      this.metrics.latency.observe({ provider, role }, Math.max(0, this.clock.now() - started) / 1000);
    }
    if (this.options.sink) {
      const write = this.options.sink
        .add(record)
        .catch((error: unknown) => this.logger.error({ err: error, provider, role, sessionId }, 'llm usage could not be persisted'))
        .finally(() => this.pending.delete(write));
      this.pending.add(write);
    }
    return record.costUsd;
  }

  /** Loads the persisted global spend once, and a session's spend once, so budgets survive a restart. */
  private restoreBudget(sessionId: string | undefined): Promise<void> {
    const sink = this.options.sink;
    if (!sink) return Promise.resolve();
    this.globalRestore ??= (async () => {
      if (sink.globalTotals) this.usage.restore(undefined, await sink.globalTotals(this.usage.metered));
    })().catch((error: unknown) => this.logger.error({ err: error }, 'llm usage totals could not be read back'));
    if (sessionId === undefined) return this.globalRestore;
    let restoring = this.restoring.get(sessionId);
    if (!restoring) {
      restoring = (async () => {
        await this.globalRestore;
        if (sink.sessionTotals && !this.usage.hasSession(sessionId)) this.usage.restore(sessionId, await sink.sessionTotals(sessionId, this.usage.metered));
      })()
        .catch((error: unknown) => this.logger.error({ err: error, sessionId }, 'llm usage totals could not be read back'))
        .finally(() => this.restoring.delete(sessionId));
      this.restoring.set(sessionId, restoring);
    }
    return restoring;
  }

  private recordFallback(role: LlmRole, from: string, to: string, failure: StorytellerError, sessionId: string | undefined): FallbackRecord {
    const record: FallbackRecord = { role, from, to, code: failure.code, message: failure.message };
    this.metrics?.fallbacks.inc({ role, from, to, reason: failure.code });
    this.logger.warn({ role, from, to, code: failure.code, sessionId }, 'llm provider failed; falling back');
    return record;
  }

  private exhausted(role: LlmRole, chain: readonly string[], failures: StorytellerError[]): StorytellerError {
    const attempts = failures.map((f) => ({ code: f.code, message: f.message }));
    const last = failures.at(-1);
    const code = failures.length > 0 && failures.every((f) => f.code === 'LLM_BUDGET_EXCEEDED') ? 'LLM_BUDGET_EXCEEDED' : 'LLM_UNAVAILABLE';
    return new StorytellerError(code, `no provider of ${role}'s chain (${chain.join(' > ')}) could answer`, { details: { role, chain: [...chain], attempts }, cause: last });
  }

  private asLlmError(error: unknown, provider: string): StorytellerError {
    if (error instanceof StorytellerError) return error;
    return llmError('LLM_UNAVAILABLE', `${provider}: ${error instanceof Error ? error.message : String(error)}`, { provider }, error);
  }
}
