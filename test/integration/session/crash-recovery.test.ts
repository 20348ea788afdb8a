import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTruthSet } from '../../../src/persistence/truth-set-replay.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import type { FaultPoint } from '../../../src/engine/fault-points.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { auditFailures, auditLedger, replayTruthSet } from '../../../src/testing/ledger-audit.ts';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';
import type { SceneBehaviour } from '../../../src/actors/behaviour.ts';
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
  ['events.inFlight', 2],
  ['events.inFlight', 3],
  ['exit.beforeTransaction', 3],
  ['exit.duringTransaction', 3],
  ['exit.afterTransaction', 3],
  ['entry.duringEntry', 3],
];

/** What each member of the behaviour was asked, in order (a probe below the engine's event filters). */
function probed(calls: string[]): SceneBehaviour {
  const inner = createMinimalBehaviour();
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

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

  const ledgerRows = async (sessionId: string) => (await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1', [sessionId])).rows[0]?.n;

  it.each(CASES)('crash at %s (armed before input %i) recovers', async (point, at) => {
    const calls: string[] = [];
    const kit = await TestingKit.create({ db: tdb.db, behaviour: probed(calls) });
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
    const atCrash = kit.lastCrash?.sessions.get(s.id);
    const beforeCrash = atCrash?.truthSet as TruthSet;
    const callsAtCrash = calls.length;
    const rowsAtCrash = await ledgerRows(s.id);
    // Let anything the dead engine still had queued run (database round trips turn the event loop).
    for (let i = 0; i < 5; i++) await tdb.db.query('SELECT 1');
    // Nothing of the crashed engine ran after the fault point: no behaviour call, no emitted event, no write.
    expect(calls.length).toBe(callsAtCrash);
    expect(kit.emitted.length).toBe(kit.lastCrash?.emitted);
    expect(await ledgerRows(s.id)).toBe(rowsAtCrash);
    const completedAtCrash = new Set((await completions(s.id)).filter((r) => r.completed > 0).map((r) => r.client_input_id));

    kit.restart();
    // What the engine held at the fault is exactly the ledger replayed from its first row up to
    // what it had folded (the cache is never ahead of, nor different from, the durable record) …
    expect(beforeCrash).toEqual(await replayTruthSet(tdb.db, s.id, beforeCrash.lastNarrativeTs));
    // … and recovery's checkpoint + delta equals the replay from zero of everything durable.
    expect((await loadTruthSet(tdb.db, ledger, s.id)).truthSet).toEqual(await replayTruthSet(tdb.db, s.id));

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
    // Same end state as the uninterrupted run; every checkpoint equals its replay from zero.
    const final = recovered.handle.actor.getSnapshot().context.truthSet as TruthSet;
    expect(final).toEqual(await replayTruthSet(tdb.db, s.id));
    expect(auditFailures(await auditLedger(tdb.db, { sessionIds: [s.id] }))).toEqual([]);
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
