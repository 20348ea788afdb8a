import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreNewestCheckpoint } from '../../../src/persistence/checkpoints.ts';
import { auditLedger, replayTruthSet } from '../../../src/testing/ledger-audit.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

/**
 * Incremental checkpoints through the engine (docs/checkpoints.md): the session's own
 * checkpoints become deltas, a crash recovers from a delta, and a corrupt delta falls back
 * to the last full checkpoint + ledger replay — counted on the engine's metric — with the
 * same truth set as the replay of the ledger from its first row.
 */
describe.each(DRIVERS)('checkpoint delta chains in the engine (%s)', (driver) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
  });
  afterAll(async () => {
    await tdb.close();
  });

  const encodings = async (sessionId: string) =>
    (await tdb.db.query<{ encoding: string }>('SELECT encoding FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts, created_at', [sessionId])).rows.map((r) => r.encoding);

  it('autosaves become deltas; a crash recovers from one; a corrupt one falls back, counted, to the replay’s truth set', async () => {
    const kit = await TestingKit.create({ db: tdb.db, autosaveEveryTurns: 1, checkpointFullEvery: 5 });
    const s = await kit.createSession();
    const playSaved = async (session: typeof s, line: string) => {
      const saved = session.next('checkpointed');
      const answer = await session.play(line);
      await saved;
      await session.whenIdle();
      return answer;
    };
    for (const line of ['one', 'two']) await playSaved(s, line);
    expect(await encodings(s.id)).toEqual(['full', 'delta']);
    expect((await auditLedger(tdb.db, { sessionIds: [s.id] })).inconsistentCheckpoints).toEqual([]);

    // Recovery from the delta: the restored state is the live one.
    const live = s.handle.actor.getSnapshot().context.truthSet;
    kit.crash();
    kit.restart();
    const recovered = await kit.open(s.id);
    await recovered.whenIdle();
    expect((await restoreNewestCheckpoint(tdb.db, s.id))?.mode).toBe('delta');
    expect(recovered.handle.actor.getSnapshot().context.truthSet).toEqual(live);
    expect((await kit.engine.metrics.checkpointFallbacks.get()).values).toEqual([]);
    await playSaved(recovered, 'three'); // also ends the harbour scene (a scene-exit checkpoint)
    const before = await encodings(s.id);
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(before.filter((e) => e === 'full')).toHaveLength(1);
    expect(before.at(-1)).toBe('delta');

    // A corrupt newest delta: recovery starts from the full checkpoint and replays the ledger after it.
    kit.crash();
    const { rows } = await tdb.db.query<{ id: string }>(
      `UPDATE checkpoints SET delta = '{"o": {"truthSet": {"r": "tampered"}}}'::jsonb
        WHERE id = (SELECT id FROM checkpoints WHERE session_id = $1 ORDER BY ledger_ts DESC, created_at DESC LIMIT 1) RETURNING id`,
      [s.id],
    );
    kit.restart();
    const fallback = await kit.open(s.id);
    await fallback.whenIdle();
    expect(fallback.handle.actor.getSnapshot().context.truthSet).toEqual(await replayTruthSet(tdb.db, s.id));
    expect(fallback.handle.actor.getSnapshot().context.turn).toBe(3);
    expect(fallback.handle.actor.getSnapshot().context.lastCheckpointId).toBe(rows[0]?.id);
    const counted = await kit.engine.metrics.checkpointFallbacks.get();
    expect(counted.values).toEqual([expect.objectContaining({ labels: { reason: 'hash_mismatch' }, value: 1 })]);
    expect((await playSaved(fallback, 'four')).text).toContain('four');
    // Later checkpoints are sound again; the auditor names only the tampered one.
    expect((await encodings(s.id)).length).toBeGreaterThan(before.length);
    expect((await auditLedger(tdb.db, { sessionIds: [s.id] })).inconsistentCheckpoints.map((c) => c.checkpointId)).toEqual([rows[0]?.id]);
    await kit.shutdown();
  });
});
