import { z } from 'zod';
import { StorytellerError } from '../../errors.ts';
import { FRAME_CONTRACT } from './contract.ts';

/**
 * `manifest.json` beside a frame model: what the artifact is, its hash, the contract it
 * was built for, how it was trained and how it scored on held-out data. Read back with
 * zod; anything malformed is FRAME_MODEL_INVALID.
 */

const shapeSchema = z.tuple([z.string(), z.number().int().positive()]);
const tensorSchema = z.object({ type: z.literal('float32'), shape: shapeSchema });

export const frameContractSchema = z.object({
  input: z.object({ name: z.string(), type: z.literal('float32'), shape: shapeSchema }),
  outputs: z.record(z.string(), tensorSchema),
});

const headMetricsSchema = z.object({
  accuracy: z.number(),
  crossEntropy: z.number(),
  baselineAccuracy: z.number(),
  baselineCrossEntropy: z.number(),
  ceilingAccuracy: z.number(),
  ceilingCrossEntropy: z.number(),
});

export const frameManifestSchema = z.object({
  name: z.literal('storyteller-frame-model'),
  version: z.string().min(1),
  /** File name of the model, relative to the manifest. */
  model: z.string().min(1),
  /** Hex sha256 of the model file's bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Optional side file with external tensor data, relative to the manifest, and its hash. */
  externalData: z.object({ file: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  contract: frameContractSchema,
  classes: z.object({
    action: z.array(z.string()),
    speech: z.array(z.string()),
    thought: z.array(z.string()),
    emotion: z.array(z.string()),
  }),
  architecture: z.record(z.string(), z.unknown()),
  training: z.record(z.string(), z.unknown()),
  validation: z.object({
    samples: z.number().int().positive(),
    seed: z.number().int(),
    baseline: z.string().optional(),
    ceiling: z.string().optional(),
    /** Largest difference between the exported model's logits and the trainer's forward pass. */
    onnxVsTrainerMaxAbsDiff: z.number().optional(),
    heads: z.object({ action: headMetricsSchema, speech: headMetricsSchema, thought: headMetricsSchema, emotion: headMetricsSchema }),
  }),
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
