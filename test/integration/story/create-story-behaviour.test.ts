import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoryBehaviour } from '../../../src/actors/create-story-behaviour.ts';
import { loadConfig } from '../../../src/config.ts';
import { exportFrameOnnx } from '../../../src/inference/frame/onnx-export.ts';
import { OnnxFrameComputer } from '../../../src/inference/frame/onnx-frame-computer.ts';
import { initWeights } from '../../../src/inference/frame/trainer.ts';
import { silentLogger } from '../../../src/logger.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { WALKTHROUGH } from '../../support/story.ts';

/**
 * The production wiring `npm start` uses (createStoryBehaviour): the committed ONNX frame
 * model in its worker, the LLM router with its usage totals persisted and its metrics on the
 * given registry — and a frame model with the wrong contract stops start-up.
 */
describe('createStoryBehaviour (the engine process wiring)', () => {
  let t: TestDatabase;
  let graph: GraphStore;
  let dir: string;
  beforeAll(async () => {
    t = await createTestDatabase('pg');
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    dir = await mkdtemp(join(tmpdir(), 'story-wiring-'));
  });
  afterAll(async () => {
    await graph?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('plays on the committed ONNX frame model; LLM usage is persisted per session and role, and exported as metrics', async () => {
    const registry = new Registry();
    const config = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent' });
    const setup = await createStoryBehaviour({ db: t.db, graph, config, logger: silentLogger, registry });
    expect(setup.frames).toBeInstanceOf(OnnxFrameComputer);
    const kit = await TestingKit.create({ db: t.db, behaviour: setup.behaviour, storyId: setup.story.storyId, graph });
    const s = await kit.createSession();
    const answer = await s.play(WALKTHROUGH[1]!);
    expect(answer.degraded).toEqual([]);
    await kit.shutdown();
    await setup.close(); // flushes usage totals still on their way

    const { rows } = await t.db.query<{ role: string; provider: string; calls: number }>(
      'SELECT role, provider, calls::int AS calls FROM llm_usage WHERE session_id = $1 ORDER BY role',
      [s.id],
    );
    expect(rows.map((r) => r.role)).toEqual(expect.arrayContaining(['character', 'narrator']));
    expect(rows.every((r) => r.provider === 'scripted' && r.calls > 0)).toBe(true);
    // Stage 1 asks no LLM unless the classifier role is named.
    expect(rows.map((r) => r.role)).not.toContain('classifier');
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.map((m) => m.name)).toEqual(expect.arrayContaining(['storyteller_llm_tokens_total']));
  });

  it('with the classifier role named, stage 1 asks it about an input the rules are unsure of (through the engine)', async () => {
    const config = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent', STORYTELLER_FRAME_MODEL: 'rules', STORYTELLER_LLM_ROLES: 'classifier=scripted,*=scripted' });
    const setup = await createStoryBehaviour({ db: t.db, graph, config, logger: silentLogger });
    const kit = await TestingKit.create({ db: t.db, behaviour: setup.behaviour, storyId: setup.story.storyId, graph });
    const s = await kit.createSession();
    const sure = await s.play('ask Ewan about the light');
    const unsure = await s.play('I fling my arms around Ewan');
    expect([sure.degraded, unsure.degraded]).toEqual([[], []]);
    await kit.shutdown();
    await setup.close();
    const { rows } = await t.db.query<{ calls: number }>(`SELECT calls::int AS calls FROM llm_usage WHERE session_id = $1 AND role = 'classifier'`, [s.id]);
    expect(rows).toEqual([{ calls: 1 }]);
  });

  it('a frame model with the wrong contract stops start-up with FRAME_MODEL_CONTRACT (no silent fallback)', async () => {
    const weights = initWeights(1, 8);
    const narrow = { ...weights, heads: weights.heads.map((h) => (h.name === 'action' ? { ...h, size: 13, w: h.w.subarray(0, 8 * 13), b: h.b.subarray(0, 13) } : h)) };
    const path = join(dir, 'narrow.onnx');
    await writeFile(path, exportFrameOnnx(narrow).model);
    const config = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent', STORYTELLER_FRAME_MODEL: path, STORYTELLER_FRAME_SCHEMA: 'storyteller-character/1' });
    await expect(createStoryBehaviour({ db: t.db, graph, config, logger: silentLogger })).rejects.toMatchObject({ code: 'FRAME_MODEL_CONTRACT' });
  });
});
