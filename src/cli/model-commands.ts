import type { Command } from 'commander';
import { FRAME_SCHEMA_NAME } from '../inference/frame/character-schema.ts';
import { adoptFrameModel } from '../inference/frame/adopt.ts';

/**
 * `storyteller model adopt FILE --schema storyteller-character/1`: write the manifest that
 * lets a frame model trained elsewhere load (docs/frame-model.md, "Adopting a model").
 */
export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('frame-model artifacts');
  model
    .command('adopt <file>')
    .description('declare the feature schema of an .onnx frame model trained elsewhere (writes manifest.json beside it)')
    .requiredOption('--schema <name>', `the schema it was trained on (implemented: ${FRAME_SCHEMA_NAME})`)
    .option('--force', 'replace a manifest.json already beside the file')
    .action(async (file: string, opts: { schema: string; force?: boolean }) => {
      const { manifestPath, manifest } = await adoptFrameModel(file, { schema: opts.schema, ...(opts.force ? { force: true } : {}) });
      process.stdout.write(`adopted ${manifest.model} as ${manifest.schema} (sha256 ${manifest.sha256.slice(0, 12)}…${manifest.externalData ? `, external data ${manifest.externalData.file}` : ''}): wrote ${manifestPath}\n`);
      process.stdout.write(`use it with STORYTELLER_FRAME_MODEL=${file}\n`);
    });
}
