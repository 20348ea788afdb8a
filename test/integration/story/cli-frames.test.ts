import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { FRAME_SCHEMA_NAME } from '../../../src/inference/frame/character-schema.ts';
import { exportFrameOnnx } from '../../../src/inference/frame/onnx-export.ts';
import { initWeights } from '../../../src/inference/frame/trainer.ts';

// The user's view: `play --show-frames` prints the frames; `model adopt` makes a foreign model loadable.

const tmp = mkdtempSync(join(tmpdir(), 'storyteller-cli-frames-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = runCli;

describe('CLI: frames and frame models', () => {
  it('`play --local --show-frames` prints each frame: decoded prediction and frame text', async () => {
    const r = await cli(['play', '--local', '--show-frames'], { DATABASE_URL: undefined }, 'ask Ewan about the light\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`┆ frame ewan \\(scene entry, ${FRAME_SCHEMA_NAME}\\): \\w+/\\w+ conf`));
    expect(r.stdout).toMatch(/┆ frame ewan \(turn 1, [^)]+\): (perform|speak|move|examine|wait|resist)\//);
    expect(r.stdout).toContain('┆   FRAME for Ewan');
    const plain = await cli(['play', '--local'], { DATABASE_URL: undefined }, 'look\n');
    expect(plain.stdout).not.toContain('┆ frame');
  }, 120_000);

  it('`model adopt` writes the manifest; start-up refuses the bare file before and accepts it after', async () => {
    const file = join(tmp, 'character_predictor.onnx');
    writeFileSync(file, exportFrameOnnx(initWeights(9, 8)).model);
    const env = { DATABASE_URL: undefined, STORYTELLER_DATA_DIR: join(tmp, 'data'), STORYTELLER_FRAME_MODEL: file };
    const refused = await cli(['play', '--new'], env, 'look\n');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('FRAME_MODEL_SCHEMA_UNKNOWN');
    expect(refused.stderr).toContain(`storyteller model adopt ${file} --schema ${FRAME_SCHEMA_NAME}`);
    const unknown = await cli(['model', 'adopt', file, '--schema', 'nope/1'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('FRAME_MODEL_SCHEMA_UNSUPPORTED');
    const adopted = await cli(['model', 'adopt', file, '--schema', FRAME_SCHEMA_NAME], env);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(existsSync(join(tmp, 'manifest.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(tmp, 'manifest.json'), 'utf8'))).toMatchObject({ model: 'character_predictor.onnx', schema: FRAME_SCHEMA_NAME, origin: 'adopted' });
    const played = await cli(['play', '--new'], env, 'look\n');
    expect(played.code, played.stderr).toBe(0);
    expect(played.stdout).toContain('── The Quay at Skerry End ──');
    // A changed file no longer matches the adopted manifest.
    copyFileSync(file, `${file}.bak`);
    writeFileSync(file, exportFrameOnnx(initWeights(10, 8)).model);
    const changed = await cli(['play', '--new'], env, 'look\n');
    expect(changed.stderr).toContain('FRAME_MODEL_INVALID');
  }, 180_000);
});
