import { z } from 'zod';
import { StorytellerError } from '../../errors.ts';
import { FRAME_CONTRACT } from './contract.ts';

/**
 * `manifest.json` beside a frame model: what the artifact is, its hash, the contract and
 * the feature/output **schema** it was trained on (`storyteller-character/1`), and — for
 * a model built here — how it was trained and how it scored on held-out data. A manifest
 * written by `storyteller model adopt` carries only the identity part. Read back with
 * zod; anything malformed is FRAME_MODEL_INVALID. A missing `schema` is accepted by the
 * parser so the loader can say FRAME_MODEL_SCHEMA_UNKNOWN (manifests from before schemas).
 */

const shapeSchema = z.tuple([z.string(), z.number().int().positive()]);
const tensorSchema = z.object({ type: z.literal('float32'), shape: shapeSchema });
const sha = z.string().regex(/^[0-9a-f]{64}$/);

export const frameContractSchema = z.object({
  input: z.object({ name: z.string(), type: z.literal('float32'), shape: shapeSchema }),
  outputs: z.record(z.string(), tensorSchema),
});

/** One output part scored on held-out rows against its baseline (majority class / mean). */
export const partMetricsSchema = z.object({
  head: z.string(),
  kind: z.enum(['ce', 'mse', 'bce']),
  /** accuracy for ce/bce parts (higher is better), mean squared error for mse parts (lower is better). */
  metric: z.enum(['accuracy', 'mse']),
  value: z.number(),
  baseline: z.number(),
});
export type PartMetrics = z.infer<typeof partMetricsSchema>;

export const frameManifestSchema = z.object({
  name: z.literal('storyteller-frame-model'),
  version: z.string().min(1),
  /** File name of the model, relative to the manifest. */
  model: z.string().min(1),
  /** Hex sha256 of the model file's bytes. */
  sha256: sha,
  /** Optional side file with external tensor data, relative to the manifest, and its hash. */
  externalData: z.object({ file: z.string().min(1), sha256: sha }).optional(),
  /** The feature/output schema the model was trained on (character-schema.ts). */
  schema: z.string().min(1).optional(),
  /** `built` by models:build, or `adopted` (trained elsewhere, declared by `storyteller model adopt`). */
  origin: z.enum(['built', 'adopted']).default('built'),
  contract: frameContractSchema,
  parameters: z.number().int().nonnegative().optional(),
  architecture: z.record(z.string(), z.unknown()).optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  validation: z
    .object({
      samples: z.number().int().positive(),
      seed: z.number().int(),
      baseline: z.string().optional(),
      /** Largest difference between the exported model's outputs and the trainer's forward pass. */
      onnxVsTrainerMaxAbsDiff: z.number().optional(),
      parts: z.record(z.string(), partMetricsSchema),
    })
    .optional(),
  adopted: z.object({ at: z.string(), from: z.string() }).optional(),
});

export type FrameManifest = z.infer<typeof frameManifestSchema>;

/** Parses manifest JSON text; malformed → FRAME_MODEL_INVALID naming the file. */
export function parseFrameManifest(text: string, source: string): FrameManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model manifest ${source} is not JSON`, { cause, details: { source } });
  }
  const parsed = frameManifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model manifest ${source} is malformed — ${problems.join('; ')}`, { details: { source, problems } });
  }
  return parsed.data;
}

/** Whether the manifest declares exactly our contract. */
export function manifestContractMatches(manifest: FrameManifest): boolean {
  return JSON.stringify(canonical(manifest.contract)) === JSON.stringify(canonical(FRAME_CONTRACT));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}
