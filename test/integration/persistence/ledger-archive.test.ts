import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRecord } from '../../../src/domain/events.ts';
import { evaluatePredicate } from '../../../src/domain/predicate-eval.ts';
import type { TriggerPredicate } from '../../../src/domain/predicates.ts';
import { isStorytellerError } from '../../../src/errors.ts';
import type { Database } from '../../../src/persistence/database.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { archiveLedger, parseArchiveDate } from '../../../src/persistence/ledger-archive.ts';
import { listLedgerPartitions } from '../../../src/persistence/ledger-partitions.ts';
import { ledgerColumnList, rowToRecord } from '../../../src/persistence/ledger-rows.ts';
import { evaluateOnLedger } from '../../../src/persistence/temporal-ledger.ts';
import { loadTruthSet } from '../../../src/persistence/truth-set-replay.ts';
import { auditFailures, auditLedger, replayTruthSet, sameTruthSet } from '../../../src/testing/ledger-audit.ts';
import { TestingKit, type TestSession } from '../../../src/testing/testing-kit.ts';
import { runCli } from '../../support/cli.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

const MIN = 60_000;

// Temporal predicates over the minimal story (harbour → lighthouse → summit), true and false ones.
const PREDICATES: TriggerPredicate[] = [
  { eventOccurred: { type: 'ActionPerformed', action: 'take', target: 'lamp' } },
  { eventOccurred: { type: 'GoalCompleted' } },
  { after: { event: { type: 'SceneEntered', target: 'lighthouse' }, then: { characterPresent: 'tomas' } } },
  { after: { event: { type: 'ActionPerformed', action: 'take' }, then: { characterPresent: 'nobody' } } },
  { since: { event: { type: 'SceneEntered', target: 'harbour' }, holds: { characterPresent: 'mara' } } },
  { since: { event: { type: 'ActionPerformed', action: 'take' }, holds: { not: { characterPresent: 'nobody' } } } },
  { sequence: { events: [{ type: 'SceneEntered', target: 'harbour' }, { type: 'ActionPerformed', action: 'take' }, { type: 'SceneExited' }] } },
  { sequence: { events: [{ type: 'SpeechAct' }, { type: 'ActionPerformed' }], within: 2 } },
  { sequence: { events: [{ type: 'SceneExited' }, { type: 'SceneEntered' }, { type: 'PlayerInput' }], within: 50 } },
];

const newLedger = (db: Database) => new Ledger(db, { maxPayloadBytes: 65_536, maxBatch: 64, flushMs: 1 });
const liveRows = async (db: Database, id: string): Promise<LedgerRecord[]> =>
  (await db.query(`SELECT ${ledgerColumnList()} FROM event_ledger WHERE session_id = $1 ORDER BY narrative_ts`, [id])).rows.map(rowToRecord);

/** The oracle, computed before archiving from the live table alone: the full history, its replay from the first row, each predicate's answer. */
async function oracle(db: Database, id: string) {
  const history = await liveRows(db, id);
  const truthSet = await replayTruthSet(db, id);
  return { history, truthSet, answers: PREDICATES.map((p) => evaluatePredicate(p, { truthSet, history })) };
}

async function playToSuspension(kit: TestingKit, s: TestSession): Promise<void> {
  s.handle.disconnect();
  await s.whenIdle();
  const suspended = s.next('suspended');
  kit.advance(5 * MIN);
  await suspended;
}

describe.each(DRIVERS)('ledger archive (%s)', (driver) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('moves ended and suspended history; recovery, truth sets and After/Since/Sequence answers are unchanged; the suspended session resumes and plays on', async () => {
    const db = tdb.db;
    const kit = await TestingKit.create({ db });
    const ended = await kit.createSession();
    const endedNow = ended.next('ended');
    for (const line of ['hello mara', 'take lamp', 'say one', 'say two', 'take rope', 'say three', 'say four', 'say five']) await ended.play(line);
    await endedNow;
    const suspended = await kit.createSession();
    for (const line of ['hello', 'take lamp', 'say more', 'say again']) await suspended.play(line);
    await playToSuspension(kit, suspended);
    const active = await kit.createSession();
    await active.play('hello');
    await active.play('take lamp');
    await active.whenIdle();
    const ids = [ended.id, suspended.id, active.id];
    const before = new Map(await Promise.all(ids.map(async (id) => [id, await oracle(db, id)] as const)));
    for (const o of before.values()) expect(new Set(o.answers.map((a) => a.value))).toEqual(new Set([true, false]));

    // Everything so far is "older than the date": a date just after now (the command itself refuses a future date; the library takes any).
    const cutoff = new Date(Date.now() + 1_000);
    // The two sessions' rows only: the active session's engine may still be writing (stage 4).
    const totalLive = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_ledger WHERE session_id = ANY($1::uuid[])', [[ended.id, suspended.id]])).rows[0]!.n;
    const liveBefore = await totalLive();
    const dry = await archiveLedger(db, { before: cutoff, dryRun: true });
    expect(await totalLive()).toBe(liveBefore); // a dry run changes nothing
    expect(dry.sessions.map((s) => s.sessionId).sort()).toEqual([ended.id, suspended.id].sort());
    // No workflow runs in this test: the scene-exit outbox rows stay open, so nothing qualifies yet.
    expect(dry.sessions.map((s) => s.skipped)).toEqual(['workflow_open', 'workflow_open']);
    // As the bridge would after each workflow completed.
    await db.query(`UPDATE outbox SET published_at = NOW(), completed_at = NOW(), outcome = 'complete' WHERE session_id = ANY($1::uuid[])`, [[ended.id, suspended.id]]);
    const plan = await archiveLedger(db, { before: cutoff, dryRun: true });
    expect(plan.sessions.every((s) => s.skipped === null)).toBe(true);
    expect(await totalLive()).toBe(liveBefore);

    const report = await archiveLedger(db, { before: cutoff });
    expect(report.rowsMoved).toBe(plan.rowsMoved);
    expect(report.partitionsMoved).toEqual([]); // the active session shares the month
    expect(await totalLive()).toBe(liveBefore - report.rowsMoved);
    const archivedCount = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_ledger_archive')).rows[0]!.n;
    expect(archivedCount).toBe(report.rowsMoved);
    const summaries = await db.query<{ session_id: string; horizon_ts: string; truth_set: unknown }>('SELECT session_id, horizon_ts, truth_set FROM ledger_archive_summaries');
    expect(summaries.rows.map((r) => r.session_id).sort()).toEqual([ended.id, suspended.id].sort());
    for (const s of summaries.rows) expect(sameTruthSet(s.truth_set, await replayTruthSet(db, s.session_id, Number(s.horizon_ts)))).toBe(true);
    // The suspended session keeps its inputs and TurnCompleted rows live (dedupe, unanswered-input scans).
    const keptTypes = new Set((await liveRows(db, suspended.id)).filter((r) => r.narrativeTs <= Number(summaries.rows.find((s) => s.session_id === suspended.id)!.horizon_ts)).map((r) => r.type));
    expect([...keptTypes].every((t) => t === 'PlayerInput' || t === 'TurnCompleted')).toBe(true);

    const ledger = newLedger(db);
    for (const id of ids) {
      const o = before.get(id)!;
      // The engine's recovery path: newest checkpoint + the ledger after it.
      const loaded = await loadTruthSet(db, ledger, id);
      expect(sameTruthSet(loaded.truthSet, o.truthSet), `truth set of ${id === active.id ? 'the active' : id === ended.id ? 'the ended' : 'the suspended'} session`).toBe(true);
      expect((await ledger.eventsSince(id, 0)).map((r) => [r.id, r.narrativeTs, r.type])).toEqual(o.history.map((r) => [r.id, r.narrativeTs, r.type]));
      const answers = await Promise.all(PREDICATES.map((p) => evaluateOnLedger(ledger, id, p, { truthSet: loaded.truthSet })));
      expect(answers).toEqual(o.answers);
    }
    // Not vacuous: the live rows alone would answer differently for the archived sessions.
    for (const id of [ended.id, suspended.id]) {
      const o = before.get(id)!;
      const history = await liveRows(db, id);
      const liveOnly = PREDICATES.map((p) => evaluatePredicate(p, { truthSet: o.truthSet, history }).value);
      expect(liveOnly).not.toEqual(o.answers.map((a) => a.value));
    }
    // A retransmission of an archived input of the ended session still gets its original row back.
    const firstInput = before.get(ended.id)!.history.find((r) => r.type === 'PlayerInput')!;
    const again = await ledger.appendInput({ sessionId: ended.id, clientInputId: (firstInput.data as { clientInputId: string }).clientInputId, text: 'hello mara', sceneId: null, turn: 1 });
    expect(again).toMatchObject({ duplicate: true, id: firstInput.id });
    await ledger.close();
    expect(auditFailures(await auditLedger(db, { sessionIds: [ended.id, suspended.id] }))).toEqual([]);

    // The archived suspended session resumes (checkpoint + live delta), re-enters its scene and plays on.
    const resumed = await kit.open(suspended.id);
    await resumed.next('sceneEntered');
    const answer = await resumed.play('back again', 'c-back');
    expect(answer.text).toContain('back again');
    await kit.shutdown();
    expect(auditFailures(await auditLedger(db))).toEqual([]);
  });

  it('a month whose sessions all ended moves whole: DETACH from the ledger, ATTACH to the archive', async () => {
    const own = await createTestDatabase(driver);
    try {
      const db = own.db;
      const kit = await TestingKit.create({ db });
      const s = await kit.createSession();
      const endedNow = s.next('ended');
      for (const line of ['hello mara', 'take lamp', 'a', 'b', 'c', 'd', 'e', 'f']) await s.play(line);
      await endedNow;
      await kit.shutdown();
      await db.query(`UPDATE outbox SET published_at = NOW(), completed_at = NOW(), outcome = 'complete'`);
      const o = await oracle(db, s.id);
      const month = (await listLedgerPartitions(db)).find((p) => p.rows > 0)!;
      // Simulated date: the first instant of the next month, when this month is wholly in the past.
      const report = await archiveLedger(db, { before: month.to! });
      expect(report.partitionsMoved).toEqual([month.name]);
      expect(report.rowsMoved).toBe(o.history.length);
      expect((await listLedgerPartitions(db)).map((p) => p.name)).not.toContain(month.name);
      const archive = await listLedgerPartitions(db, 'event_ledger_archive');
      expect(archive.map((p) => [p.name, p.rows])).toEqual([[month.name.replace('event_ledger_', 'event_ledger_archive_'), o.history.length]]);
      const ledger = newLedger(db);
      const loaded = await loadTruthSet(db, ledger, s.id);
      expect(sameTruthSet(loaded.truthSet, o.truthSet)).toBe(true);
      expect(await Promise.all(PREDICATES.map((p) => evaluateOnLedger(ledger, s.id, p, { truthSet: loaded.truthSet })))).toEqual(o.answers);
      await ledger.close();
      expect(auditFailures(await auditLedger(db))).toEqual([]);
      // The month has no live partition now: a new session of this month lands in DEFAULT and plays.
      const kit2 = await TestingKit.create({ db });
      const next = await kit2.createSession();
      expect((await next.play('hello')).text).toContain('hello');
      await kit2.shutdown();
    } finally {
      await own.close();
    }
  });

  it('the command: typed errors for bad dates, a dry run on the configured database', async () => {
    for (const bad of ['yesterday', '2026-02-30', '2026-13-01', '']) {
      expect(isStorytellerError(catching(() => parseArchiveDate(bad)), 'LEDGER_ARCHIVE_DATE_INVALID')).toBe(true);
    }
    expect(isStorytellerError(catching(() => parseArchiveDate('2027-01-01', new Date('2026-12-04T00:00:00Z'))), 'LEDGER_ARCHIVE_DATE_INVALID')).toBe(true);
    expect(parseArchiveDate('2026-09-01').toISOString()).toBe('2026-09-01T00:00:00.000Z');
    const future = await runCli(['ledger', 'archive', '--before', '2999-01-01']);
    expect(future.code).toBe(1);
    expect(future.stderr).toContain('LEDGER_ARCHIVE_DATE_INVALID');
    const env: Record<string, string | undefined> =
      driver === 'pg' ? { DATABASE_URL: tdb.url } : { DATABASE_URL: undefined, STORYTELLER_DATA_DIR: join(await mkdtemp(join(tmpdir(), 'archive-cli-')), 'data') };
    const dry = await runCli(['ledger', 'archive', '--before', '2026-01-01', '--dry-run'], env);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would archive ledger history before 2026-01-01T00:00:00.000Z/);
    expect(dry.stdout).toMatch(/0 rows would move/);
  });
});

function catching(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}
