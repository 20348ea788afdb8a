/**
 * Inference benchmark: the frame model through its worker thread, and the LLM provider
 * layer's own overhead. Loopback only; bounded (~1 min). Writes bench/results/inference.json.
 *
 *   npm run bench:inference
 *
 * Fields:
 *   frame_batch50_p50_ms / _p99_ms    computeFrames(50 characters): encode, post to the worker,
 *                                     session.run, decode 50 frame texts, post back (target p99 ≤ 5 ms)
 *   frame_single_p50_ms / _p99_ms     computeFrames(1 character), same path (target p99 ≤ 1 ms)
 *   frame_coalesced50_p99_ms          50 single-character requests issued together (50 sessions'
 *                                     turns): time until all 50 resolve; frame_coalesced50_batches
 *                                     says how many batches they took
 *   frame_worker_compute50_mean_ms    the worker's own time for a batch of 50 (session.run + decode)
 *   main_thread_busy_per_batch50_ms   event-loop busy time per batch of 50 (performance.eventLoopUtilization):
 *                                     what the frame path costs the loop itself
 *   event_loop_max_delay_ms           perf_hooks.monitorEventLoopDelay (1 ms resolution) max while
 *                                     the batch-of-50 loop runs; _p99_ms beside it; the same two
 *                                     over 2 s of idle loop as a control (event_loop_idle_*)
 *   inthread_*                        control: the same batches of 50 on the main thread (no worker),
 *                                     latency and event-loop delay — what the worker keeps off the loop
 *   llm_overhead_p50_ms               from bench/llm-overhead.ts (LLM task): the provider layer over
 *                                     a loopback server that answers instantly
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { FRAME_INPUT_NAME, FRAME_OUTPUTS } from '../src/inference/frame/contract.ts';
import { decodeContextOf, decodeFrame } from '../src/inference/frame/decode.ts';
import { encodeBatch, FEATURE_DIM, type FrameInput } from '../src/inference/frame/features.ts';
import { loadOnnxRuntime, openFrameSession } from '../src/inference/frame/frame-model-loader.ts';
import { OnnxFrameComputer } from '../src/inference/frame/onnx-frame-computer.ts';
import { createRng } from '../src/inference/frame/prng.ts';
import { allCells, sampleInput } from '../src/inference/frame/training-data.ts';

const MODEL = process.env.STORYTELLER_FRAME_MODEL ?? 'models/frame/current';
const WARMUP = 300;
const BATCH_RUNS = 1_000;
const SINGLE_RUNS = 3_000;
const COALESCED_RUNS = 300;
const TARGETS = { frame_batch50_p99_ms: 5, frame_single_p99_ms: 1 };

const rng = createRng(424242);
const cells = allCells();
const casts: FrameInput[][] = Array.from({ length: 16 }, (_, c) => Array.from({ length: 50 }, (_, i) => sampleInput(rng, cells[rng.int(cells.length)]!, `s${c}-c${i}`)));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const round = (v: number): number => Math.round(v * 1000) / 1000;

async function timeRuns(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

const load = loadavg()[0]!;
console.log(`bench:inference — model ${MODEL}, ${cpus().length} CPUs, load average ${load.toFixed(2)}`);
const computer = await OnnxFrameComputer.start({ modelPath: MODEL });

// Warm up both paths (JIT in both threads, onnxruntime's first runs).
await timeRuns(WARMUP, (i) => computer.computeFrames(casts[i % casts.length]!));
await timeRuns(WARMUP, (i) => computer.computeFrames([casts[i % casts.length]![i % 50]!]));

// Control: the same monitor over an idle loop (nothing running) for 2 s. On a loaded
// machine the idle loop shows delays too; the difference is what the frame path adds.
const idle = monitorEventLoopDelay({ resolution: 1 });
idle.enable();
await new Promise<void>((resolve) => setTimeout(resolve, 2_000));
idle.disable();

const before = { ...computer.stats };
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
const eluBefore = performance.eventLoopUtilization();
const batch50 = await timeRuns(BATCH_RUNS, async (i) => {
  const frames = await computer.computeFrames(casts[i % casts.length]!);
  if (frames.length !== 50) throw new Error('short batch');
});
histogram.disable();
const elu = performance.eventLoopUtilization(eluBefore);
const workerMsPerBatch50 = (computer.stats.workerMs - before.workerMs) / (computer.stats.batches - before.batches);
const single = await timeRuns(SINGLE_RUNS, (i) => computer.computeFrames([casts[i % casts.length]![i % 50]!]));

const batchesBefore = computer.stats.batches;
const coalesced = await timeRuns(COALESCED_RUNS, (i) => Promise.all(casts[i % casts.length]!.map((input) => computer.computeFrames([input]))));
const coalescedBatches = (computer.stats.batches - batchesBefore) / COALESCED_RUNS;

await computer.close();

// Control: the same batches of 50 run on the main thread (session.run is a synchronous
// native call under its promise, decode is synchronous): what the worker keeps off the loop.
const ort = await loadOnnxRuntime();
const inThreadSession = await openFrameSession(computer.model);
const inThread = async (inputs: FrameInput[]): Promise<void> => {
  const out = await inThreadSession.run({ [FRAME_INPUT_NAME]: new ort.Tensor('float32', encodeBatch(inputs), [inputs.length, FEATURE_DIM]) });
  const heads = Object.fromEntries(FRAME_OUTPUTS.map((o) => [o.name, out[o.name]!.data as Float32Array])) as Record<(typeof FRAME_OUTPUTS)[number]['name'], Float32Array>;
  inputs.forEach((input, r) => {
    decodeFrame(
      {
        action: heads.action.subarray(r * 14, r * 14 + 14),
        speech: heads.speech.subarray(r * 6, r * 6 + 6),
        thought: heads.thought.subarray(r * 6, r * 6 + 6),
        emotion: heads.emotion.subarray(r * 16, r * 16 + 16),
      },
      decodeContextOf(input),
    );
  });
};
await timeRuns(WARMUP, (i) => inThread(casts[i % casts.length]!));
const inThreadLoop = monitorEventLoopDelay({ resolution: 1 });
inThreadLoop.enable();
const inThreadEluBefore = performance.eventLoopUtilization();
const inThreadBatch50 = await timeRuns(BATCH_RUNS, (i) => inThread(casts[i % casts.length]!));
const inThreadElu = performance.eventLoopUtilization(inThreadEluBefore);
inThreadLoop.disable();
await inThreadSession.release();

let llm: { llm_overhead_p50_ms: number } | { llm_overhead_p50_ms: null; llm_note: string };
const llmBench = new URL('./llm-overhead.ts', import.meta.url);
if (existsSync(llmBench)) {
  // Guarded: the LLM task owns this file; if it fails, the frame numbers still get written.
  try {
    const mod = (await import(pathToFileURL(llmBench.pathname).href)) as { measureLlmOverhead?: () => Promise<{ llm_overhead_p50_ms: number }> };
    llm = mod.measureLlmOverhead ? await mod.measureLlmOverhead() : { llm_overhead_p50_ms: null, llm_note: 'bench/llm-overhead.ts has no measureLlmOverhead export' };
  } catch (error) {
    llm = { llm_overhead_p50_ms: null, llm_note: `measureLlmOverhead failed: ${(error as Error).message}` };
  }
} else {
  llm = { llm_overhead_p50_ms: null, llm_note: 'bench/llm-overhead.ts not present' };
}

const result = {
  frame_batch50_p50_ms: round(percentile(batch50, 50)),
  frame_batch50_p99_ms: round(percentile(batch50, 99)),
  frame_single_p50_ms: round(percentile(single, 50)),
  frame_single_p99_ms: round(percentile(single, 99)),
  frame_coalesced50_p50_ms: round(percentile(coalesced, 50)),
  frame_coalesced50_p99_ms: round(percentile(coalesced, 99)),
  frame_coalesced50_batches: round(coalescedBatches),
  frame_worker_compute50_mean_ms: round(workerMsPerBatch50),
  main_thread_busy_per_batch50_ms: round(elu.active / BATCH_RUNS),
  event_loop_max_delay_ms: round(histogram.max / 1e6),
  event_loop_p99_delay_ms: round(histogram.percentile(99) / 1e6),
  inthread_batch50_p50_ms: round(percentile(inThreadBatch50, 50)),
  inthread_batch50_p99_ms: round(percentile(inThreadBatch50, 99)),
  inthread_main_thread_busy_per_batch50_ms: round(inThreadElu.active / BATCH_RUNS),
  inthread_event_loop_max_delay_ms: round(inThreadLoop.max / 1e6),
  inthread_event_loop_p99_delay_ms: round(inThreadLoop.percentile(99) / 1e6),
  event_loop_idle_max_delay_ms: round(idle.max / 1e6),
  event_loop_idle_p99_delay_ms: round(idle.percentile(99) / 1e6),
  ...llm,
  targets: TARGETS,
  runs: { batch50: BATCH_RUNS, single: SINGLE_RUNS, coalesced50: COALESCED_RUNS, warmup: WARMUP },
  model: { source: computer.model.source, version: computer.model.manifest?.version ?? null, sha256: computer.model.sha256 },
  machine: { cpus: cpus().length, loadavg1_at_start: round(load), node: process.version },
  measuredAt: new Date().toISOString(),
};

await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/inference.json', `${JSON.stringify(result, null, 2)}\n`);

const rows: Array<[string, number | null, string]> = [
  ['frame batch of 50, p50 (ms)', result.frame_batch50_p50_ms, ''],
  ['frame batch of 50, p99 (ms)', result.frame_batch50_p99_ms, `≤ ${TARGETS.frame_batch50_p99_ms}`],
  ['frame single, p50 (ms)', result.frame_single_p50_ms, ''],
  ['frame single, p99 (ms)', result.frame_single_p99_ms, `≤ ${TARGETS.frame_single_p99_ms}`],
  ['50 concurrent singles, p50 (ms)', result.frame_coalesced50_p50_ms, ''],
  ['50 concurrent singles, p99 (ms)', result.frame_coalesced50_p99_ms, ''],
  ['  batches per 50 concurrent singles', result.frame_coalesced50_batches, ''],
  ['  of which in the worker, mean (ms)', result.frame_worker_compute50_mean_ms, ''],
  ['  main-thread busy per batch (ms, ELU)', result.main_thread_busy_per_batch50_ms, ''],
  ['event loop max delay during batches (ms)', result.event_loop_max_delay_ms, ''],
  ['event loop p99 delay during batches (ms)', result.event_loop_p99_delay_ms, ''],
  ['event loop max delay, idle control (ms)', result.event_loop_idle_max_delay_ms, ''],
  ['event loop p99 delay, idle control (ms)', result.event_loop_idle_p99_delay_ms, ''],
  ['control: in-thread batch of 50, p50 (ms)', result.inthread_batch50_p50_ms, ''],
  ['control: in-thread batch of 50, p99 (ms)', result.inthread_batch50_p99_ms, ''],
  ['control: in-thread main-thread busy (ms)', result.inthread_main_thread_busy_per_batch50_ms, ''],
  ['control: in-thread event loop max (ms)', result.inthread_event_loop_max_delay_ms, ''],
  ['control: in-thread event loop p99 (ms)', result.inthread_event_loop_p99_delay_ms, ''],
  ['LLM provider overhead, p50 (ms)', result.llm_overhead_p50_ms, ''],
];
console.log('\nmetric                                      value     target');
for (const [name, value, target] of rows) {
  const limit = target ? Number(target.replace(/[^\d.]/g, '')) : null;
  const verdict = limit === null || value === null ? '' : value <= limit ? '  ok' : '  MISSED';
  console.log(`${name.padEnd(42)} ${String(value ?? 'n/a').padStart(8)}   ${target.padEnd(6)}${verdict}`);
}
if ('llm_note' in llm) console.log(`\nnote: ${llm.llm_note}`);
console.log('\nwrote bench/results/inference.json');
