import { z } from 'zod';

/**
 * Messages between the main thread and the frame worker (worker_threads, structured
 * clone). Both sides parse what they receive with these schemas.
 */

export const decodeContextSchema = z.object({
  characterId: z.string(),
  emotions: z.array(z.number()),
  drivers: z.array(z.object({ name: z.string(), central: z.number(), layer: z.string(), awareness: z.string().optional() })),
  player: z.object({ trust: z.number(), affection: z.number(), debt: z.number() }).nullable(),
  event: z.object({ kind: z.string(), addressedToMe: z.boolean(), hostility: z.number(), warmth: z.number() }).nullable(),
  scene: z.object({ type: z.string(), tension: z.number(), turn: z.number() }),
});

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
  z.object({ type: z.literal('run'), id: z.number().int(), batch: z.number().int().positive(), features: z.instanceof(Float32Array), contexts: z.array(decodeContextSchema) }),
  z.object({ type: z.literal('close') }),
]);
export type ToWorker = z.infer<typeof toWorkerSchema>;

export const fromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), inputs: z.array(valueSchema), outputs: z.array(valueSchema) }),
  z.object({
    type: z.literal('result'),
    id: z.number().int(),
    action: z.instanceof(Float32Array),
    speech: z.instanceof(Float32Array),
    thought: z.instanceof(Float32Array),
    emotion: z.instanceof(Float32Array),
    texts: z.array(z.string()),
    tokenCounts: z.array(z.number().int()),
    /** Time the worker spent in session.run + decode, ms. */
    computeMs: z.number(),
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
