import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { StorytellerError } from '../../errors.ts';
import { FRAME_SCHEMA_NAME, IMPLEMENTED_FRAME_SCHEMAS, type FrameSchemaName } from './character-schema.ts';
import { assertFrameContract, type ValueDescription } from './contract.ts';
import { manifestContractMatches, parseFrameManifest, type FrameManifest } from './manifest.ts';

/**
 * Finds and verifies a frame model before anything loads it. `STORYTELLER_FRAME_MODEL`
 * may name
 * - a model directory with `manifest.json` (+ the model it names): the sha256, the
 *   declared contract and the declared schema are checked;
 * - an `.onnx` file: with a `manifest.json` beside it that names it (e.g. written by
 *   `storyteller model adopt`), as a directory; without one, only if the schema is
 *   declared (`STORYTELLER_FRAME_SCHEMA`), because names and shapes alone say nothing
 *   about what the 453 floats mean. External data beside it is found by onnxruntime;
 * - a pointer file (like `models/frame/current`): one line naming a directory or `.onnx`
 *   file relative to the pointer.
 * No declared schema → FRAME_MODEL_SCHEMA_UNKNOWN; a schema we do not implement →
 * FRAME_MODEL_SCHEMA_UNSUPPORTED.
 */

export interface ResolveOptions {
  /** STORYTELLER_FRAME_SCHEMA: the schema of a bare .onnx file (null/undefined: none declared). */
  declaredSchema?: string | null;
}

export interface ResolvedFrameModel {
  /** Absolute path of the `.onnx` file to open. */
  modelPath: string;
  manifest: FrameManifest | null;
  /** The feature/output schema the model was trained on (verified to be implemented). */
  schema: FrameSchemaName;
  /** sha256 of the model file (verified against the manifest when there is one). */
  sha256: string;
  /** What the configuration said, for messages. */
  source: string;
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function kindOf(path: string): Promise<'dir' | 'file' | null> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

const ADOPT_HINT = (file: string) =>
  `if it was trained on the storyteller character-prediction layout, set STORYTELLER_FRAME_SCHEMA=${FRAME_SCHEMA_NAME} or run \`storyteller model adopt ${file} --schema ${FRAME_SCHEMA_NAME}\``;

/** A declared schema name → the implemented one, or FRAME_MODEL_SCHEMA_UNSUPPORTED. */
export function implementedSchema(name: string, source: string, where: string): FrameSchemaName {
  const known = IMPLEMENTED_FRAME_SCHEMAS.find((s) => s === name);
  if (!known) {
    throw new StorytellerError('FRAME_MODEL_SCHEMA_UNSUPPORTED', `frame model ${source}: ${where} declares schema '${name}', which this runtime does not implement (implemented: ${IMPLEMENTED_FRAME_SCHEMAS.join(', ')})`, {
      details: { source, schema: name, implemented: [...IMPLEMENTED_FRAME_SCHEMAS] },
    });
  }
  return known;
}

function schemaOfManifest(manifest: FrameManifest, manifestPath: string, source: string, declared: string | null | undefined): FrameSchemaName {
  if (manifest.schema === undefined) {
    throw new StorytellerError('FRAME_MODEL_SCHEMA_UNKNOWN', `frame model ${source}: ${manifestPath} names no schema (a manifest from before schemas); rebuild it (npm run models:build) or ${ADOPT_HINT(join(dirname(manifestPath), manifest.model))}`, {
      details: { source },
    });
  }
  const schema = implementedSchema(manifest.schema, source, manifestPath);
  if (declared && declared !== schema) {
    throw new StorytellerError('FRAME_MODEL_SCHEMA_UNSUPPORTED', `frame model ${source}: its manifest declares schema '${schema}' but STORYTELLER_FRAME_SCHEMA says '${declared}'`, { details: { source } });
  }
  return schema;
}

async function resolveDirectory(dir: string, source: string, options: ResolveOptions): Promise<ResolvedFrameModel> {
  const manifestPath = join(dir, 'manifest.json');
  if ((await kindOf(manifestPath)) !== 'file') {
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model directory ${source} has no manifest.json`, { details: { source } });
  }
  const manifest = parseFrameManifest(await readFile(manifestPath, 'utf8'), manifestPath);
  const schema = schemaOfManifest(manifest, manifestPath, source, options.declaredSchema);
  if (!manifestContractMatches(manifest)) {
    throw new StorytellerError('FRAME_MODEL_CONTRACT', `frame model ${source} (version ${manifest.version}) declares a different contract`, {
      details: { source, declared: manifest.contract },
    });
  }
  const modelPath = resolve(dir, manifest.model);
  if ((await kindOf(modelPath)) !== 'file') {
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model file ${modelPath} named by ${manifestPath} is missing`, { details: { source } });
  }
  const sha256 = await sha256File(modelPath);
  if (sha256 !== manifest.sha256) {
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model ${modelPath} has sha256 ${sha256}, manifest says ${manifest.sha256}`, {
      details: { source, expected: manifest.sha256, actual: sha256 },
    });
  }
  if (manifest.externalData) {
    const sidePath = resolve(dir, manifest.externalData.file);
    const sideSha = (await kindOf(sidePath)) === 'file' ? await sha256File(sidePath) : 'missing';
    if (sideSha !== manifest.externalData.sha256) {
      throw new StorytellerError('FRAME_MODEL_INVALID', `frame model external data ${sidePath} fails verification (${sideSha})`, { details: { source } });
    }
  }
  return { modelPath, manifest, schema, sha256, source };
}

/** A bare .onnx: its manifest beside it if one names it, else the declared schema, else FRAME_MODEL_SCHEMA_UNKNOWN. */
async function resolveOnnxFile(abs: string, source: string, options: ResolveOptions): Promise<ResolvedFrameModel> {
  const beside = join(dirname(abs), 'manifest.json');
  if ((await kindOf(beside)) === 'file') {
    const manifest = parseFrameManifest(await readFile(beside, 'utf8'), beside);
    if (resolve(dirname(abs), manifest.model) === abs) return resolveDirectory(dirname(abs), source, options);
  }
  if (!options.declaredSchema) {
    throw new StorytellerError('FRAME_MODEL_SCHEMA_UNKNOWN', `frame model ${source} has no manifest declaring its feature schema; ${ADOPT_HINT(source)}`, {
      details: { source, implemented: [...IMPLEMENTED_FRAME_SCHEMAS] },
    });
  }
  const schema = implementedSchema(options.declaredSchema, source, 'STORYTELLER_FRAME_SCHEMA');
  return { modelPath: abs, manifest: null, schema, sha256: await sha256File(abs), source };
}

/**
 * Resolves and verifies the configured model path (no session is created here).
 *
 * @example
 * const model = await resolveFrameModel(config.frameModelPath, { declaredSchema: config.frameSchema });
 */
export async function resolveFrameModel(path: string, options: ResolveOptions = {}, hops = 0): Promise<ResolvedFrameModel> {
  const abs = resolve(path);
  const kind = await kindOf(abs);
  if (kind === null) throw new StorytellerError('FRAME_MODEL_INVALID', `frame model ${path} does not exist`, { details: { source: path } });
  if (kind === 'dir') return resolveDirectory(abs, path, options);
  if (abs.endsWith('.onnx')) return resolveOnnxFile(abs, path, options);
  // A pointer file: one relative path, nothing else.
  const s = await stat(abs);
  const target = s.size <= 1024 ? (await readFile(abs, 'utf8')).trim() : '';
  if (hops > 0 || target === '' || target.includes('\n') || isAbsolute(target)) {
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model ${path} is neither a model directory, an .onnx file nor a pointer to one`, {
      details: { source: path },
    });
  }
  const resolved = await resolveFrameModel(join(dirname(abs), target), options, hops + 1);
  return { ...resolved, source: `${path} → ${basename(target)}` };
}

type OnnxRuntime = typeof import('onnxruntime-node');

/** Loads onnxruntime-node lazily (a CommonJS package: its API sits on the default export under ESM). */
export async function loadOnnxRuntime(): Promise<OnnxRuntime> {
  const mod = (await import('onnxruntime-node')) as OnnxRuntime & { default?: OnnxRuntime };
  return mod.default ?? mod;
}

/**
 * Opens an onnxruntime session for a resolved model (one intra-op thread: the engine
 * shares the CPU with everything else) and checks its inputs/outputs against the contract.
 * Throws FRAME_MODEL_CONTRACT on a mismatch, FRAME_MODEL_INVALID if onnxruntime rejects the file.
 */
export async function openFrameSession(model: Pick<ResolvedFrameModel, 'modelPath' | 'source'>, options: { intraOpNumThreads?: number } = {}): Promise<InferenceSession> {
  const ort = await loadOnnxRuntime();
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(model.modelPath, {
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (cause) {
    throw new StorytellerError('FRAME_MODEL_INVALID', `onnxruntime cannot load frame model ${model.source}: ${(cause as Error).message}`, {
      cause,
      details: { source: model.source },
    });
  }
  try {
    assertFrameContract(session.inputMetadata as readonly ValueDescription[], session.outputMetadata as readonly ValueDescription[], model.source);
  } catch (error) {
    await session.release();
    throw error;
  }
  return session;
}
