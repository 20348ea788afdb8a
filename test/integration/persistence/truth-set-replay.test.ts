import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRecord, NewEvent } from '../../../src/domain/events.ts';
import { applyEvent, emptyTruthSet, type TruthEvent, type TruthSet } from '../../../src/domain/truth-set.ts';
import { isStorytellerError } from '../../../src/errors.ts';
import { writeCheckpoint } from '../../../src/persistence/checkpoints.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { loadTruthSet } from '../../../src/persistence/truth-set-replay.ts';
import { replayTruthSet } from '../../../src/testing/ledger-audit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { eventSequence, SCENE_A } from '../../unit/truth-set.fixtures.ts';

async function newSession(t: TestDatabase): Promise<string> {
  const { rows } = await t.db.query<{ id: string }>('INSERT INTO sessions DEFAULT VALUES RETURNING id');
  return rows[0]!.id;
}

/**
 * Writes a generated history through the real ledger (inputs durable one by one, the
 * events between them as one async batch each) and returns the rows the ledger handed back.
 */
async function writeThroughLedger(ledger: Ledger, sessionId: string, events: readonly TruthEvent[]): Promise<LedgerRecord[]> {
  const written: LedgerRecord[] = [];
  let batch: NewEvent[] = [];
  const flushBatch = async () => {
    if (batch.length === 0) return;
    written.push(...(await ledger.appendEvents(sessionId, batch)));
    batch = [];
  };
  for (const e of events) {
    if (e.type === 'PlayerInput') {
      await flushBatch();
      const appended = await ledger.appendInput({ sessionId, clientInputId: e.data.clientInputId, text: e.data.text, sceneId: null, turn: e.turn ?? null });
      written.push(appended.record);
    } else {
      batch.push({ type: e.type, data: e.data, source: 'test', turn: e.turn ?? null, sceneId: null } as NewEvent);
    }
  }
  await flushBatch();
  return written;
}

describe.each(DRIVERS)('truth set replay (checkpoint + ledger) on %s', (driver) => {
  let t: TestDatabase;
  let ledger: Ledger;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
    ledger = new Ledger(t.db, { maxPayloadBytes: 64 * 1024, maxBatch: 256, flushMs: 1 });
  });
  afterAll(async () => {
    await ledger?.close();
    await t?.close();
  });

  // A real property (fast-check shrinks a failing history to a minimal one): checkpoint + delta
  // equals both the truth set built incrementally and an independent replay from the first row.
  it('random histories with a checkpoint anywhere: loadTruthSet == the incremental truth set == the replay from zero', async () => {
    await fc.assert(
      fc.asyncProperty(
        eventSequence(50).chain((events) => fc.tuple(fc.constant(events), fc.integer({ min: 0, max: events.length }))),
        async ([events, cut]) => {
          const sessionId = await newSession(t);
          const firstPart = await writeThroughLedger(ledger, sessionId, events.slice(0, cut));
          let live: TruthSet = firstPart.reduce<TruthSet>((ts, r) => applyEvent(ts, r), emptyTruthSet());
          const ledgerTs = firstPart.at(-1)?.narrativeTs ?? 0;
          await writeCheckpoint(t.db, {
            sessionId, sceneId: SCENE_A, turn: live.turn ?? 0, type: 'autosave',
            entityState: {}, truthSet: live, narrativePosition: {}, worldState: {}, ledgerTs,
          });
          const rest = await writeThroughLedger(ledger, sessionId, events.slice(cut));
          live = rest.reduce<TruthSet>((ts, r) => applyEvent(ts, r), live);

          const loaded = await loadTruthSet(t.db, ledger, sessionId);
          expect(loaded.checkpoint?.ledgerTs).toBe(ledgerTs);
          expect(loaded.replayed.map((r) => r.id)).toEqual(rest.map((r) => r.id));
          expect(loaded.truthSet).toEqual(live);
          expect(JSON.stringify(loaded.truthSet)).toBe(JSON.stringify(live));
          expect(loaded.truthSet).toEqual(await replayTruthSet(t.db, sessionId));
        },
      ),
      { numRuns: 25, seed: 20261201 },
    );
  });

  it('without a checkpoint replays the whole session', async () => {
    const sessionId = await newSession(t);
    const [events] = fc.sample(eventSequence(40), { numRuns: 1, seed: 7 });
    const written = await writeThroughLedger(ledger, sessionId, events!);
    const live = written.reduce<TruthSet>((ts, r) => applyEvent(ts, r), emptyTruthSet());
    const loaded = await loadTruthSet(t.db, ledger, sessionId);
    expect(loaded.checkpoint).toBeNull();
    expect(loaded.replayed).toHaveLength(written.length);
    expect(loaded.truthSet).toEqual(live);
  });

  it('uses the newest checkpoint when there are several', async () => {
    const sessionId = await newSession(t);
    const [events] = fc.sample(eventSequence(30).filter((e) => e.length > 16), { numRuns: 1, seed: 11 });
    const written = await writeThroughLedger(ledger, sessionId, events!);
    expect(written.length).toBeGreaterThan(15);
    let live = emptyTruthSet();
    for (const [i, r] of written.entries()) {
      live = applyEvent(live, r);
      if (i === 5 || i === 15) {
        await writeCheckpoint(t.db, {
          sessionId, sceneId: SCENE_A, turn: i, type: 'scene_exit',
          entityState: {}, truthSet: live, narrativePosition: {}, worldState: {}, ledgerTs: r.narrativeTs,
        });
      }
    }
    const loaded = await loadTruthSet(t.db, ledger, sessionId);
    expect(loaded.checkpoint?.ledgerTs).toBe(written[15]!.narrativeTs);
    expect(loaded.truthSet).toEqual(live);
  });

  it('a checkpoint whose truth_set is not a truth set is refused with STORED_DATA_INVALID', async () => {
    const sessionId = await newSession(t);
    await writeCheckpoint(t.db, {
      sessionId, sceneId: SCENE_A, turn: 0, type: 'manual_save',
      entityState: {}, truthSet: { propositions: ['nonsense'] }, narrativePosition: {}, worldState: {}, ledgerTs: 0,
    });
    const error = await loadTruthSet(t.db, ledger, sessionId).catch((e: unknown) => e);
    expect(isStorytellerError(error, 'STORED_DATA_INVALID')).toBe(true);
  });
});
