import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { StorytellerError } from '../../errors.ts';
import { FRAME_CONTRACT } from './contract.ts';
import { implementedSchema, openFrameSession, sha256File } from './frame-model-loader.ts';
import { frameManifestSchema, parseFrameManifest, type FrameManifest } from './manifest.ts';

/**
 * `storyteller model adopt FILE --schema NAME`: declares that a frame model trained
 * elsewhere (e.g. the storyteller project's `character_predictor.onnx`) uses a schema we
 * implement, by writing `manifest.json` beside it — its sha256 (and its external-data
 * file's, when `<file>.data` exists), the schema, the contract. The model is opened in
 * onnxruntime first, so a file that cannot load or does not match the contract is refused.
 * Afterwards STORYTELLER_FRAME_MODEL may name the file or its directory.
 */
export interface AdoptOptions {
  schema: string;
  /** Replace a manifest.json already beside the file. */
  force?: boolean;
  now?: Date;
}

export async function adoptFrameModel(file: string, options: AdoptOptions): Promise<{ manifestPath: string; manifest: FrameManifest }> {
  const abs = resolve(file);
  const isFile = await stat(abs).then((s) => s.isFile(), () => false);
  if (!isFile || !abs.endsWith('.onnx')) throw new StorytellerError('FRAME_MODEL_INVALID', `${file} is not an .onnx file`, { details: { source: file } });
  const schema = implementedSchema(options.schema, file, '--schema');
  const manifestPath = join(dirname(abs), 'manifest.json');
  const existing = await readFile(manifestPath, 'utf8').then((t) => t, () => null);
  if (existing !== null && !options.force) {
    const other = parseFrameManifest(existing, manifestPath);
    throw new StorytellerError('FRAME_MODEL_INVALID', `${manifestPath} already exists (for ${other.model}); pass --force to replace it`, { details: { source: file } });
  }
  // Loads and checks the contract (names, float32, [batch, N]); throws FRAME_MODEL_CONTRACT / FRAME_MODEL_INVALID.
  const session = await openFrameSession({ modelPath: abs, source: file });
  await session.release();
  const sha256 = await sha256File(abs);
  const side = `${abs}.data`;
  const hasSide = await stat(side).then((s) => s.isFile(), () => false);
  const manifest = frameManifestSchema.parse({
    name: 'storyteller-frame-model',
    version: `adopted-${sha256.slice(0, 12)}`,
    model: basename(abs),
    sha256,
    ...(hasSide ? { externalData: { file: basename(side), sha256: await sha256File(side) } } : {}),
    schema,
    origin: 'adopted',
    contract: FRAME_CONTRACT,
    adopted: { at: (options.now ?? new Date()).toISOString(), from: file },
  });
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifestPath, manifest };
}
