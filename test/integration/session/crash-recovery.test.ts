import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTruthSet } from '../../../src/persistence/truth-set-replay.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import type { FaultPoint } from '../../../src/engine/fault-points.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import type { TruthSet } from '../../../src/domain/truth-set.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

/**
 * Crash = the engine dies with no flush (every actor dropped, its database handle
 * fenced). A new engine on the same database must recover: no input lost, every input
 * completed exactly once in the ledger, no engine answering a turn twice, the truth
 * set after recovery equal to the one before the crash, and the session ending in the
 * same state as an uninterrupted run of the same script.
 */
const SCRIPT = ['hello mara', 'take lamp', 'say the sea is calm', 'look at tomas', 'say goodbye'];

/** At which input (1-based) each fault point is armed. Turn 3 ends the first scene. */
const CASES: Array<[FaultPoint, number]> = [
  ['input.afterAppend', 2],
  ['turn.afterStage1', 2],
  ['turn.afterStage2', 2],
  ['turn.afterStage3', 2],
  ['turn.duringAgents', 2],
  ['turn.duringNarrator', 2],
  ['turn.afterAnswer', 2],
  ['exit.beforeTransaction', 3],
  ['exit.afterTransaction', 3],
  ['entry.duringEntry', 3],
];

describe.each(['pg', 'pglite'] as const)('crash recovery (%s)', (driver) => {
  let tdb: TestDatabase;
  let ledger: Ledger;
  let reference: unknown;
  let referenceId: string;

  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
    ledger = new Ledger(tdb.db, { maxPayloadBytes: 65536, maxBatch: 64, flushMs: 1 });
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    // Each input after the previous turn settled (an input arriving mid-exit is ordered differently in the ledger).
    for (const text of SCRIPT) {
      await s.play(text);
      await s.whenIdle();
    }
    reference = await inLedgerOrder(s.id, s.handle.actor.getSnapshot().context.truthSet as TruthSet);
    referenceId = s.id;
    await kit.shutdown();
  });
  afterAll(async () => {
    await ledger.close();
    await tdb.close();
  });

  /**
   * The truth set with every narrative timestamp replaced by the event's position in the
   * session's ledger: two runs that wrote the same events in the same order compare equal
   * even if one of them skipped timestamps (the ledger may spend a timestamp on a deduped row).
   */
  const inLedgerOrder = async (sessionId: string, ts: TruthSet): Promise<unknown> => {
    const { rows } = await tdb.db.query<{ narrative_ts: number }>('SELECT narrative_ts FROM event_ledger WHERE session_id = $1 ORDER BY narrative_ts', [sessionId]);
    const position = new Map(rows.map((r, i) => [Number(r.narrative_ts), i + 1]));
    const at = (n: number) => position.get(n) ?? -n;
    return {
      ...ts,
      lastNarrativeTs: at(ts.lastNarrativeTs),
      persistent: ts.persistent.map((p) => ({ ...p, since: at(p.since) })),
      momentary: { ...ts.momentary, propositions: ts.momentary.propositions.map((p) => ({ ...p, since: at(p.since) })) },
      judgments: ts.judgments.map((j) => ({ ...j, ts: at(j.ts) })),
    };
  };

  const completions = async (sessionId: string) =>
    (
      await tdb.db.query<{ client_input_id: string; completed: number }>(
        `SELECT p.client_input_id, count(t.id)::int AS completed
           FROM event_ledger p
           LEFT JOIN event_ledger t ON t.session_id = p.session_id AND t.event_type = 'TurnCompleted' AND t.input_id = p.id
          WHERE p.session_id = $1 AND p.event_type = 'PlayerInput'
          GROUP BY p.client_input_id ORDER BY p.client_input_id`,
        [sessionId],
      )
    ).rows;

  it.each(CASES)('crash at %s (armed before input %i) recovers', async (point, at) => {
    const kit = await TestingKit.create({ db: tdb.db });
    const s = await kit.createSession();
    for (let i = 1; i < at; i++) {
      await s.play(SCRIPT[i - 1] as string, `c-${i}`);
      await s.whenIdle();
    }

    kit.armCrash(point, s.id);
    const crashed = kit.nextCrash();
    s.send(SCRIPT[at - 1] as string, `c-${at}`);
    await crashed;
    expect(kit.crashes).toBe(1);
    const beforeCrash = s.handle.actor.getSnapshot().context.truthSet as TruthSet;
    const completedAtCrash = new Set((await completions(s.id)).filter((r) => r.completed > 0).map((r) => r.client_input_id));

    kit.restart();
    // The durable state equals what the crashed engine held in memory.
    const durable = await loadTruthSet(tdb.db, ledger, s.id);
    expect(durable.truthSet).toEqual(beforeCrash);

    const recovered = await kit.open(s.id);
    if (point === 'input.afterAppend') {
      // The ack never reached the client: it retransmits; the ledger dedupes.
      const ack = recovered.next('ack', (a) => a.clientInputId === `c-${at}`);
      recovered.send(SCRIPT[at - 1] as string, `c-${at}`);
      expect((await ack).duplicate).toBe(true);
    }
    await recovered.whenIdle();
    for (let i = at + 1; i <= SCRIPT.length; i++) {
      await recovered.play(SCRIPT[i - 1] as string, `c-${i}`);
      await recovered.whenIdle();
    }

    // No input lost, each completed exactly once.
    const rows = await completions(s.id);
    expect(rows).toEqual(SCRIPT.map((_, i) => ({ client_input_id: `c-${i + 1}`, completed: 1 })));
    // No engine answered a turn twice; the new engine answered only what had not completed.
    for (let i = 1; i <= SCRIPT.length; i++) {
      const answers = kit.answersFor(s.id, `c-${i}`);
      expect(answers.length).toBeGreaterThanOrEqual(1);
      for (const generation of [0, 1]) expect(answers.filter((a) => a.generation === generation).length).toBeLessThanOrEqual(1);
      if (completedAtCrash.has(`c-${i}`)) expect(answers.filter((a) => a.generation === 1)).toEqual([]);
    }
    // Same end state as the uninterrupted run.
    const final = recovered.handle.actor.getSnapshot().context.truthSet as TruthSet;
    expect(final).toEqual((await loadTruthSet(tdb.db, ledger, s.id)).truthSet);
    expect(referenceId).not.toBe(s.id);
    expect(await inLedgerOrder(s.id, final)).toEqual(reference);
    await kit.shutdown();
  });

  it('many sessions crash together and all recover', async () => {
    const kit = await TestingKit.create({ db: tdb.db });
    const sessions = await Promise.all(Array.from({ length: 8 }, () => kit.createSession()));
    await Promise.all(sessions.map((s) => s.play('hello mara', 'c-1')));
    const crashed = kit.nextCrash();
    kit.armCrash('turn.afterStage2');
    sessions.forEach((s) => s.send('take lamp', 'c-2'));
    await crashed;
    kit.restart();
    const recovered = await Promise.all(sessions.map((s) => kit.open(s.id)));
    // Clients retransmit what was not answered (the ledger dedupes inputs that were durable).
    await Promise.all(
      recovered.map(async (r) => {
        const acked = r.next('ack', (a) => a.clientInputId === 'c-2');
        r.send('take lamp', 'c-2');
        await acked;
        await r.whenIdle();
      }),
    );
    for (const r of recovered) {
      expect(await completions(r.id)).toEqual([
        { client_input_id: 'c-1', completed: 1 },
        { client_input_id: 'c-2', completed: 1 },
      ]);
    }
    await kit.shutdown();
  });
});
