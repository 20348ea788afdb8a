import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { isStorytellerError } from '../../errors.ts';
import { FEATURE_DIM, OUTPUT_DIM } from './character-schema.ts';
import { FRAME_INPUT_NAME, FRAME_OUTPUTS } from './contract.ts';
import { loadOnnxRuntime, openFrameSession } from './frame-model-loader.ts';
import { toWorkerSchema, workerInitSchema, type FromWorker } from './worker-protocol.ts';

/**
 * The frame worker: owns the onnxruntime InferenceSession so inference never runs on the
 * engine's event loop (the seed's spawn_blocking). One batch at a time: run the model,
 * concatenate the four heads per row into one [batch, 42] buffer and transfer it back.
 * Decoding happens on the main thread (cheap; it needs the character's names).
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
    session = await openFrameSession({ modelPath: init.modelPath, source: init.source }, { intraOpNumThreads: init.intraOpNumThreads });
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
      if (msg.features.length !== msg.batch * FEATURE_DIM) throw new Error('batch size does not match the features');
      const out = await session.run({ [FRAME_INPUT_NAME]: new ort.Tensor('float32', msg.features, [msg.batch, FEATURE_DIM]) });
      const outputs = new Float32Array(msg.batch * OUTPUT_DIM);
      for (const head of FRAME_OUTPUTS) {
        const data = out[head.name]!.data as Float32Array;
        for (let r = 0; r < msg.batch; r++) outputs.set(data.subarray(r * head.size, (r + 1) * head.size), r * OUTPUT_DIM + head.offset);
      }
      // Hand the feature buffer back (transferred) so the main thread reuses it for the next batch.
      const features = msg.features.buffer as ArrayBuffer;
      post({ type: 'result', id: msg.id, outputs, computeMs: performance.now() - started, features }, [outputs.buffer, features]);
    } catch (error) {
      postError(error, msg.id);
    }
  });
}

main().catch((error: unknown) => postError(error));
