import { z } from 'zod';
import { StorytellerError } from '../errors.ts';
import type { UsageRecord, UsageSink } from '../inference/llm/usage.ts';
import type { Queryable } from './database.ts';

/**
 * LLM cost totals in `llm_usage` (migration 0003): one row per session × role × provider,
 * incremented by an upsert per call. Implements the router's `UsageSink`, so a restarted engine
 * reads back what a session (and the whole deployment) already spent before enforcing budgets.
 *
 * @example
 * const store = new LlmUsageStore(db);
 * const router = LlmRouter.fromConfig(llmConfig, { sink: store });
 * await store.totalsForSession('s1'); // [{ role: 'narrator', provider: 'anthropic', inputTokens: …, costUsd: … }]
 */
const rowSchema = z.object({
  session_id: z.string(),
  role: z.enum(['narrator', 'character', 'storykeeper', 'world', 'reconciler', 'stage4']),
  provider: z.string(),
  input_tokens: z.coerce.number().int().nonnegative(),
  output_tokens: z.coerce.number().int().nonnegative(),
  cost_usd: z.coerce.number().nonnegative(),
  calls: z.coerce.number().int().nonnegative(),
});

const sumSchema = z.object({ tokens: z.coerce.number().nonnegative(), cost_usd: z.coerce.number().nonnegative() });

function parseRows(rows: unknown[]): UsageRecord[] {
  return rows.map((row) => {
    const parsed = rowSchema.safeParse(row);
    if (!parsed.success) throw new StorytellerError('STORED_DATA_INVALID', `llm_usage row fails its schema: ${parsed.error.message}`);
    const r = parsed.data;
    return { sessionId: r.session_id, role: r.role, provider: r.provider, inputTokens: r.input_tokens, outputTokens: r.output_tokens, costUsd: r.cost_usd, calls: r.calls };
  });
}

export class LlmUsageStore implements UsageSink {
  constructor(private readonly db: Queryable) {}

  /** Adds one call's usage to its (session, role, provider) totals. */
  async add(record: UsageRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO llm_usage (session_id, role, provider, input_tokens, output_tokens, cost_usd, calls)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (session_id, role, provider) DO UPDATE SET
         input_tokens = llm_usage.input_tokens + EXCLUDED.input_tokens,
         output_tokens = llm_usage.output_tokens + EXCLUDED.output_tokens,
         cost_usd = llm_usage.cost_usd + EXCLUDED.cost_usd,
         calls = llm_usage.calls + EXCLUDED.calls,
         updated_at = NOW()`,
      [record.sessionId, record.role, record.provider, record.inputTokens, record.outputTokens, record.costUsd.toFixed(6), record.calls],
    );
  }

  async totalsForSession(sessionId: string): Promise<UsageRecord[]> {
    const { rows } = await this.db.query(
      `SELECT session_id, role, provider, input_tokens, output_tokens, cost_usd, calls FROM llm_usage WHERE session_id = $1 ORDER BY role, provider`,
      [sessionId],
    );
    return parseRows(rows);
  }

  async allTotals(): Promise<UsageRecord[]> {
    const { rows } = await this.db.query(`SELECT session_id, role, provider, input_tokens, output_tokens, cost_usd, calls FROM llm_usage ORDER BY session_id, role, provider`);
    return parseRows(rows);
  }

  async sessionTotals(sessionId: string, providers: readonly string[]): Promise<{ tokens: number; costUsd: number }> {
    return this.sum(`WHERE session_id = $1 AND provider = ANY($2::text[])`, [sessionId, [...providers]]);
  }

  async globalTotals(providers: readonly string[]): Promise<{ tokens: number; costUsd: number }> {
    return this.sum(`WHERE provider = ANY($1::text[])`, [[...providers]]);
  }

  private async sum(where: string, params: unknown[]): Promise<{ tokens: number; costUsd: number }> {
    const { rows } = await this.db.query(`SELECT COALESCE(SUM(input_tokens + output_tokens), 0) AS tokens, COALESCE(SUM(cost_usd), 0) AS cost_usd FROM llm_usage ${where}`, params);
    const parsed = sumSchema.safeParse(rows[0]);
    if (!parsed.success) throw new StorytellerError('STORED_DATA_INVALID', `llm_usage totals fail their schema: ${parsed.error.message}`);
    return { tokens: parsed.data.tokens, costUsd: parsed.data.cost_usd };
  }
}
