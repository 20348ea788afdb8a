import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoryBehaviour } from '../../../src/actors/create-story-behaviour.ts';
import type { FrameReport } from '../../../src/actors/frame-observer.ts';
import { loadConfig } from '../../../src/config.ts';
import { FRAME_SCHEMA_NAME } from '../../../src/inference/frame/character-schema.ts';
import { historyEntryOf } from '../../../src/inference/frame/decoder.ts';
import { exportFrameOnnx } from '../../../src/inference/frame/onnx-export.ts';
import { initWeights } from '../../../src/inference/frame/trainer.ts';
import { createLogger, silentLogger } from '../../../src/logger.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { pino } from 'pino';
import { createWebSocketReceiver } from '@statelyai/inspect';
import { startInspector } from '../../../src/engine/inspector.ts';

/**
 * Frames you can see, on the production wiring (committed ONNX model in its worker): every
 * frame reaches the `onFrame` observer and the debug log with its decoded prediction and
 * text; each character's own last predictions feed its next frame and survive a crash
 * and resume (they live in the truth set, written through the ledger).
 */
describe('frames: visible, and the prediction history persists with the session', () => {
  let t: TestDatabase;
  let graph: GraphStore;
  let dir: string;
  beforeAll(async () => {
    t = await createTestDatabase('pg');
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    dir = await mkdtemp(join(tmpdir(), 'frame-visibility-'));
  });
  afterAll(async () => {
    await graph?.close();
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports scene-entry and turn frames; history entries are the previous predictions, most recent first, across a crash', async () => {
    const reports: FrameReport[] = [];
    const config = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent' });
    const setup = await createStoryBehaviour({ db: t.db, graph, config, logger: silentLogger, onFrame: (r) => reports.push(r) });
    const kit = await TestingKit.create({ db: t.db, behaviour: setup.behaviour, storyId: setup.story.storyId, graph });
    try {
      const s = await kit.createSession();
      await s.play('look');
      await s.play('ask Ewan about the light');
      await s.whenIdle();
      const ewan = () => reports.filter((r) => r.characterId === 'ewan');
      expect(ewan().map((r) => r.phase)).toEqual(['scene_entry', 'turn', 'turn']);
      for (const r of ewan()) {
        expect(r.schema).toBe(FRAME_SCHEMA_NAME);
        expect(r.sessionId).toBe(s.id);
        expect(r.text).toContain(`Action: ${r.prediction.action.type}`);
      }
      const [, first, second] = ewan();
      expect(first!.history).toEqual([]);
      expect(second!.history).toEqual([historyEntryOf(first!.prediction)]);
      expect(second!.text).toContain(`Its last moves: ${first!.prediction.action.type}/`);

      // The history is in the ledger as the character's WorldStateChanged (and so in checkpoints and replays).
      const { rows } = await t.db.query<{ event_data: { key: string; new: unknown } }>(
        "SELECT event_data FROM event_ledger WHERE session_id = $1 AND event_type = 'WorldStateChanged' AND event_data->>'key' = 'frame_history:ewan' ORDER BY id",
        [s.id],
      );
      expect(rows.map((r) => r.event_data.new)).toEqual([[historyEntryOf(first!.prediction)], [historyEntryOf(second!.prediction), historyEntryOf(first!.prediction)]]);

      kit.restart(); // crash + a fresh engine on the same database
      const resumed = await kit.open(s.id);
      await resumed.play('ask Ewan about Tobias');
      const third = ewan().filter((r) => r.phase === 'turn').at(-1)!;
      expect(third.turn).toBe(3);
      expect(third.history).toEqual([historyEntryOf(second!.prediction), historyEntryOf(first!.prediction)]);
    } finally {
      await kit.shutdown();
      await setup.close();
    }
  });

  it('logs every frame at LOG_LEVEL=debug with its prediction and text', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const config = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'debug' });
    const setup = await createStoryBehaviour({ db: t.db, graph, config, logger });
    const kit = await TestingKit.create({ db: t.db, behaviour: setup.behaviour, storyId: setup.story.storyId, graph });
    try {
      const s = await kit.createSession();
      await s.play('ask Ewan about the light');
      const frames = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'frame');
      const turn = frames.find((f) => f.phase === 'turn' && f.characterId === 'ewan');
      expect(turn).toMatchObject({ schema: FRAME_SCHEMA_NAME, sessionId: s.id, prediction: { action: { type: expect.any(String) } }, frameText: expect.stringContaining('FRAME for Ewan') });
      expect(frames.some((f) => f.phase === 'scene_entry')).toBe(true);
    } finally {
      await kit.shutdown();
      await setup.close();
    }
    // Above debug, nothing is logged per frame.
    expect(createLogger('info').isLevelEnabled('debug')).toBe(false);
  });

  it("the inspector's context shows the frames: the scene's warm frames and each character agent's frame with its prediction", async () => {
    const inspector = startInspector({ port: 40_000 + Math.floor(Math.random() * 20_000) });
    const receiver = createWebSocketReceiver({ server: inspector.wsUrl });
    const config = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent' });
    const setup = await createStoryBehaviour({ db: t.db, graph, config, logger: silentLogger });
    const kit = await TestingKit.create({ db: t.db, behaviour: setup.behaviour, storyId: setup.story.storyId, graph, inspect: inspector.inspect });
    try {
      const s = await kit.createSession();
      type Ctx = { sessionId?: string; warm?: { frames?: Record<string, { prediction?: unknown }> }; current?: { results?: { characters?: Record<string, { output?: { frame?: { summary?: string; text?: string } } }> } } };
      const seen = new Promise<Ctx>((resolve) => {
        receiver.subscribe((event) => {
          const ctx = (event as { snapshot?: { context?: Ctx } }).snapshot?.context;
          if (event.type === '@xstate.snapshot' && ctx?.sessionId === s.id && ctx.current?.results?.characters?.ewan?.output?.frame) resolve(ctx);
        });
      });
      await s.play('ask Ewan about the light');
      const ctx = await seen;
      expect(ctx.warm?.frames?.ewan?.prediction).toMatchObject({ action: { type: expect.any(String) } });
      // The inspector serialises deep objects as "[Object]": the summary line and the text stay readable.
      expect(ctx.current?.results?.characters?.ewan?.output?.frame).toMatchObject({
        summary: expect.stringMatching(/^(perform|speak|move|examine|wait|resist)\/\w+ conf \d\.\d\d valence -?\d\.\d\d; speech /),
        text: expect.stringContaining('FRAME for Ewan'),
      });
    } finally {
      await kit.shutdown();
      await setup.close();
      inspector.stop();
    }
  });

  it('a bare .onnx without a schema declaration stops start-up with FRAME_MODEL_SCHEMA_UNKNOWN; declared, it plays', async () => {
    const path = join(dir, 'bare.onnx');
    await writeFile(path, exportFrameOnnx(initWeights(5, 8)).model);
    const undeclared = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent', STORYTELLER_FRAME_MODEL: path });
    await expect(createStoryBehaviour({ db: t.db, graph, config: undeclared, logger: silentLogger })).rejects.toMatchObject({ code: 'FRAME_MODEL_SCHEMA_UNKNOWN' });
    const declared = loadConfig({ DATABASE_URL: t.url, LOG_LEVEL: 'silent', STORYTELLER_FRAME_MODEL: path, STORYTELLER_FRAME_SCHEMA: FRAME_SCHEMA_NAME });
    const setup = await createStoryBehaviour({ db: t.db, graph, config: declared, logger: silentLogger });
    const kit = await TestingKit.create({ db: t.db, behaviour: setup.behaviour, storyId: setup.story.storyId, graph });
    try {
      const s = await kit.createSession();
      const answer = await s.play('ask Ewan about the light');
      expect(answer.degraded).toEqual([]);
    } finally {
      await kit.shutdown();
      await setup.close();
    }
  });
});
