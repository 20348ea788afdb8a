import type { LlmRole, Usage } from './provider.ts';

/**
 * Cost accounting and budgets. Prices are USD per million tokens per provider (config
 * `STORYTELLER_LLM_PRICES`). Totals are kept per session × role × provider in memory and
 * handed to an optional `UsageSink` (the database, `src/persistence/llm-usage.ts`) after every call.
 * Budgets count only *metered* providers (those with a non-zero price, by default anthropic and
 * openai), so the free local and scripted links of a chain stay usable when a budget is spent.
 *
 * @example
 * const ledger = new UsageLedger({ prices: { anthropic: { inputPerMTok: 3, outputPerMTok: 15 } }, budgets: { sessionTokens: 50_000 } });
 * ledger.record({ sessionId: 's1', role: 'narrator', provider: 'anthropic', usage: { inputTokens: 900, outputTokens: 120 } });
 * ledger.budgetProblem('s1', 'anthropic') // undefined until 50k tokens are spent
 */
export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
}

export interface Budgets {
  sessionTokens?: number;
  globalTokens?: number;
  sessionUsd?: number;
  globalUsd?: number;
}

export interface UsageDelta {
  sessionId: string | undefined;
  role: LlmRole;
  provider: string;
  usage: Usage;
}

export interface UsageRecord {
  sessionId: string;
  role: LlmRole;
  provider: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  calls: number;
}

/** Where usage totals go (the DB upsert). Called once per successful call. */
export interface UsageSink {
  add(record: UsageRecord): Promise<void>;
  /** Persisted totals for one session, to restore its budget after a restart. */
  sessionTotals?(sessionId: string, providers: readonly string[]): Promise<{ tokens: number; costUsd: number }>;
  globalTotals?(providers: readonly string[]): Promise<{ tokens: number; costUsd: number }>;
}

/** Calls without a session id are accounted under this id (global budget only). */
export const NO_SESSION = '-';

interface Total {
  tokens: number;
  costUsd: number;
}

export class UsageLedger {
  private readonly sessions = new Map<string, Total>();
  private readonly byKey = new Map<string, UsageRecord>();
  private global: Total = { tokens: 0, costUsd: 0 };
  private readonly prices: Record<string, Price>;
  private readonly budgets: Budgets;
  private readonly meteredProviders: Set<string>;

  constructor(options: { prices?: Record<string, Price>; budgets?: Budgets; metered?: readonly string[] } = {}) {
    this.prices = options.prices ?? {};
    this.budgets = options.budgets ?? {};
    this.meteredProviders = new Set(options.metered ?? Object.entries(this.prices).filter(([, p]) => p.inputPerMTok > 0 || p.outputPerMTok > 0).map(([n]) => n));
  }

  get metered(): string[] {
    return [...this.meteredProviders];
  }

  isMetered(provider: string): boolean {
    return this.meteredProviders.has(provider);
  }

  costOf(provider: string, usage: Usage): number {
    const p = this.prices[provider];
    if (!p) return 0;
    return (usage.inputTokens * p.inputPerMTok + usage.outputTokens * p.outputPerMTok) / 1_000_000;
  }

  /** Seeds totals read back from storage (a restarted engine keeps its spent budget). */
  restore(sessionId: string | undefined, total: Total): void {
    if (sessionId === undefined) this.global = { ...total };
    else this.sessions.set(sessionId, { ...total });
  }

  hasSession(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Adds one call's usage; returns the record to persist and its cost. */
  record(delta: UsageDelta): UsageRecord {
    const sessionId = delta.sessionId ?? NO_SESSION;
    const costUsd = this.costOf(delta.provider, delta.usage);
    const tokens = delta.usage.inputTokens + delta.usage.outputTokens;
    if (this.isMetered(delta.provider)) {
      const s = this.sessions.get(sessionId) ?? { tokens: 0, costUsd: 0 };
      s.tokens += tokens;
      s.costUsd += costUsd;
      this.sessions.set(sessionId, s);
      this.global.tokens += tokens;
      this.global.costUsd += costUsd;
    }
    const key = `${sessionId}\u0000${delta.role}\u0000${delta.provider}`;
    const total = this.byKey.get(key) ?? { sessionId, role: delta.role, provider: delta.provider, inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0 };
    total.inputTokens += delta.usage.inputTokens;
    total.outputTokens += delta.usage.outputTokens;
    total.costUsd += costUsd;
    total.calls += 1;
    this.byKey.set(key, total);
    return { sessionId, role: delta.role, provider: delta.provider, inputTokens: delta.usage.inputTokens, outputTokens: delta.usage.outputTokens, costUsd, calls: 1 };
  }

  /** Drops a finished session's in-memory totals (persisted totals stay; a later call restores them). */
  forget(sessionId: string): void {
    this.sessions.delete(sessionId);
    for (const [key, record] of this.byKey) if (record.sessionId === sessionId) this.byKey.delete(key);
  }

  /** In-memory totals since start (or restore), per session × role × provider. */
  totals(sessionId?: string): UsageRecord[] {
    return [...this.byKey.values()].filter((r) => sessionId === undefined || r.sessionId === sessionId).map((r) => ({ ...r }));
  }

  /** Metered spend of a session and of the whole process. */
  spent(sessionId?: string): { session: Total; global: Total } {
    const s = this.sessions.get(sessionId ?? NO_SESSION) ?? { tokens: 0, costUsd: 0 };
    return { session: { ...s }, global: { ...this.global } };
  }

  /** Which budget stops a call to `provider` for this session, or undefined when it may go. */
  budgetProblem(sessionId: string | undefined, provider: string): 'session' | 'global' | undefined {
    if (!this.isMetered(provider)) return undefined;
    const { session, global } = this.spent(sessionId);
    const b = this.budgets;
    if (sessionId !== undefined) {
      if (b.sessionTokens !== undefined && session.tokens >= b.sessionTokens) return 'session';
      if (b.sessionUsd !== undefined && session.costUsd >= b.sessionUsd) return 'session';
    }
    if (b.globalTokens !== undefined && global.tokens >= b.globalTokens) return 'global';
    if (b.globalUsd !== undefined && global.costUsd >= b.globalUsd) return 'global';
    return undefined;
  }
}
