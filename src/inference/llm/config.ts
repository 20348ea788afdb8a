import { z } from 'zod';
import { StorytellerError } from '../../errors.ts';
import { LLM_ROLES, type LlmRole } from './provider.ts';
import type { Budgets, Price } from './usage.ts';

/**
 * The LLM section of the configuration, parsed from the environment (`config.env`). With no
 * variables set every role runs on `scripted` — offline and deterministic. A chain naming a
 * provider whose settings are missing (e.g. `anthropic` without ANTHROPIC_API_KEY) is a
 * CONFIG_INVALID start-up error that names the variable.
 *
 * @example
 * // STORYTELLER_LLM_ROLES='narrator=anthropic>local>scripted,*=local>scripted'
 * const llm = loadLlmConfig(config.env);
 * llm.roles.narrator.chain // ['anthropic', 'local', 'scripted']
 */
export const PROVIDER_KINDS = ['anthropic', 'local', 'openai', 'scripted'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export interface RoleConfig {
  chain: ProviderKind[];
  timeoutMs?: number;
  maxRetries?: number;
}

export interface RateLimit {
  capacity: number;
  refillPerSecond: number;
}

export interface LlmConfig {
  anthropic: { apiKey: string; baseUrl: string | undefined; model: string } | undefined;
  local: { modelPath: string; threads: number; contextSize: number } | undefined;
  openai: { baseUrl: string; model: string; apiKey: string | undefined } | undefined;
  roles: Record<LlmRole, RoleConfig>;
  /** Roles named in STORYTELLER_LLM_ROLES themselves (not only through `*`): `classifier` runs only when named. */
  namedRoles: LlmRole[];
  prices: Record<string, Price>;
  budgets: Budgets;
  timeoutMs: number;
  retry: { maxRetries: number; baseMs: number; maxMs: number };
  rateLimits: Partial<Record<ProviderKind, RateLimit>>;
}

/** USD per million tokens; anthropic at Claude Sonnet list price, the others free until configured. */
export const DEFAULT_PRICES: Record<string, Price> = { anthropic: { inputPerMTok: 3, outputPerMTok: 15 } };

const positiveInt = z.coerce.number().int().positive();
const nonNegative = z.coerce.number().nonnegative();

/** Every LLM variable (exported for the documentation check, test/unit/docker-compose.test.ts). */
export const llmEnvSchema = z.object({
  ANTHROPIC_API_KEY: z.string().trim().optional().transform((v) => (v ? v : undefined)),
  ANTHROPIC_BASE_URL: z.url().optional(),
  STORYTELLER_ANTHROPIC_MODEL: z.string().min(1).default('claude-sonnet-5-5'),
  STORYTELLER_LLM_MODEL: z.string().min(1).optional(),
  STORYTELLER_LLM_THREADS: positiveInt.default(1),
  STORYTELLER_LLM_CONTEXT_SIZE: positiveInt.default(4096),
  STORYTELLER_OPENAI_BASE_URL: z.url().optional(),
  STORYTELLER_OPENAI_MODEL: z.string().min(1).optional(),
  STORYTELLER_OPENAI_API_KEY: z.string().min(1).optional(),
  STORYTELLER_LLM_ROLES: z.string().optional(),
  STORYTELLER_LLM_PRICES: z.string().optional(),
  STORYTELLER_LLM_BUDGET_SESSION_TOKENS: positiveInt.optional(),
  STORYTELLER_LLM_BUDGET_GLOBAL_TOKENS: positiveInt.optional(),
  STORYTELLER_LLM_BUDGET_SESSION_USD: nonNegative.optional(),
  STORYTELLER_LLM_BUDGET_GLOBAL_USD: nonNegative.optional(),
  STORYTELLER_LLM_TIMEOUT_MS: positiveInt.default(60_000),
  STORYTELLER_LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  STORYTELLER_LLM_RETRY_BASE_MS: z.coerce.number().int().min(0).default(500),
  STORYTELLER_LLM_RETRY_MAX_MS: z.coerce.number().int().min(0).default(8_000),
  STORYTELLER_LLM_RATE_LIMITS: z.string().optional(),
});

function invalid(variable: string, problem: string): StorytellerError {
  return new StorytellerError('CONFIG_INVALID', `invalid configuration — ${variable}: ${problem}`, { details: { variables: [variable] } });
}

const providerKind = z.enum(PROVIDER_KINDS);
const roleEntrySchema = z.union([
  z.array(providerKind).min(1),
  z.object({ chain: z.array(providerKind).min(1), timeoutMs: z.number().int().positive().optional(), maxRetries: z.number().int().min(0).max(10).optional() }).strict(),
]);
const roleKey = z.enum(['narrator', 'character', 'storykeeper', 'world', 'reconciler', 'stage4', 'classifier', '*']);

/** `narrator=anthropic>local>scripted,*=scripted` or JSON `{"narrator":["anthropic","scripted"]}` / `{"narrator":{"chain":[…],"timeoutMs":…}}`. */
export function parseRoles(text: string | undefined): Record<LlmRole, RoleConfig> {
  const entries = parseRoleEntries(text);
  const fallback = entries.get('*') ?? { chain: ['scripted'] };
  return Object.fromEntries(LLM_ROLES.map((r) => [r, entries.get(r) ?? fallback])) as Record<LlmRole, RoleConfig>;
}

/** The roles STORYTELLER_LLM_ROLES names explicitly. */
export function namedRoles(text: string | undefined): LlmRole[] {
  return [...parseRoleEntries(text).keys()].filter((k): k is LlmRole => k !== '*');
}

function parseRoleEntries(text: string | undefined): Map<LlmRole | '*', RoleConfig> {
  const V = 'STORYTELLER_LLM_ROLES';
  const entries = new Map<LlmRole | '*', RoleConfig>();
  const trimmed = text?.trim() ?? '';
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw invalid(V, 'not valid JSON');
    }
    const parsed = z.partialRecord(roleKey, roleEntrySchema).safeParse(json);
    if (!parsed.success) throw invalid(V, parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
    for (const [role, entry] of Object.entries(parsed.data) as Array<[LlmRole | '*', z.infer<typeof roleEntrySchema>]>) {
      if (entry === undefined) continue;
      entries.set(role, Array.isArray(entry) ? { chain: entry } : entry);
    }
  } else if (trimmed !== '') {
    for (const part of trimmed.split(',').map((p) => p.trim()).filter(Boolean)) {
      const [role, chainText, ...rest] = part.split('=');
      if (rest.length > 0 || role === undefined || chainText === undefined) throw invalid(V, `"${part}" is not role=provider>provider`);
      const key = roleKey.safeParse(role.trim());
      if (!key.success) throw invalid(V, `unknown role "${role.trim()}" (roles: ${LLM_ROLES.join(', ')}, *)`);
      const chain = z.array(providerKind).min(1).safeParse(chainText.split('>').map((s) => s.trim()));
      if (!chain.success) throw invalid(V, `"${chainText}" names an unknown provider (providers: ${PROVIDER_KINDS.join(', ')})`);
      entries.set(key.data, { chain: chain.data });
    }
  }
  return entries;
}

/** `anthropic=3/15,openai=0.2/0.6` (USD per million input/output tokens) or JSON `{"anthropic":{"input":3,"output":15}}`. */
export function parsePrices(text: string | undefined): Record<string, Price> {
  const V = 'STORYTELLER_LLM_PRICES';
  const prices: Record<string, Price> = { ...DEFAULT_PRICES };
  const trimmed = text?.trim() ?? '';
  if (trimmed === '') return prices;
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw invalid(V, 'not valid JSON');
    }
    const parsed = z.record(z.string().min(1), z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() }).strict()).safeParse(json);
    if (!parsed.success) throw invalid(V, parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
    for (const [name, p] of Object.entries(parsed.data)) prices[name] = { inputPerMTok: p.input, outputPerMTok: p.output };
    return prices;
  }
  for (const part of trimmed.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([\w.-]+)=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(part);
    if (!m) throw invalid(V, `"${part}" is not provider=input/output`);
    prices[m[1]!] = { inputPerMTok: Number(m[2]), outputPerMTok: Number(m[3]) };
  }
  return prices;
}

/** `anthropic=50/min,openai=5/s` (burst = the count; refilled evenly over the unit). */
export function parseRateLimits(text: string | undefined): Partial<Record<ProviderKind, RateLimit>> {
  const V = 'STORYTELLER_LLM_RATE_LIMITS';
  const out: Partial<Record<ProviderKind, RateLimit>> = {};
  for (const part of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\w+)=(\d+)\/(s|sec|min|h)$/.exec(part);
    const kind = providerKind.safeParse(m?.[1]);
    if (!m || !kind.success || Number(m[2]) < 1) throw invalid(V, `"${part}" is not provider=N/s|min|h`);
    const perSecond = Number(m[2]) / ({ s: 1, sec: 1, min: 60, h: 3600 } as const)[m[3] as 's' | 'sec' | 'min' | 'h'];
    out[kind.data] = { capacity: Number(m[2]), refillPerSecond: perSecond };
  }
  return out;
}

/** Parses and cross-checks the LLM variables; throws CONFIG_INVALID naming the variable. */
export function loadLlmConfig(env: NodeJS.ProcessEnv): LlmConfig {
  const parsed = llmEnvSchema.safeParse(env);
  if (!parsed.success) {
    const variables = [...new Set(parsed.error.issues.map((i) => i.path.join('.')))];
    throw new StorytellerError('CONFIG_INVALID', `invalid configuration — ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, {
      details: { variables },
    });
  }
  const e = parsed.data;
  const roles = parseRoles(e.STORYTELLER_LLM_ROLES);
  const named = namedRoles(e.STORYTELLER_LLM_ROLES);
  // The classifier's chain counts only when it is named (through `*` alone it never runs).
  const used = new Set(Object.entries(roles).flatMap(([role, r]) => (role === 'classifier' && !named.includes('classifier') ? [] : r.chain)));
  if (used.has('anthropic') && !e.ANTHROPIC_API_KEY) throw invalid('ANTHROPIC_API_KEY', 'required when a role uses the anthropic provider');
  if (used.has('local') && !e.STORYTELLER_LLM_MODEL) throw invalid('STORYTELLER_LLM_MODEL', 'a GGUF path is required when a role uses the local provider');
  if (used.has('openai') && !e.STORYTELLER_OPENAI_BASE_URL) throw invalid('STORYTELLER_OPENAI_BASE_URL', 'required when a role uses the openai provider');
  if (used.has('openai') && !e.STORYTELLER_OPENAI_MODEL) throw invalid('STORYTELLER_OPENAI_MODEL', 'required when a role uses the openai provider');
  if (e.STORYTELLER_LLM_RETRY_MAX_MS < e.STORYTELLER_LLM_RETRY_BASE_MS) throw invalid('STORYTELLER_LLM_RETRY_MAX_MS', 'must be ≥ STORYTELLER_LLM_RETRY_BASE_MS');
  const budgets: Budgets = {};
  if (e.STORYTELLER_LLM_BUDGET_SESSION_TOKENS !== undefined) budgets.sessionTokens = e.STORYTELLER_LLM_BUDGET_SESSION_TOKENS;
  if (e.STORYTELLER_LLM_BUDGET_GLOBAL_TOKENS !== undefined) budgets.globalTokens = e.STORYTELLER_LLM_BUDGET_GLOBAL_TOKENS;
  if (e.STORYTELLER_LLM_BUDGET_SESSION_USD !== undefined) budgets.sessionUsd = e.STORYTELLER_LLM_BUDGET_SESSION_USD;
  if (e.STORYTELLER_LLM_BUDGET_GLOBAL_USD !== undefined) budgets.globalUsd = e.STORYTELLER_LLM_BUDGET_GLOBAL_USD;
  return {
    anthropic: e.ANTHROPIC_API_KEY ? { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL, model: e.STORYTELLER_ANTHROPIC_MODEL } : undefined,
    local: e.STORYTELLER_LLM_MODEL ? { modelPath: e.STORYTELLER_LLM_MODEL, threads: e.STORYTELLER_LLM_THREADS, contextSize: e.STORYTELLER_LLM_CONTEXT_SIZE } : undefined,
    openai:
      e.STORYTELLER_OPENAI_BASE_URL && e.STORYTELLER_OPENAI_MODEL
        ? { baseUrl: e.STORYTELLER_OPENAI_BASE_URL, model: e.STORYTELLER_OPENAI_MODEL, apiKey: e.STORYTELLER_OPENAI_API_KEY }
        : undefined,
    roles,
    namedRoles: named,
    prices: parsePrices(e.STORYTELLER_LLM_PRICES),
    budgets,
    timeoutMs: e.STORYTELLER_LLM_TIMEOUT_MS,
    retry: { maxRetries: e.STORYTELLER_LLM_MAX_RETRIES, baseMs: e.STORYTELLER_LLM_RETRY_BASE_MS, maxMs: e.STORYTELLER_LLM_RETRY_MAX_MS },
    rateLimits: parseRateLimits(e.STORYTELLER_LLM_RATE_LIMITS),
  };
}
