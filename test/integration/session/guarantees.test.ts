import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SceneBehaviour, StageResult } from '../../../src/actors/behaviour.ts';
import { event } from '../../../src/domain/events.ts';
import { STORY_ENDED_TEXT } from '../../../src/machines/scene-exit.ts';
import { auditFailures, auditLedger, replayTruthSet } from '../../../src/testing/ledger-audit.ts';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';
import { TestingKit, type TestSession } from '../../../src/testing/testing-kit.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

/**
 * Regression tests for the audit of the three guarantees (issue 9), driven the way
 * clients drive the engine: inputs on the ending turn's answer, in bursts, after the
 * story ended. Every assertion is checked against the database alone (a replay of the
 * ledger from its first row), never against the engine's own memory.
 */

/** Park–Miller: reproducible "random" bursts. */
function prng(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

describe.each(DRIVERS)('guarantees (%s)', (driver) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await tdb.close();
  });

  const audit = async (sessionIds: string[]) => auditFailures(await auditLedger(tdb.db, { sessionIds }));

  it('an input sent on the ending turn’s answer: the scene-exit checkpoint equals the replay from zero', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('one', 'c-1');
    await s.play('two', 'c-2');
    // Turn 3 ends the harbour scene; c-4 goes out the instant its answer arrives (the ledger then holds
    // …PlayerInput(c-4) TurnCompleted(c-3) SceneExited).
    const off = s.handle.on('answer', (a) => {
      if (a.clientInputId === 'c-3') s.send('four', 'c-4');
    });
    const entered = s.next('sceneEntered');
    await s.play('three', 'c-3');
    off();
    expect((await entered).sceneKey).toBe('lighthouse');
    await s.answered('c-4').catch(() => undefined);
    await s.whenIdle();
    expect(await audit([s.id])).toEqual([]);
    const { rows } = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM checkpoints WHERE session_id = $1 AND checkpoint_type = 'scene_exit'`, [s.id]);
    expect(rows[0]?.n).toBe(1);
    // The live truth set is the ledger's too.
    expect(s.handle.actor.getSnapshot().context.truthSet).toEqual(await replayTruthSet(tdb.db, s.id));
    await kit.shutdown();
  });

  it('seeded bursts across every scene exit: all checkpoints equal their replay, every input answered once', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const sessions: TestSession[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const s = await kit.createSession();
      sessions.push(s);
      const random = prng(seed);
      const ended = s.next('ended');
      let n = 0;
      // Bursts of 1–4 inputs, some sent from inside the answer listener (on a scene's last turn too).
      s.handle.on('answer', () => {
        if (n < 12 && random() < 0.4) s.send(`say echo ${++n}`, `e-${n}`);
      });
      while (s.handle.lifecycle !== 'ended' && n < 12) {
        const burst = 1 + Math.floor(random() * 4);
        const sent: string[] = [];
        for (let i = 0; i < burst && n < 12; i++) sent.push(s.send(`say ${++n}`, `b-${n}`));
        await Promise.all(sent.map((c) => s.answered(c).catch(() => undefined)));
      }
      await ended;
    }
    for (const s of sessions) expect(await audit([s.id])).toEqual([]);
    const totals = await auditLedger(tdb.db, { sessionIds: sessions.map((s) => s.id) });
    expect(totals.sceneExits).toBe(3 * sessions.length);
    expect(totals.checkpoints).toBeGreaterThanOrEqual(3 * sessions.length);
    await kit.shutdown();
  });

  it('the story ends with acknowledged inputs still queued: each gets exactly one durable answer; later inputs are refused, not acked', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    const ended = s.next('ended');
    // The minimal story ends at turn 8; twelve inputs in one burst are all acked before it does.
    const ids = Array.from({ length: 12 }, (_, i) => s.send(`say ${i + 1}`, `c-${i + 1}`));
    const answers = await Promise.all(ids.map((c) => s.answered(c)));
    await ended;
    expect(answers.slice(8).map((a) => a.text)).toEqual(Array.from({ length: 4 }, () => STORY_ENDED_TEXT));
    expect(kit.acks.filter((a) => a.sessionId === s.id)).toHaveLength(12);
    const ended12 = await tdb.db.query<{ outcome: string | null }>(
      `SELECT event_data->>'outcome' AS outcome FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted' ORDER BY narrative_ts`,
      [s.id],
    );
    expect(ended12.rows.map((r) => r.outcome)).toEqual([...Array.from({ length: 8 }, () => null), ...Array.from({ length: 4 }, () => 'story_ended')]);
    expect(await audit([s.id])).toEqual([]);
    // After the end: refused with a code, never acknowledged, nothing appended.
    await expect(kit.engine.open(s.id)).rejects.toMatchObject({ code: 'SESSION_NOT_PLAYING' });
    const { rows } = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput'`, [s.id]);
    expect(rows[0]?.n).toBe(12);
    await kit.shutdown();
  });

  it('after the story-ending transaction an input is refused (SESSION_NOT_PLAYING) and never acked; the ledger itself refuses it', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    for (let i = 1; i <= 7; i++) await s.play(`say ${i}`, `c-${i}`);
    const rejected = s.next('inputRejected');
    // Sent the instant the final exit is announced (the exit transaction has committed).
    const off = s.handle.on('sceneExited', (e) => {
      if (e.nextSceneKey === null) s.send('too late', 'c-9');
    });
    await s.play('say 8', 'c-8');
    expect((await rejected).error.code).toBe('SESSION_NOT_PLAYING');
    off();
    expect(kit.acks.some((a) => a.clientInputId === 'c-9')).toBe(false);
    // Any writer (another engine, a stale client): the ledger refuses a new input of an ended
    // session, and still returns the original row of a retransmitted one.
    const ledger = new Ledger(tdb.db, { maxPayloadBytes: 65536, maxBatch: 8, flushMs: 1 });
    await expect(ledger.appendInput({ sessionId: s.id, clientInputId: 'c-10', text: 'hello?', sceneId: null, turn: null })).rejects.toMatchObject({ code: 'SESSION_NOT_PLAYING' });
    const again = await ledger.appendInput({ sessionId: s.id, clientInputId: 'c-8', text: 'say 8', sceneId: null, turn: null });
    expect(again.duplicate).toBe(true);
    await ledger.close();
    expect(await audit([s.id])).toEqual([]);
    await kit.shutdown();
  });

  it('a crash in the story-ending transaction, or right after it, leaves no acknowledged input unanswered', async () => {
    for (const point of ['exit.duringTransaction', 'exit.afterTransaction'] as const) {
      const kit = await TestingKit.create({ db: tdb.db });
      const s = await kit.createSession();
      for (let i = 1; i <= 6; i++) await s.play(`say ${i}`, `c-${i}`);
      await s.whenIdle();
      // Arm for the final scene's exit only (the one after turn 8).
      const crashed = kit.nextCrash();
      const armed = s.handle.on('answer', (a) => {
        if (a.clientInputId === 'c-8') kit.armCrash(point, s.id);
      });
      s.send('say 7', 'c-7');
      s.send('say 8', 'c-8');
      s.send('say 9', 'c-9');
      s.send('say 10', 'c-10');
      await crashed;
      armed();
      kit.restart();
      if (point === 'exit.duringTransaction') {
        // Rolled back: recovery resumes into the exit the last turn recorded, and answers the rest.
        const r = await kit.open(s.id);
        await r.whenLifecycle('ended');
      }
      const acked = kit.acks.filter((a) => a.sessionId === s.id);
      expect(auditFailures(await auditLedger(tdb.db, { sessionIds: [s.id], acked }))).toEqual([]);
      const exits = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'SceneExited'`, [s.id]);
      expect(exits.rows[0]?.n).toBe(3);
      await kit.shutdown();
    }
  });

  it('a retransmission that arrives while its re-run is being played is acked with the original id and played once', async () => {
    let gate: Promise<void> | null = null;
    let open: () => void = () => undefined;
    let atNarrator: () => void = () => undefined;
    const base = createMinimalBehaviour();
    const behaviour: SceneBehaviour = {
      ...base,
      narrator: async (req, onChunk) => {
        if (gate) {
          atNarrator();
          await gate;
        }
        return base.narrator(req, onChunk);
      },
    };
    const kit = await TestingKit.create({ db: tdb.db, behaviour });
    const s = await kit.createSession();
    await s.play('one', 'c-1');
    kit.armCrash('turn.afterStage1', s.id);
    const crashed = kit.nextCrash();
    s.send('two', 'c-2');
    await crashed;
    kit.restart();
    gate = new Promise<void>((r) => (open = r));
    const reached = new Promise<void>((r) => (atNarrator = r));
    const r = await kit.open(s.id);
    await reached; // recovery is re-running c-2 …
    const acked = r.next('ack', (a) => a.clientInputId === 'c-2');
    r.send('two', 'c-2'); // … when the client, reconnected, resends it
    open();
    gate = null;
    expect((await acked).duplicate).toBe(true);
    await r.whenIdle();
    await r.play('three', 'c-3');
    await r.whenIdle();
    expect(kit.answersFor(s.id, 'c-2').filter((a) => a.generation === 1)).toHaveLength(1);
    const turns = await tdb.db.query<{ turn: number }>(`SELECT turn FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput' ORDER BY narrative_ts`, [s.id]);
    expect(turns.rows.map((x) => x.turn)).toEqual([1, 2, 3]);
    expect(await audit([s.id])).toEqual([]);
    await kit.shutdown();
  });

  it('a re-run after a crash never mixes with a partial first run, even when it produces different events', async () => {
    let run = 1;
    let releaseNarrator: () => void = () => undefined;
    let narratorCalled: () => void = () => undefined;
    const base = createMinimalBehaviour();
    const judged = (n: number, tag: string) =>
      event(
        'InterpretiveJudgment',
        { id: `j-${tag}-${n}`, category: 'EngagementQuality', subject: 'player', confidence: 0.5, evidence: [], description: tag, source: { kind: 'classifier' }, provisional: false },
        { source: 'stage4', confidence: 0.5 },
      );
    const behaviour: SceneBehaviour = {
      ...base,
      // Run 1 and run 2 differ in content and in count.
      stage2: async () => ({ output: null, events: Array.from({ length: run === 1 ? 2 : 3 }, (_, i) => event('SpeechAct', { speaker: 'player', content: `run ${run} #${i}` }, { source: 'stage2' })) }),
      stage4: async (): Promise<StageResult> => ({ output: null, events: Array.from({ length: run === 1 ? 1 : 2 }, (_, i) => judged(i, `run${run}`)) }),
      narrator: async (req, onChunk) => {
        if (run === 1) {
          narratorCalled();
          await new Promise<void>((r) => (releaseNarrator = r));
        }
        return base.narrator(req, onChunk);
      },
    };
    const kit = await TestingKit.create({ db: tdb.db, behaviour });
    const s = await kit.createSession();
    const atNarrator = new Promise<void>((r) => (narratorCalled = r));
    s.send('hello', 'c-1');
    await atNarrator;
    // Stage 4's batch of run 1 becomes durable; the turn's own batch is not written (the narrator is still speaking).
    await new Promise<void>((resolve) => {
      const done = () => s.handle.actor.getSnapshot().context.batchSeq > 0 && s.handle.actor.getSnapshot().context.pendingWrites === 0;
      if (done()) return resolve();
      const sub = s.handle.actor.subscribe(() => {
        if (done()) {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const stage4Rows = async () =>
      (await tdb.db.query<{ d: string }>(`SELECT event_data->>'description' AS d FROM event_ledger WHERE session_id = $1 AND source = 'stage4' ORDER BY narrative_ts`, [s.id])).rows.map((r) => r.d);
    expect(await stage4Rows()).toEqual(['run1']);
    kit.crash();
    releaseNarrator();
    run = 2;
    kit.restart();
    const r = await kit.open(s.id);
    await r.answered('c-1');
    await r.whenIdle();
    await kit.engine.ledger.flush(r.id);
    // Stage 4: the first run's unit, whole, and nothing of the re-run's.
    expect(await stage4Rows()).toEqual(['run1']);
    // The turn: exactly the re-run's three events (none of the first run's two).
    const speech = await tdb.db.query<{ c: string }>(`SELECT event_data->>'content' AS c FROM event_ledger WHERE session_id = $1 AND event_type = 'SpeechAct' ORDER BY narrative_ts`, [s.id]);
    expect(speech.rows.map((x) => x.c)).toEqual(['run 2 #0', 'run 2 #1', 'run 2 #2']);
    expect(await audit([s.id])).toEqual([]);
    await kit.shutdown();
  });
});
