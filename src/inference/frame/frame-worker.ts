import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { isStorytellerError } from '../../errors.ts';
import { FRAME_INPUT_NAME, FRAME_OUTPUTS } from './contract.ts';
import { decodeFrame } from './decode.ts';
import { FEATURE_DIM } from './features.ts';
import { loadOnnxRuntime, openFrameSession } from './frame-model-loader.ts';
import { toWorkerSchema, workerInitSchema, type FromWorker } from './worker-protocol.ts';

/**
 * The frame worker: owns the onnxruntime InferenceSession so inference never runs on the
 * engine's event loop (the seed's spawn_blocking). One batch at a time: run the model,
 * decode every row into its frame text, post logits + texts back (buffers transferred).
 */

const port = parentPort;
if (!port) throw new Error('frame-worker.ts must run in a worker thread');

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function postError(error: unknown, id?: number): void {
  const base = { type: 'error' as const, ...(id === undefined ? {} : { id }) };
  if (isStorytellerError(error)) post({ ...base, code: error.code, message: error.message, ...(error.details ? { details: { ...error.details } } : {}) });
  else post({ ...base, code: 'FRAME_MODEL_INVALID', message: error instanceof Error ? error.message : String(error) });
}

async function main(): Promise<void> {
  const init = workerInitSchema.parse(workerData);
  const ort = await loadOnnxRuntime();
  let session: InferenceSession;
  try {
    session = await openFrameSession({ modelPath: init.modelPath, manifest: null, sha256: init.sha256, source: init.source }, { intraOpNumThreads: init.intraOpNumThreads });
  } catch (error) {
    postError(error);
    return;
  }
  post({
    type: 'ready',
    inputs: session.inputMetadata.map((m) => ({ ...m, shape: m.isTensor ? [...m.shape] : undefined })),
    outputs: session.outputMetadata.map((m) => ({ ...m, shape: m.isTensor ? [...m.shape] : undefined })),
  });

  port!.on('message', async (raw: unknown) => {
    const parsed = toWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      postError(new Error(`frame worker got a malformed message: ${parsed.error.message}`));
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'close') {
      await session.release();
      port!.close();
      return;
    }
    const started = performance.now();
    try {
      if (msg.features.length !== msg.batch * FEATURE_DIM || msg.contexts.length !== msg.batch) throw new Error('batch size does not match features/contexts');
      const out = await session.run({ [FRAME_INPUT_NAME]: new ort.Tensor('float32', msg.features, [msg.batch, FEATURE_DIM]) });
      // Copy out of onnxruntime's buffers so they can be transferred.
      const heads = Object.fromEntries(FRAME_OUTPUTS.map((o) => [o.name, Float32Array.from(out[o.name]!.data as Float32Array)])) as Record<(typeof FRAME_OUTPUTS)[number]['name'], Float32Array<ArrayBuffer>>;
      const texts: string[] = [];
      const tokenCounts: number[] = [];
      for (let r = 0; r < msg.batch; r++) {
        const row = (name: keyof typeof heads, size: number) => heads[name].subarray(r * size, (r + 1) * size);
        const decoded = decodeFrame({ action: row('action', 14), speech: row('speech', 6), thought: row('thought', 6), emotion: row('emotion', 16) }, msg.contexts[r]!);
        texts.push(decoded.text);
        tokenCounts.push(decoded.tokenCount);
      }
      post(
        { type: 'result', id: msg.id, ...heads, texts, tokenCounts, computeMs: performance.now() - started },
        [heads.action.buffer, heads.speech.buffer, heads.thought.buffer, heads.emotion.buffer],
      );
    } catch (error) {
      postError(error, msg.id);
    }
  });
}

main().catch((error: unknown) => postError(error));
