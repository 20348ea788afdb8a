import { z } from 'zod';

/**
 * Messages between the main thread and the frame worker (worker_threads). Only
 * Float32Array buffers cross, transferred, never per-character objects: the main thread
 * sends the encoded feature rows, the worker answers with the flat outputs (42 per row).
 * Both sides parse what they receive with these schemas.
 */

export const workerInitSchema = z.object({
  modelPath: z.string(),
  source: z.string(),
  sha256: z.string(),
  intraOpNumThreads: z.number().int().positive(),
});
export type WorkerInit = z.infer<typeof workerInitSchema>;

const valueSchema = z.object({
  name: z.string(),
  isTensor: z.boolean(),
  type: z.string().optional(),
  shape: z.array(z.union([z.number(), z.string()])).optional(),
});

export const toWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run'), id: z.number().int(), batch: z.number().int().positive(), features: z.instanceof(Float32Array) }),
  z.object({ type: z.literal('close') }),
]);
export type ToWorker = z.infer<typeof toWorkerSchema>;

export const fromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), inputs: z.array(valueSchema), outputs: z.array(valueSchema) }),
  z.object({
    type: z.literal('result'),
    id: z.number().int(),
    /** [batch, 42]: action, speech, thought, emotion concatenated per row. */
    outputs: z.instanceof(Float32Array),
    /** Time the worker spent in session.run and concatenation, ms. */
    computeMs: z.number(),
    /** The request's feature buffer, handed back (transferred) for reuse. */
    features: z.instanceof(ArrayBuffer).optional(),
  }),
  z.object({
    type: z.literal('error'),
    id: z.number().int().optional(),
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
]);
export type FromWorker = z.infer<typeof fromWorkerSchema>;
