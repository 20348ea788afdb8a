import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Counter, Histogram, type Registry } from 'prom-client';
import { StorytellerError, ERROR_CODES, type ErrorCode } from '../../errors.ts';
import { moduleLogger, silentLogger, type Logger } from '../../logger.ts';
import { assertFrameContract } from './contract.ts';
import { FEATURE_DIM, FRAME_SCHEMA_NAME, OUTPUT_DIM, type CharacterPrediction } from './character-schema.ts';
import { decodePrediction } from './decoder.ts';
import { encodeCharacterFeatures } from './encoder.ts';
import type { CharacterFrame, FrameComputer, FrameInput } from './features.ts';
import { frameText } from './frame-text.ts';
import { resolveFrameModel, type ResolvedFrameModel } from './frame-model-loader.ts';
import { fromWorkerSchema, type FromWorker, type WorkerInit } from './worker-protocol.ts';

/**
 * The production FrameComputer: a worker thread owns the ONNX session; this class, on
 * the event loop, encodes features, coalesces requests and decodes the returned outputs
 * (only Float32Array buffers cross the thread boundary, transferred). Every request that
 * arrives before the next flush (one `setImmediate` tick), or while a batch is running,
 * joins the next batch, so scene entries and turns from many sessions share one
 * `session.run`. One batch is in flight at a time.
 */

export interface OnnxFrameComputerOptions {
  /** A model directory, an `.onnx` file or a pointer file (STORYTELLER_FRAME_MODEL). */
  modelPath: string;
  /** STORYTELLER_FRAME_SCHEMA: the schema of a bare `.onnx` without a manifest. */
  declaredSchema?: string | null;
  /** Most rows in one batch; a single request larger than this still goes alone. Default 256. */
  maxBatch?: number;
  /** onnxruntime intra-op threads inside the worker. Default 1. */
  intraOpNumThreads?: number;
  logger?: Logger;
  /** How many times a dead worker is replaced before the computer gives up. Default 3. */
  maxRestarts?: number;
  /** Registers frame metrics here when given. */
  registry?: Registry;
}

interface PendingRequest {
  inputs: FrameInput[];
  resolve: (frames: CharacterFrame[]) => void;
  reject: (error: unknown) => void;
}

interface Metrics {
  batchRows: Histogram;
  batchSeconds: Histogram;
  requests: Counter;
}

/** Counters tests and the bench read to see coalescing happen. */
export interface FrameComputerStats {
  batches: number;
  rows: number;
  requests: number;
  maxBatchRows: number;
  /** Workers started again after one died. */
  restarts: number;
  /** Sum of the worker's own time per batch (session.run + decode), ms. */
  workerMs: number;
}

/**
 * Starts the worker. Compiled JS runs `frame-worker.js` directly; from TypeScript sources
 * (tsx, vitest) a small .mjs bootstrap registers tsx inside the worker first, because a
 * worker thread does not inherit its parent's module loader.
 */
function spawnWorker(init: WorkerInit): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const entry = ext === '.ts' ? './frame-worker-bootstrap.mjs' : `./frame-worker${ext}`;
  return new Worker(new URL(entry, import.meta.url), { workerData: init, name: 'frame-model' });
}

function errorFromWorker(msg: Extract<FromWorker, { type: 'error' }>): StorytellerError {
  const code = (msg.code in ERROR_CODES ? msg.code : 'FRAME_MODEL_INVALID') as ErrorCode;
  return new StorytellerError(code, msg.message, msg.details ? { details: msg.details } : undefined);
}

export class OnnxFrameComputer implements FrameComputer {
  readonly model: ResolvedFrameModel;
  readonly stats: FrameComputerStats = { batches: 0, rows: 0, requests: 0, maxBatchRows: 0, restarts: 0, workerMs: 0 };
  private worker: Worker | null;
  private readonly init: WorkerInit;
  private readonly modelPath: string;
  private readonly declaredSchema: string | null;
  private readonly maxRestarts: number;
  private respawning: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private queue: PendingRequest[] = [];
  private inFlight: { id: number; requests: PendingRequest[]; started: number } | null = null;
  private scheduled = false;
  private nextId = 1;
  private failure: StorytellerError | null = null;
  /** The feature buffer the worker returned with the last result (reused by the next batch). */
  private spareFeatures: ArrayBuffer | null = null;
  private closing: Promise<void> | null = null;

  private constructor(model: ResolvedFrameModel, init: WorkerInit, worker: Worker, options: OnnxFrameComputerOptions) {
    this.model = model;
    this.init = init;
    this.modelPath = options.modelPath;
    this.declaredSchema = options.declaredSchema ?? null;
    this.worker = null;
    this.maxRestarts = options.maxRestarts ?? 3;
    this.maxBatch = options.maxBatch ?? 256;
    this.logger = moduleLogger(options.logger ?? silentLogger, 'inference').child({ component: 'frame-model' });
    this.metrics = options.registry ? createMetrics(options.registry) : null;
    this.attach(worker);
  }

  private attach(worker: Worker): void {
    this.worker = worker;
    let reported = false;
    const died = (why: string, cause?: unknown): void => {
      if (reported || this.worker !== worker) return;
      reported = true;
      this.onWorkerDeath(new StorytellerError('FRAME_MODEL_INVALID', why, cause === undefined ? undefined : { cause }));
    };
    worker.on('message', (raw: unknown) => this.onMessage(raw));
    worker.on('error', (error) => died(`frame worker crashed: ${error.message}`, error));
    worker.on('exit', (code) => {
      if (!this.closing) died(`frame worker exited (code ${code})`);
    });
  }

  /**
   * The worker died: the batch it held is lost (its requests reject), queued requests wait
   * for a fresh worker. After `maxRestarts` deaths the computer gives up and rejects everything.
   */
  private onWorkerDeath(error: StorytellerError): void {
    this.worker = null;
    const lost = this.inFlight?.requests ?? [];
    this.inFlight = null;
    for (const r of lost) r.reject(error);
    if (this.stats.restarts >= this.maxRestarts) {
      this.fail(error);
      return;
    }
    this.stats.restarts++;
    this.logger.error({ err: error, restart: this.stats.restarts }, 'frame worker died; starting a new one');
    // Re-verify the artifact before reopening it: the file may have changed since start-up.
    this.respawning = resolveFrameModel(this.modelPath, { declaredSchema: this.declaredSchema })
      .then((model) => {
        if (model.sha256 !== this.model.sha256) {
          throw new StorytellerError('FRAME_MODEL_INVALID', `frame model ${this.model.source} changed on disk since start-up (sha256 ${model.sha256})`);
        }
        return startWorker(this.init);
      })
      .then(
      (worker) => {
        this.respawning = null;
        if (this.closing) {
          void worker.terminate();
          return;
        }
        this.attach(worker);
        this.flush();
      },
      (startError: unknown) => {
        this.respawning = null;
        this.fail(startError instanceof StorytellerError ? startError : new StorytellerError('FRAME_MODEL_INVALID', String(startError)));
      },
    );
  }

  /**
   * Kills the worker as a crash would (operations, tests): the batch in flight rejects,
   * a new worker starts and takes the queue.
   */
  async terminateWorker(): Promise<void> {
    await this.worker?.terminate();
  }

  /**
   * Verifies the model (manifest hash, contract and schema, or the bare file with a declared
   * schema), starts the worker, waits until its session is open and checked. Start-up
   * errors: FRAME_MODEL_INVALID, FRAME_MODEL_CONTRACT, FRAME_MODEL_SCHEMA_UNKNOWN,
   * FRAME_MODEL_SCHEMA_UNSUPPORTED.
   *
   * @example
   * const frames = await OnnxFrameComputer.start({ modelPath: config.frameModelPath, logger });
   * const cast = await frames.computeFrames(castInputs);
   */
  static async start(options: OnnxFrameComputerOptions): Promise<OnnxFrameComputer> {
    const model = await resolveFrameModel(options.modelPath, { declaredSchema: options.declaredSchema ?? null });
    const init: WorkerInit = { modelPath: model.modelPath, source: model.source, sha256: model.sha256, intraOpNumThreads: options.intraOpNumThreads ?? 1 };
    const worker = await startWorker(init);
    const computer = new OnnxFrameComputer(model, init, worker, options);
    computer.logger.info({ model: model.source, version: model.manifest?.version ?? null, schema: model.schema, origin: model.manifest?.origin ?? 'declared', sha256: model.sha256 }, 'frame model loaded');
    return computer;
  }

  computeFrames(inputs: FrameInput[]): Promise<CharacterFrame[]> {
    if (this.closing) return Promise.reject(new StorytellerError('ENGINE_SHUTTING_DOWN', 'the frame computer is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (inputs.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs, resolve, reject });
      this.stats.requests++;
      this.metrics?.requests.inc();
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0 || this.failure || !this.worker) return;
    const requests: PendingRequest[] = [];
    let rows = 0;
    while (this.queue.length > 0 && (requests.length === 0 || rows + this.queue[0]!.inputs.length <= this.maxBatch)) {
      const r = this.queue.shift()!;
      requests.push(r);
      rows += r.inputs.length;
    }
    // The worker hands the previous batch's feature buffer back: reuse it when it is big enough.
    const spare = this.spareFeatures;
    this.spareFeatures = null;
    const features = spare && spare.byteLength >= rows * FEATURE_DIM * 4 ? new Float32Array(spare, 0, rows * FEATURE_DIM) : new Float32Array(rows * FEATURE_DIM);
    let row = 0;
    try {
      for (const r of requests) {
        for (const input of r.inputs) {
          encodeCharacterFeatures(input, features, row * FEATURE_DIM);
          row++;
        }
      }
    } catch (error) {
      // A malformed input fails its own batch only.
      for (const r of requests) r.reject(error);
      this.schedule();
      return;
    }
    const id = this.nextId++;
    this.inFlight = { id, requests, started: performance.now() };
    this.stats.batches++;
    this.stats.rows += rows;
    this.stats.maxBatchRows = Math.max(this.stats.maxBatchRows, rows);
    this.worker.postMessage({ type: 'run', id, batch: rows, features }, [features.buffer]);
  }

  private onMessage(raw: unknown): void {
    const parsed = fromWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      this.logger.error({ issues: parsed.error.issues }, 'frame worker sent a malformed message');
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'ready') return;
    if (msg.type === 'error' && msg.id === undefined) {
      // Not about a batch (e.g. a message the worker could not parse): log, keep going.
      this.logger.error({ code: msg.code, message: msg.message }, 'frame worker error');
      return;
    }
    const batch = this.inFlight;
    if (!batch || (msg.id !== undefined && msg.id !== batch.id)) {
      if (msg.type === 'error') this.logger.error({ code: msg.code, message: msg.message }, 'frame worker error');
      return;
    }
    this.inFlight = null;
    const seconds = (performance.now() - batch.started) / 1000;
    if (msg.type === 'error') {
      const error = errorFromWorker(msg);
      this.logger.error({ err: error, batch: batch.id }, 'frame batch failed');
      for (const r of batch.requests) r.reject(error);
    } else {
      this.stats.workerMs += msg.computeMs;
      if (msg.features && (!this.spareFeatures || msg.features.byteLength > this.spareFeatures.byteLength)) this.spareFeatures = msg.features;
      let row = 0;
      const resolved: Array<() => void> = [];
      try {
        for (const r of batch.requests) {
          const frames: CharacterFrame[] = r.inputs.map((input) => frameOf(input, msg.outputs, row++));
          resolved.push(() => r.resolve(frames));
        }
      } catch (error) {
        for (const r of batch.requests) r.reject(error);
        this.flush();
        return;
      }
      for (const done of resolved) done();
      this.metrics?.batchRows.observe(row);
      this.metrics?.batchSeconds.observe(seconds);
    }
    // Whatever queued while this batch ran goes out now, as one batch.
    this.flush();
  }

  private fail(error: StorytellerError): void {
    if (this.failure) return;
    this.failure = error;
    this.logger.error({ err: error }, 'frame worker failed; frame requests will be rejected');
    const pending = [...(this.inFlight?.requests ?? []), ...this.queue];
    this.inFlight = null;
    this.queue = [];
    for (const r of pending) r.reject(error);
  }

  /** Finishes the batch in flight and what is queued, then stops the worker. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while ((this.inFlight || this.queue.length > 0 || this.respawning) && !this.failure) {
        if (this.respawning) await this.respawning;
        else await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const worker = this.worker;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'close' });
      await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
      await worker.terminate();
    })();
    return this.closing;
  }
}

/**
 * Decodes row `row` of a batch's outputs into the character's frame. The prediction is
 * decoded at once; the frame text (≈ 20 µs of string work) is built when first read, so
 * a batch costs the event loop only what its consumers use.
 */
export function frameOf(input: FrameInput, outputs: Float32Array, row: number): CharacterFrame {
  const own = outputs.subarray(row * OUTPUT_DIM, (row + 1) * OUTPUT_DIM); // a view: the batch buffer is ours (transferred)
  return new DecodedFrame(input, own, decodePrediction(own));
}

class DecodedFrame implements CharacterFrame {
  readonly characterId: string;
  readonly schema = FRAME_SCHEMA_NAME;
  #built: { text: string; tokenCount: number } | null = null;
  constructor(
    private readonly input: FrameInput,
    readonly outputs: Float32Array,
    readonly prediction: CharacterPrediction,
  ) {
    this.characterId = input.characterId;
  }
  get text(): string {
    this.#built ??= frameText(this.input, this.prediction, this.input.name);
    return this.#built.text;
  }
  get tokenCount(): number {
    this.#built ??= frameText(this.input, this.prediction, this.input.name);
    return this.#built.tokenCount;
  }
  toJSON(): Record<string, unknown> {
    return { characterId: this.characterId, schema: this.schema, outputs: Array.from(this.outputs), prediction: this.prediction, text: this.text, tokenCount: this.tokenCount };
  }
}

/** Spawns a worker and waits until its session is open and matches the contract. */
async function startWorker(init: WorkerInit): Promise<Worker> {
  const worker = spawnWorker(init);
  try {
    const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
      const onMessage = (raw: unknown): void => {
        const msg = fromWorkerSchema.parse(raw);
        cleanup();
        if (msg.type === 'ready') resolve(msg);
        else if (msg.type === 'error') reject(errorFromWorker(msg));
        else reject(new StorytellerError('FRAME_MODEL_INVALID', 'frame worker answered before it was ready'));
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(new StorytellerError('FRAME_MODEL_INVALID', `frame worker failed to start: ${error.message}`, { cause: error }));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new StorytellerError('FRAME_MODEL_INVALID', `frame worker exited during start-up (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    // The worker checked too; checking here as well keeps the guarantee in one visible place.
    assertFrameContract(ready.inputs, ready.outputs, init.source);
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  return worker;
}

function createMetrics(registry: Registry): Metrics {
  return {
    batchRows: new Histogram({ name: 'storyteller_frame_batch_rows', help: 'Characters per frame-model batch', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] }),
    batchSeconds: new Histogram({
      name: 'storyteller_frame_batch_seconds',
      help: 'Frame-model batch latency (queue to result), seconds',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
      registers: [registry],
    }),
    requests: new Counter({ name: 'storyteller_frame_requests_total', help: 'computeFrames calls', registers: [registry] }),
  };
}
