import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRecord, NewEvent } from '../../../src/domain/events.ts';
import { applyEvent, emptyTruthSet, type TruthEvent, type TruthSet } from '../../../src/domain/truth-set.ts';
import { listCheckpoints, restoreNewestCheckpoint, writeCheckpoint, type ChainBroken } from '../../../src/persistence/checkpoints.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { loadTruthSet } from '../../../src/persistence/truth-set-replay.ts';
import { auditFailures, auditLedger, replayTruthSet } from '../../../src/testing/ledger-audit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';
import { eventSequence, SCENE_A } from '../../unit/truth-set.fixtures.ts';

/**
 * Incremental checkpoints (docs/checkpoints.md) against real databases: a session written
 * with deltas restores exactly what the same session written with full checkpoints
 * restores, and both equal the replay of the ledger from its first row; a broken chain
 * falls back to the last intact full checkpoint + ledger replay and still equals it.
 */

async function newSession(t: TestDatabase): Promise<string> {
  const { rows } = await t.db.query<{ id: string }>('INSERT INTO sessions DEFAULT VALUES RETURNING id');
  return rows[0]!.id;
}

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
      written.push((await ledger.appendInput({ sessionId, clientInputId: e.data.clientInputId, text: e.data.text, sceneId: null, turn: e.turn ?? null })).record);
    } else {
      batch.push({ type: e.type, data: e.data, source: 'test', turn: e.turn ?? null, sceneId: null } as NewEvent);
    }
  }
  await flushBatch();
  return written;
}

/** Entity components that change a little at every checkpoint (the shape that makes deltas pay). */
function entities(step: number) {
  return Array.from({ length: 30 }, (_, i) => ({
    id: `entity-${i}`,
    kind: i % 3 === 0 ? 'character' : 'object',
    components: { location: `room-${(i + (i === step % 30 ? step : 0)) % 7}`, mood: i === step % 30 ? `m${step}` : 'calm', persistence: 'scene' },
  }));
}

/**
 * Plays one history into a session and takes a checkpoint after each event index in `cuts`.
 * Returns the truth set at each cut.
 */
async function play(t: TestDatabase, ledger: Ledger, sessionId: string, events: readonly TruthEvent[], cuts: readonly number[], fullEvery: number): Promise<void> {
  let live: TruthSet = emptyTruthSet();
  let from = 0;
  for (const [n, cut] of cuts.entries()) {
    const rows = await writeThroughLedger(ledger, sessionId, events.slice(from, cut));
    from = cut;
    live = rows.reduce<TruthSet>((ts, r) => applyEvent(ts, r), live);
    await writeCheckpoint(
      t.db,
      {
        sessionId, sceneId: SCENE_A, turn: live.turn ?? 0, type: n % 2 === 0 ? 'scene_exit' : 'autosave',
        entityState: { entities: entities(n) }, truthSet: live, narrativePosition: { step: n, posteriors: { a: n / 10 } },
        worldState: live.world, ledgerTs: live.lastNarrativeTs, sessionState: { sceneIndex: n, sceneKey: 'a', reason: 'test', ended: false },
      },
      { fullEvery },
    );
  }
  await writeThroughLedger(ledger, sessionId, events.slice(from));
}

const stateOf = (c: { entityState: unknown; truthSet: unknown; narrativePosition: unknown; worldState: unknown; ledgerTs: number; turn: number; type: string; sessionState: unknown }) => ({
  entityState: c.entityState, truthSet: c.truthSet, narrativePosition: c.narrativePosition, worldState: c.worldState,
  ledgerTs: c.ledgerTs, turn: c.turn, type: c.type, sessionState: c.sessionState,
});

async function encodings(t: TestDatabase, sessionId: string): Promise<string[]> {
  const { rows } = await t.db.query<{ encoding: string }>('SELECT encoding FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts, created_at', [sessionId]);
  return rows.map((r) => r.encoding);
}

/** A logger whose lines the test reads, and a hook that records what it was told. */
function observed() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _e, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } }));
  const broken: ChainBroken[] = [];
  return { lines, broken, hooks: { logger, onChainBroken: (info: ChainBroken) => broken.push(info) } };
}

describe.each(DRIVERS)('incremental checkpoints on %s', (driver) => {
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

  it('same history, full vs delta checkpoints: every restored checkpoint is deep-equal, and equals the replay from zero', async () => {
    let deltas = 0;
    await fc.assert(
      fc.asyncProperty(
        eventSequence(50).chain((events) =>
          fc.tuple(fc.constant(events), fc.uniqueArray(fc.integer({ min: 0, max: events.length }), { minLength: 1, maxLength: 8 }).map((c) => c.sort((a, b) => a - b)), fc.integer({ min: 2, max: 5 })),
        ),
        async ([events, cuts, fullEvery]) => {
          const full = await newSession(t);
          const incremental = await newSession(t);
          await play(t, ledger, full, events, cuts, 1);
          await play(t, ledger, incremental, events, cuts, fullEvery);
          expect(await encodings(t, full)).toEqual(cuts.map(() => 'full'));
          const enc = await encodings(t, incremental);
          deltas += enc.filter((e) => e === 'delta').length;
          // A full one every N: never more than N-1 deltas in a row.
          expect(enc.join(',')).not.toContain(Array(fullEvery).fill('delta').join(','));

          const a = await listCheckpoints(t.db, full);
          const b = await listCheckpoints(t.db, incremental);
          expect(b.map(stateOf)).toEqual(a.map(stateOf));
          for (const c of b) expect(c.truthSet).toEqual(await replayTruthSet(t.db, incremental, c.ledgerTs));
          const newestA = await restoreNewestCheckpoint(t.db, full);
          const newestB = await restoreNewestCheckpoint(t.db, incremental);
          expect(newestB?.mode).toBe(enc.at(-1));
          expect(stateOf(newestB!.checkpoint)).toEqual(stateOf(newestA!.checkpoint));
          expect((await loadTruthSet(t.db, ledger, incremental)).truthSet).toEqual(await replayTruthSet(t.db, incremental));
          // The auditor rebuilds deltas too (the generated histories leave inputs unanswered; only checkpoints matter here).
          expect((await auditLedger(t.db, { sessionIds: [full, incremental] })).inconsistentCheckpoints).toEqual([]);
        },
      ),
      { numRuns: driver === 'pglite' ? 12 : 20, seed: 20261204 },
    );
    expect(deltas).toBeGreaterThan(10);
  });

  /** A session whose newest checkpoint is a delta two links from its full one: F D D F D D (N = 3). */
  async function chained(): Promise<{ sessionId: string; ids: string[] }> {
    const sessionId = await newSession(t);
    const [events] = fc.sample(eventSequence(60).filter((e) => e.length >= 34), { numRuns: 1, seed: 99 });
    await play(t, ledger, sessionId, events!, [4, 9, 14, 20, 26, 32], 3);
    expect(await encodings(t, sessionId)).toEqual(['full', 'delta', 'delta', 'full', 'delta', 'delta']);
    const { rows } = await t.db.query<{ id: string; base_id: string | null }>('SELECT id, base_id FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts, created_at', [sessionId]);
    // Each delta's parent is the checkpoint before it.
    expect(rows.map((r) => r.base_id)).toEqual([null, rows[0]!.id, rows[1]!.id, null, rows[3]!.id, rows[4]!.id]);
    return { sessionId, ids: rows.map((r) => r.id) };
  }

  type Break = [string, ChainBroken['reason'], (ids: string[]) => [string, unknown[]], (ids: string[]) => { brokenAt: string; fallbackId: string }];
  const breaks: Break[] = [
    ['its full base deleted', 'base_missing', (ids) => ['DELETE FROM checkpoints WHERE id = $1', [ids[3]]], (ids) => ({ brokenAt: ids[4]!, fallbackId: ids[0]! })],
    ['the delta between it and its base deleted', 'base_missing', (ids) => ['DELETE FROM checkpoints WHERE id = $1', [ids[4]]], (ids) => ({ brokenAt: ids[5]!, fallbackId: ids[3]! })],
    ['its delta JSON not a patch', 'delta_invalid', (ids) => [`UPDATE checkpoints SET delta = '{"x": [1, 2]}'::jsonb WHERE id = $1`, [ids[5]]], (ids) => ({ brokenAt: ids[5]!, fallbackId: ids[3]! })],
    ['its parent’s delta JSON not a patch', 'delta_invalid', (ids) => [`UPDATE checkpoints SET delta = '[]'::jsonb WHERE id = $1`, [ids[4]]], (ids) => ({ brokenAt: ids[4]!, fallbackId: ids[3]! })],
    ['its delta altered into another valid patch', 'hash_mismatch', (ids) => [`UPDATE checkpoints SET delta = jsonb_set(delta, '{o,worldState}', '{"r": {"forged": true}}') WHERE id = $1`, [ids[5]]], (ids) => ({ brokenAt: ids[5]!, fallbackId: ids[3]! })],
    ['its full base row failing its schema', 'base_invalid', (ids) => ['UPDATE checkpoints SET turn = -1 WHERE id = $1', [ids[3]]], (ids) => ({ brokenAt: ids[3]!, fallbackId: ids[0]! })],
  ];

  it.each(breaks)('a delta with %s: falls back to the last full checkpoint + ledger replay (== replay from zero), logged and counted', async (_name, reason, corrupt, expected) => {
    const { sessionId, ids } = await chained();
    const [sql, params] = corrupt(ids);
    await t.db.query(sql, params);
    const o = observed();
    const restored = await restoreNewestCheckpoint(t.db, sessionId, o.hooks);
    expect(restored?.mode).toBe('fallback');
    expect(o.broken).toEqual([{ sessionId, checkpointId: ids[5], reason, ...expected(ids) }]);
    expect(o.lines).toEqual([expect.objectContaining({ level: 40, code: 'CHECKPOINT_CHAIN_BROKEN', reason, checkpointId: ids[5], sessionId })]);
    // The fallback keeps the newest row's metadata but the full checkpoint's state and ledger position.
    expect(restored!.checkpoint.id).toBe(ids[5]);
    const loaded = await loadTruthSet(t.db, ledger, sessionId, o.hooks);
    expect(loaded.truthSet).toEqual(await replayTruthSet(t.db, sessionId));
    expect(loaded.checkpoint?.ledgerTs).toBeLessThan((await replayTruthSet(t.db, sessionId)).lastNarrativeTs);
    // The auditor reports the broken checkpoint instead of trusting it.
    expect(auditFailures(await auditLedger(t.db, { sessionIds: [sessionId] })).join('\n')).toContain(ids[5]);
    // The next checkpoint is full: a broken chain is never extended.
    const now = await replayTruthSet(t.db, sessionId);
    await writeCheckpoint(t.db, { sessionId, sceneId: SCENE_A, turn: 9, type: 'manual_save', entityState: {}, truthSet: now, narrativePosition: {}, worldState: {}, ledgerTs: now.lastNarrativeTs }, { fullEvery: 3 });
    expect(await restoreNewestCheckpoint(t.db, sessionId)).toMatchObject({ mode: 'full' });
  });

  it('every full checkpoint gone: the fallback replays the ledger from its first row', async () => {
    const { sessionId, ids } = await chained();
    await t.db.query(`DELETE FROM checkpoints WHERE session_id = $1 AND encoding = 'full'`, [sessionId]);
    const o = observed();
    const loaded = await loadTruthSet(t.db, ledger, sessionId, o.hooks);
    expect(o.broken).toEqual([{ sessionId, checkpointId: ids[5], brokenAt: ids[4], reason: 'base_missing', fallbackId: null }]);
    expect(loaded.checkpoint?.ledgerTs).toBe(0);
    expect(loaded.truthSet).toEqual(await replayTruthSet(t.db, sessionId));
  });

  it('a newest row that fails its schema: restore refuses it (STORED_DATA_INVALID, as before); the next checkpoint is full', async () => {
    const { sessionId, ids } = await chained();
    await t.db.query('UPDATE checkpoints SET turn = -1 WHERE id = $1', [ids[5]]);
    await expect(restoreNewestCheckpoint(t.db, sessionId)).rejects.toMatchObject({ code: 'STORED_DATA_INVALID' });
    const now = await replayTruthSet(t.db, sessionId);
    const next = await writeCheckpoint(t.db, { sessionId, sceneId: SCENE_A, turn: 9, type: 'autosave', entityState: {}, truthSet: now, narrativePosition: {}, worldState: {}, ledgerTs: now.lastNarrativeTs }, { fullEvery: 3 });
    expect(await restoreNewestCheckpoint(t.db, sessionId)).toMatchObject({ mode: 'full', checkpoint: { id: next.id, truthSet: now } });
  });

  it('the newest delta deleted is no broken chain: the one before it restores, and the ledger covers the rest', async () => {
    const { sessionId, ids } = await chained();
    await t.db.query('DELETE FROM checkpoints WHERE id = $1', [ids[5]]);
    const o = observed();
    const restored = await restoreNewestCheckpoint(t.db, sessionId, o.hooks);
    expect(restored).toMatchObject({ mode: 'delta', depth: 1, checkpoint: { id: ids[4] } });
    expect(o.broken).toEqual([]);
    expect((await loadTruthSet(t.db, ledger, sessionId)).truthSet).toEqual(await replayTruthSet(t.db, sessionId));
    // The next checkpoint extends the chain from the surviving delta (depth 2 < N = 3).
    const now = await replayTruthSet(t.db, sessionId);
    const next = await writeCheckpoint(t.db, {
      sessionId, sceneId: SCENE_A, turn: 9, type: 'manual_save', entityState: { entities: entities(9) }, truthSet: now,
      narrativePosition: {}, worldState: now.world, ledgerTs: now.lastNarrativeTs,
    }, { fullEvery: 3 });
    expect(await restoreNewestCheckpoint(t.db, sessionId)).toMatchObject({ mode: 'delta', depth: 2, checkpoint: { id: next.id, truthSet: now } });
  });
});
