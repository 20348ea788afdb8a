import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoryBehaviour, type StoryBehaviourSetup } from '../../../src/actors/create-story-behaviour.ts';
import { loadConfig } from '../../../src/config.ts';
import { SessionEngine, type SessionHandle } from '../../../src/engine/engine.ts';
import { ERROR_CODES } from '../../../src/errors.ts';
import { createLogger } from '../../../src/logger.ts';
import type { SessionEmitted } from '../../../src/machines/session-types.ts';
import { openGraphStore } from '../../../src/persistence/graph/open-graph-store.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { sampleStory, WALKTHROUGH } from '../../support/story.ts';

/**
 * The turn cycle's log lines, captured from pino while the real engine plays the sample
 * story (production wiring: createStoryBehaviour with the committed ONNX frame model and
 * the LLM router) on PGlite. The oracle is the engine's own emitted events, recorded by
 * the test: for each turn, the window from its `turnStarted` to its `turnRecorded`; every
 * line in a window that concerns the session must carry that turn's `turn`, `inputId` (the
 * client's id) and `ledgerId` (the PlayerInput row).
 */
interface Line {
  level: number;
  msg: string;
  module?: string;
  sessionId?: string;
  turn?: number | null;
  inputId?: string;
  ledgerId?: number | null;
  code?: string;
  err?: unknown;
}

describe('turn-cycle logs', () => {
  let t: TestDatabase;
  let graph: GraphStore;
  let setup: StoryBehaviourSetup;
  const raw: string[] = [];
  const lines = (): Line[] => raw.map((l) => JSON.parse(l) as Line);
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void raw.push(s) } });

  beforeAll(async () => {
    t = await createTestDatabase('pglite');
    graph = await openGraphStore(t.db, { graphStore: 'sql' });
    const config = loadConfig({ LOG_LEVEL: 'debug' });
    setup = await createStoryBehaviour({ db: t.db, graph, config, logger, story: await sampleStory(), registry: new Registry() });
  });
  afterAll(async () => {
    await setup?.close();
    await graph?.close();
    await t?.close();
  });

  function next<T extends SessionEmitted['type']>(h: SessionHandle, type: T, match: (e: Extract<SessionEmitted, { type: T }>) => boolean): Promise<Extract<SessionEmitted, { type: T }>> {
    return new Promise((resolve) => {
      const off = h.on(type, (e) => {
        if (!match(e)) return;
        off();
        resolve(e);
      });
    });
  }

  it('every line of a turn carries sessionId, turn, inputId and ledgerId; error lines carry a stable code', async () => {
    const engine = new SessionEngine({
      db: t.db,
      behaviour: setup.behaviour,
      graph,
      logger,
      inspect: null,
      ledgerOptions: { maxPayloadBytes: 4096, maxBatch: 64, flushMs: 2, logger },
    });
    const h = await engine.createSession({ storyId: setup.story.storyId });
    const windows: Array<{ start: number; end: number; turn: number; inputId: string; ledgerId: number }> = [];
    const acks = new Map<string, number>();
    h.on('ack', (e) => acks.set(e.clientInputId, e.inputId));
    h.on('turnStarted', (e) => windows.push({ start: raw.length - 1, end: -1, turn: e.turn, inputId: e.clientInputId, ledgerId: e.inputId }));
    h.on('turnRecorded', (e) => {
      const w = windows.find((x) => x.ledgerId === e.inputId);
      if (w) w.end = raw.length;
    });

    const played = WALKTHROUGH.slice(0, 4);
    for (const [i, text] of played.entries()) {
      const id = `c-${i + 1}`;
      const recorded = next(h, 'answer', (e) => e.clientInputId === id).then((a) => next(h, 'turnRecorded', (e) => e.inputId === a.inputId));
      h.input(id, text);
      await recorded;
    }
    // An input over the text limit is refused (a typed error, logged with its code).
    const refused = next(h, 'inputRejected', (e) => e.clientInputId === 'c-big');
    h.input('c-big', 'x'.repeat(8000));
    await refused;
    await engine.shutdown();

    const all = lines();
    expect(windows.map((w) => w.inputId)).toEqual(['c-1', 'c-2', 'c-3', 'c-4']);
    let checked = 0;
    const modules = new Set<string>();
    for (const w of windows) {
      expect(w.end, `turn ${w.turn} recorded`).toBeGreaterThan(w.start);
      expect(all[w.start]?.msg).toBe('turn started');
      const inWindow = all.slice(w.start, w.end).filter((l) => l.sessionId === h.id);
      const messages = inWindow.map((l) => l.msg);
      expect(messages).toEqual(expect.arrayContaining(['turn started', 'turn answered', 'turn recorded (TurnCompleted durable)']));
      for (const l of inWindow) {
        expect({ msg: l.msg, turn: l.turn, inputId: l.inputId, ledgerId: l.ledgerId }).toEqual({ msg: l.msg, turn: w.turn, inputId: w.inputId, ledgerId: w.ledgerId });
        if (l.module) modules.add(l.module);
        checked += 1;
      }
      // The ack of the turn's input names the same ledger row.
      const ack = all.find((l) => l.msg === 'input durable (ack)' && l.inputId === w.inputId);
      expect(ack).toMatchObject({ sessionId: h.id, ledgerId: acks.get(w.inputId), turn: w.turn });
    }
    // Not only the engine's own lines: the frame model's per-character lines (module inference) name the turn too.
    expect([...modules].sort()).toEqual(['inference', 'session']);
    expect(checked).toBeGreaterThan(windows.length * 3);

    const refusedLine = all.find((l) => l.msg === 'input refused');
    expect(refusedLine).toMatchObject({ sessionId: h.id, inputId: 'c-big', ledgerId: null, code: 'LEDGER_PAYLOAD_INVALID' });
    // Every error line (level ≥ error, or carrying err) has a code from src/errors.ts.
    const errorLines = all.filter((l) => l.level >= 50 || l.err !== undefined || l.level === 40);
    expect(errorLines.length).toBeGreaterThan(0);
    for (const l of errorLines) expect(Object.keys(ERROR_CODES), `${l.msg}`).toContain(l.code);
  });
});
