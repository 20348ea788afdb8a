import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { AnthropicProvider } from '../src/inference/llm/anthropic.ts';
import { LlmRouter } from '../src/inference/llm/router.ts';
import { ScriptedProvider } from '../src/inference/llm/scripted.ts';
import { UsageLedger } from '../src/inference/llm/usage.ts';
import { startLoopbackAnthropic } from '../test/support/loopback-anthropic.ts';

/**
 * llm_overhead_p50_ms: the per-call time of the whole provider layer — router, budget check,
 * rate limiter, governance (timeout timer, retry loop), the real @anthropic-ai/sdk, HTTP over
 * loopback, cost accounting and metrics — against a loopback Messages API that answers
 * instantly. Nothing is subtracted: it is the measured call time, so it bounds what the layer
 * adds to a real provider's latency. Run: `npm run bench:llm` (≈ 10 s).
 */
interface Detail {
  llm_overhead_p50_ms: number;
  llm_overhead_p99_ms: number;
  llm_stream_overhead_p50_ms: number;
  llm_stream_overhead_p99_ms: number;
  calls: number;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

export async function runLlmOverheadBench(calls = 400, warmup = 50): Promise<Detail> {
  const server = await startLoopbackAnthropic('The lamp is lit.');
  try {
    const router = new LlmRouter({
      providers: { anthropic: new AnthropicProvider({ apiKey: 'bench', model: 'claude-loopback', baseURL: server.url }), scripted: new ScriptedProvider() },
      roles: { narrator: { chain: ['anthropic', 'scripted'] } },
      rateLimits: { anthropic: { capacity: 1_000_000, refillPerSecond: 1_000_000 } },
      usage: new UsageLedger({ prices: { anthropic: { inputPerMTok: 3, outputPerMTok: 15 } }, budgets: { sessionTokens: 1e12, globalTokens: 1e12 } }),
      registry: new Registry(),
      timeoutMs: 30_000,
      retry: { maxRetries: 2, baseMs: 100, maxMs: 1_000 },
    });
    const narrator = router.forRole('narrator');
    const request = { role: 'narrator' as const, system: 'You narrate.', messages: [{ role: 'user' as const, content: 'Light the lamp.' }], maxTokens: 64, sessionId: 'bench' };

    const complete: number[] = [];
    for (let i = 0; i < warmup + calls; i++) {
      const t0 = performance.now();
      const r = await narrator.complete(request);
      const dt = performance.now() - t0;
      if (r.provider !== 'anthropic') throw new Error(`bench call fell back to ${r.provider}`);
      if (i >= warmup) complete.push(dt);
    }
    const stream: number[] = [];
    for (let i = 0; i < warmup + calls; i++) {
      const t0 = performance.now();
      for await (const _ of narrator.completeStreaming(request)) void _;
      if (i >= warmup) stream.push(performance.now() - t0);
    }
    complete.sort((a, b) => a - b);
    stream.sort((a, b) => a - b);
    return {
      llm_overhead_p50_ms: round(percentile(complete, 50)),
      llm_overhead_p99_ms: round(percentile(complete, 99)),
      llm_stream_overhead_p50_ms: round(percentile(stream, 50)),
      llm_stream_overhead_p99_ms: round(percentile(stream, 99)),
      calls,
    };
  } finally {
    await server.close();
  }
}

/** The number bench/inference.ts reports (issue 5). */
export async function measureLlmOverhead(): Promise<{ llm_overhead_p50_ms: number }> {
  const { llm_overhead_p50_ms } = await runLlmOverheadBench();
  return { llm_overhead_p50_ms };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const detail = await runLlmOverheadBench();
  console.table({
    'complete (p50)': { ms: detail.llm_overhead_p50_ms },
    'complete (p99)': { ms: detail.llm_overhead_p99_ms },
    'stream (p50)': { ms: detail.llm_stream_overhead_p50_ms },
    'stream (p99)': { ms: detail.llm_stream_overhead_p99_ms },
  });
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'llm-overhead.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ ...detail, node: process.version, measuredAt: new Date().toISOString() }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
