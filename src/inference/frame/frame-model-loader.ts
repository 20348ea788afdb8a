import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { StorytellerError } from '../../errors.ts';
import { assertFrameContract, type ValueDescription } from './contract.ts';
import { manifestContractMatches, parseFrameManifest, type FrameManifest } from './manifest.ts';

/**
 * Finds and verifies a frame model before anything loads it. `STORYTELLER_FRAME_MODEL`
 * may name
 * - a model directory with `manifest.json` (+ the model it names): the sha256 and the
 *   declared contract are checked;
 * - an `.onnx` file: any model with the contract, no manifest needed (its session's
 *   inputs/outputs are checked when it opens); external data beside it is found by
 *   onnxruntime relative to the file;
 * - a pointer file (like `models/frame/current`): one line naming a directory or `.onnx`
 *   file relative to the pointer.
 */

export interface ResolvedFrameModel {
  /** Absolute path of the `.onnx` file to open. */
  modelPath: string;
  manifest: FrameManifest | null;
  /** sha256 of the model file (verified against the manifest when there is one). */
  sha256: string;
  /** What the configuration said, for messages. */
  source: string;
}

async function sha256File(path: string): Promise<string> {
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

async function resolveDirectory(dir: string, source: string): Promise<ResolvedFrameModel> {
  const manifestPath = join(dir, 'manifest.json');
  if ((await kindOf(manifestPath)) !== 'file') {
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model directory ${source} has no manifest.json`, { details: { source } });
  }
  const manifest = parseFrameManifest(await readFile(manifestPath, 'utf8'), manifestPath);
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
  return { modelPath, manifest, sha256, source };
}

/**
 * Resolves and verifies the configured model path (no session is created here).
 *
 * @example
 * const model = await resolveFrameModel(config.frameModelPath); // 'models/frame/current'
 */
export async function resolveFrameModel(path: string, hops = 0): Promise<ResolvedFrameModel> {
  const abs = resolve(path);
  const kind = await kindOf(abs);
  if (kind === null) throw new StorytellerError('FRAME_MODEL_INVALID', `frame model ${path} does not exist`, { details: { source: path } });
  if (kind === 'dir') return resolveDirectory(abs, path);
  if (abs.endsWith('.onnx')) return { modelPath: abs, manifest: null, sha256: await sha256File(abs), source: path };
  // A pointer file: one relative path, nothing else.
  const s = await stat(abs);
  const target = s.size <= 1024 ? (await readFile(abs, 'utf8')).trim() : '';
  if (hops > 0 || target === '' || target.includes('\n') || isAbsolute(target)) {
    throw new StorytellerError('FRAME_MODEL_INVALID', `frame model ${path} is neither a model directory, an .onnx file nor a pointer to one`, {
      details: { source: path },
    });
  }
  const resolved = await resolveFrameModel(join(dirname(abs), target), hops + 1);
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
export async function openFrameSession(model: ResolvedFrameModel, options: { intraOpNumThreads?: number } = {}): Promise<InferenceSession> {
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
