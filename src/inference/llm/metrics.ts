import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Prometheus metrics of the LLM layer, registered on the registry the caller passes (the
 * engine's `/metrics` registry). Registering twice on one registry reuses the existing metrics.
 *
 * storyteller_llm_requests_total{provider,role,outcome}   outcome: ok | <error code>
 * storyteller_llm_tokens_total{provider,role,kind}        kind: input | output
 * storyteller_llm_cost_usd_total{provider,role}
 * storyteller_llm_retries_total{provider,code}
 * storyteller_llm_fallbacks_total{role,from,to,reason}
 * storyteller_llm_latency_seconds{provider,role}          whole call incl. streaming
 */
export interface LlmMetrics {
  requests: Counter<'provider' | 'role' | 'outcome'>;
  tokens: Counter<'provider' | 'role' | 'kind'>;
  costUsd: Counter<'provider' | 'role'>;
  retries: Counter<'provider' | 'code'>;
  fallbacks: Counter<'role' | 'from' | 'to' | 'reason'>;
  latency: Histogram<'provider' | 'role'>;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function createLlmMetrics(registry: Registry): LlmMetrics {
  const latencyName = 'storyteller_llm_latency_seconds';
  const latency =
    (registry.getSingleMetric(latencyName) as Histogram<'provider' | 'role'> | undefined) ??
    new Histogram({
      name: latencyName,
      help: 'LLM call latency (seconds), including streaming',
      labelNames: ['provider', 'role'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    });
  return {
    requests: counter(registry, 'storyteller_llm_requests_total', 'LLM calls by outcome', ['provider', 'role', 'outcome']),
    tokens: counter(registry, 'storyteller_llm_tokens_total', 'LLM tokens used', ['provider', 'role', 'kind']),
    costUsd: counter(registry, 'storyteller_llm_cost_usd_total', 'LLM cost in USD (price table from config)', ['provider', 'role']),
    retries: counter(registry, 'storyteller_llm_retries_total', 'LLM calls retried on the same provider', ['provider', 'code']),
    fallbacks: counter(registry, 'storyteller_llm_fallbacks_total', 'LLM calls that fell back to the next provider of the chain', ['role', 'from', 'to', 'reason']),
    latency,
  };
}
