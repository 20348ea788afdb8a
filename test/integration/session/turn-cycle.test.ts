import { replayTruthSet } from '../../../src/testing/ledger-audit.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SceneBehaviour } from '../../../src/actors/behaviour.ts';
import { loadNewestCheckpoint } from '../../../src/persistence/checkpoints.ts';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

describe.each(DRIVERS)('turn cycle: ordering, degradation, cancellation, shutdown (%s)', (driver) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await tdb.close();
  });

  const degradedInLedger = async (sessionId: string) =>
    (
      await tdb.db.query<{ degraded: string[] }>(
        `SELECT event_data->'degraded' AS degraded FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted' ORDER BY narrative_ts`,
        [sessionId],
      )
    ).rows.map((r) => r.degraded);

  it('a failing agent yields a degraded but valid turn, recorded in TurnCompleted.degraded', async () => {
    const kit = await TestingKit.create({ db: tdb.db, behaviour: createMinimalBehaviour({ faults: { world: 'throw', stage1: 'throw' } }) });
    const s = await kit.createSession();
    const answer = await s.play('hello');
    expect(answer.degraded.sort()).toEqual(['stage1', 'world']);
    expect(answer.text).toContain('hello');
    await s.whenIdle();
    expect(await degradedInLedger(s.id)).toEqual([['stage1', 'world']]);
    await kit.shutdown();
  });

  it('an invalid event from a member is replaced by a durable EffectRefused in the same batch; the rest of the turn is written', async () => {
    const base = createMinimalBehaviour();
    const behaviour: SceneBehaviour = {
      ...base,
      world: async () => ({ output: null, events: [{ type: 'RelationshipShifted', data: { from: 'x', to: 'y', dimension: 'affection', delta: 99 }, source: 'world' }] }),
    };
    const kit = await TestingKit.create({ db: tdb.db, behaviour });
    const s = await kit.createSession();
    await s.play('hello');
    await s.whenIdle();
    const types = (await tdb.db.query<{ event_type: string }>('SELECT event_type FROM event_ledger WHERE session_id = $1 ORDER BY narrative_ts', [s.id])).rows.map((r) => r.event_type);
    expect(types).toContain('TurnCompleted');
    expect(types.filter((t) => t === 'RelationshipShifted')).toHaveLength(1); // mara's, not the world's invalid one
    const refused = await tdb.db.query<{ data: { effect: string; code: string; subject: { eventType: string; source: string } }; same_batch: boolean }>(
      `SELECT r.event_data AS data, r.xmin::text = t.xmin::text AS same_batch FROM event_ledger r
         JOIN event_ledger t ON t.session_id = r.session_id AND t.event_type = 'TurnCompleted'
        WHERE r.session_id = $1 AND r.event_type = 'EffectRefused'`,
      [s.id],
    );
    expect(refused.rows.map((r) => ({ ...r.data, reason: undefined }))).toEqual([
      { effect: 'event', code: 'LEDGER_PAYLOAD_INVALID', subject: { eventType: 'RelationshipShifted', source: 'world' }, reason: undefined },
    ]);
    expect(refused.rows[0]?.same_batch).toBe(true);
    expect((await kit.engine.metrics.effectsRefused.get()).values.find((v) => v.labels.effect === 'event')?.value).toBe(1);
    expect(s.handle.lifecycle).toBe('playing');
    await kit.shutdown();
  });

  it('a hanging character and narrator time out on the simulated clock; the turn still answers', async () => {
    const kit = await TestingKit.create({
      db: tdb.db,
      behaviour: createMinimalBehaviour({ faults: { character: 'hang', narrator: 'hang' } }),
      timeouts: { character: 1_000, narrator: 2_000 },
    });
    const s = await kit.createSession();
    const chunks: string[] = [];
    s.handle.on('chunk', (c) => chunks.push(c.text));
    const answered = s.answered('c-1');
    s.send('hello', 'c-1');
    await s.next('turnStarted');
    await s.whenLifecycle('playing');
    // Nothing can answer until simulated time passes.
    await waitUntil(() => s.handle.actor.getSnapshot().matches({ lifecycle: { playing: { turn: 'agents' } } }), s.handle.actor);
    kit.advance(1_000);
    await waitUntil(() => s.handle.actor.getSnapshot().matches({ lifecycle: { playing: { turn: 'narrator' } } }), s.handle.actor);
    kit.advance(2_000);
    const answer = await answered;
    expect(answer.degraded).toEqual(['character:mara', 'narrator']);
    expect(answer.text).toBe('A moment passes; the scene holds its breath.');
    // The narrator streamed nothing: its fallback prose still reaches the chunk listeners, once.
    expect(chunks).toEqual(['A moment passes; the scene holds its breath.']);
    await kit.shutdown();
  });

  it('stage 4 never blocks the answer; its judgments apply from a later turn', async () => {
    let release: (() => void) | undefined;
    const base = createMinimalBehaviour();
    const behaviour: SceneBehaviour = {
      ...base,
      stage4: async (req) => {
        if (req.input.turn === 1) await new Promise<void>((r) => (release = r));
        return base.stage4(req);
      },
    };
    const kit = await TestingKit.create({ db: tdb.db, behaviour });
    const s = await kit.createSession();
    const first = await s.play('hello'); // answered while stage 4 of turn 1 is still running
    expect(first.degraded).toEqual([]);
    const judged = () => (s.handle.actor.getSnapshot().context.truthSet?.judgments ?? []).map((j) => j.id);
    await s.whenIdle();
    expect(judged()).not.toContain('j-t1-s4');
    release?.();
    await waitUntil(() => judged().includes('j-t1-s4'), s.handle.actor);
    const second = await s.play('again');
    expect(second.degraded).toEqual([]);
    await kit.shutdown();
  });

  it('inputs arriving during a turn are acked once durable and answered in order', async () => {
    const kit = await TestingKit.create({ db: tdb.db, behaviour: createMinimalBehaviour({ faults: { world: 'hang' } }), timeouts: { world: 5_000 } });
    const s = await kit.createSession();
    await s.whenIdle();
    const events: string[] = [];
    s.handle.on('ack', (a) => events.push(`ack:${a.clientInputId}`));
    s.handle.on('answer', (a) => events.push(`answer:${a.clientInputId}`));
    const answers = ['c-1', 'c-2', 'c-3'].map((c) => s.answered(c));
    s.send('one', 'c-1');
    s.send('two', 'c-2');
    s.send('three', 'c-3');
    await waitUntil(() => events.length === 3, s.handle.actor);
    expect(events).toEqual(['ack:c-1', 'ack:c-2', 'ack:c-3']); // all durable and acked while turn 1 waits on the world agent
    for (let i = 0; i < 3; i++) {
      await waitUntil(() => s.handle.actor.getSnapshot().matches({ lifecycle: { playing: { turn: 'agents' } } }), s.handle.actor);
      kit.advance(5_000);
      await answers[i];
    }
    expect(events.filter((e) => e.startsWith('answer'))).toEqual(['answer:c-1', 'answer:c-2', 'answer:c-3']);
    // A retransmission is acked again (duplicate) and not answered twice.
    const dup = s.next('ack', (a) => a.clientInputId === 'c-2');
    s.send('two', 'c-2');
    expect((await dup).duplicate).toBe(true);
    await s.whenIdle();
    expect(kit.answersFor(s.id, 'c-2')).toHaveLength(1);
    await kit.shutdown();
  });

  it('scene exit cancels running agents through their AbortSignal', async () => {
    const aborted: string[] = [];
    const base = createMinimalBehaviour();
    const behaviour: SceneBehaviour = {
      ...base,
      stage4: (req) =>
        new Promise((_, reject) => {
          req.signal.addEventListener('abort', () => {
            aborted.push(`stage4:${req.input.turn}`);
            reject(new Error('aborted'));
          });
        }),
    };
    const kit = await TestingKit.create({ db: tdb.db, behaviour });
    const s = await kit.createSession();
    await s.play('one');
    await s.play('two');
    expect(aborted).toEqual([]);
    const exited = s.next('sceneExited');
    await s.play('leave'); // turn 3 ends the harbour scene
    await exited;
    expect(aborted.sort()).toEqual(['stage4:1', 'stage4:2', 'stage4:3']);
    await kit.shutdown();
  });

  it('graceful shutdown flushes every session, checkpoints it and marks it suspended; inputs are refused meanwhile', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const sessions = await Promise.all([kit.createSession(), kit.createSession(), kit.createSession()]);
    await Promise.all(sessions.map((s) => s.play('hello')));
    const refused = sessions[0]!.next('inputRejected');
    const done = kit.engine.shutdown();
    sessions[0]!.send('too late', 'c-late');
    expect((await refused).error.code).toBe('ENGINE_SHUTTING_DOWN');
    await done;
    for (const s of sessions) {
      const cp = await loadNewestCheckpoint(tdb.db, s.id);
      expect(cp?.type).toBe('suspend');
      const row = (await tdb.db.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [s.id])).rows[0];
      expect(row?.status).toBe('suspended');
      const completed = (await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted'`, [s.id])).rows[0];
      expect(completed?.n).toBe(1);
    }
    // A new engine resumes them mid-scene from the checkpoint.
    kit.restart();
    const resumed = await kit.open(sessions[0]!.id);
    const entered = await resumed.next('sceneEntered');
    expect(entered.sceneKey).toBe('harbour');
    expect(resumed.handle.actor.getSnapshot().context.turn).toBe(1);
    await resumed.play('back');
    await kit.shutdown();
  });

  it('autosaves every N turns mid-scene; a crash after it recovers from the autosave', async () => {
    // Always-full checkpoints: the test marks the autosave's truth_set column (a delta row has none).
    const kit = await TestingKit.create({ db: tdb.db, autosaveEveryTurns: 2, checkpointFullEvery: 1 });
    const s = await kit.createSession();
    const saved = s.next('checkpointed');
    await s.play('one');
    await s.play('two');
    const autosave = await saved;
    expect(autosave.checkpointType).toBe('autosave');
    const checkpoint = await loadNewestCheckpoint(tdb.db, s.id);
    expect(checkpoint?.id).toBe(autosave.checkpointId);
    expect(checkpoint?.type).toBe('autosave');
    await s.whenIdle();
    const before = s.handle.actor.getSnapshot().context.truthSet;
    expect(before).toEqual(await replayTruthSet(tdb.db, s.id));
    kit.crash();
    // Mark the autosave's truth set: only a recovery that starts from this checkpoint carries the mark.
    await tdb.db.query(`UPDATE checkpoints SET truth_set = jsonb_set(truth_set, '{world,autosave_mark}', 'true') WHERE id = $1`, [autosave.checkpointId]);
    kit.restart();
    const recovered = await kit.open(s.id);
    await recovered.whenIdle();
    const context = recovered.handle.actor.getSnapshot().context;
    expect(context.lastCheckpointId).toBe(autosave.checkpointId);
    expect(context.truthSet?.world).toEqual({ ...before?.world, autosave_mark: true });
    expect({ ...context.truthSet, world: before?.world }).toEqual(before);
    expect(recovered.handle.actor.getSnapshot().context.turn).toBe(2);
    expect((await recovered.play('three')).text).toContain('three');
    await kit.shutdown();
  });

  it('a deferred result that arrives late is handed to the next scene entry', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    await s.play('one');
    s.handle.deferredCompleted({ workflow: 'scene-boundary', effects: [] });
    const entered = s.next('sceneEntered');
    await s.play('two');
    await s.play('three'); // ends the harbour scene
    expect((await entered).sceneKey).toBe('lighthouse');
    // The minimal behaviour's graph context counts the deferred results it was given.
    expect(s.handle.actor.getSnapshot().context.warm.graph).toEqual({ edges: [], deferred: 1 });
    expect(s.handle.actor.getSnapshot().context.deferredResults).toEqual([]);
    await kit.shutdown();
  });

  it('many sessions play at once in one engine', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const sessions = await Promise.all(Array.from({ length: 25 }, () => kit.createSession()));
    await new Promise((r) => setImmediate(r)); // presence changes reach the registry once per tick
    expect(Object.keys(kit.engine.registry.getSnapshot().context.sessions)).toHaveLength(25);
    await Promise.all(
      sessions.map(async (s) => {
        for (let i = 0; i < 4; i++) await s.play(`say ${i}`);
        await s.whenIdle();
      }),
    );
    const { rows } = await tdb.db.query<{ session_id: string; n: number }>(
      `SELECT session_id, count(*)::int AS n FROM event_ledger WHERE session_id = ANY($1::uuid[]) AND event_type = 'TurnCompleted' GROUP BY session_id`,
      [sessions.map((s) => s.id)],
    );
    expect(rows).toHaveLength(25);
    expect(rows.every((r) => r.n === 4)).toBe(true);
    expect(sessions.every((s) => s.handle.actor.getSnapshot().context.sceneKey === 'lighthouse')).toBe(true);
    await kit.shutdown();
    expect(kit.engine.size).toBe(0);
  });
});

/** Yields to the event loop until `condition` holds (bounded; no timers). */
/**
 * Resolves once `condition` holds, re-checked at every change of the session actor (acks,
 * answers and truth-set folds all happen in its transitions): no polling bound to give out
 * on a slow machine; the test's own timeout is the limit.
 */
function waitUntil(condition: () => boolean, actor: { subscribe: (fn: () => void) => { unsubscribe(): void } }): Promise<void> {
  return new Promise((resolve) => {
    if (condition()) return resolve();
    const sub = actor.subscribe(() => {
      // Emitted events are delivered after the snapshot update: check once more on the next turn of the loop.
      setImmediate(() => {
        if (!condition()) return;
        sub.unsubscribe();
        resolve();
      });
    });
  });
}
