import { copyFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/persistence/database.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { ensureLedgerPartitions, listLedgerPartitions, startPartitionMaintenance } from '../../../src/persistence/ledger-partitions.ts';
import { migrate, MIGRATIONS_DIR } from '../../../src/persistence/migrations.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

/** The migrations up to and including `version`: the schema as it was before partitioning. */
async function migrationsUpTo(version: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
  for (const name of await readdir(MIGRATIONS_DIR)) if (Number(name.slice(0, 4)) <= version) await copyFile(join(MIGRATIONS_DIR, name), join(dir, name));
  return dir;
}

const COLUMNS = 'id, session_id, scene_id, turn, event_type, event_data, confidence, source, created_at, narrative_ts, client_input_id, input_id, idempotency_key';
const newLedger = (db: Database) => new Ledger(db, { maxPayloadBytes: 65_536, maxBatch: 64, flushMs: 1 });
const partitionOf = async (db: Database, sessionId: string) =>
  (await db.query<{ p: string }>('SELECT DISTINCT tableoid::regclass::text AS p FROM event_ledger WHERE session_id = $1', [sessionId])).rows.map((r) => r.p);

describe.each(DRIVERS)('ledger partitions (%s)', (driver) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('migrates a populated 0006 ledger: every row, the id sequence, dedupe and appends keep working', async () => {
    t = await createTestDatabase(driver, { migrated: false });
    const db = t.db;
    await migrate(db, await migrationsUpTo(6));
    // Sessions of three different months (one of them in the current month) and rows written with the 0006 schema.
    const sessions = [
      { id: '00000000-0000-4000-8000-000000000001', createdAt: '2026-09-14T08:00:00Z' },
      { id: '00000000-0000-4000-8000-000000000002', createdAt: '2026-10-31T23:59:59.999Z' },
      { id: '00000000-0000-4000-8000-000000000003', createdAt: '2026-11-01T00:00:00Z' },
    ];
    for (const s of sessions) await db.query('INSERT INTO sessions (id, created_at, last_narrative_ts) VALUES ($1, $2, 300)', [s.id, s.createdAt]);
    for (const s of sessions) {
      // 100 inputs with client ids, each with a TurnCompleted (input_id) and an effect with an idempotency key.
      await db.query(
        `INSERT INTO event_ledger (session_id, scene_id, turn, event_type, event_data, source, narrative_ts, client_input_id, input_id, idempotency_key)
         SELECT $1::uuid, NULL, g / 3, CASE g % 3 WHEN 1 THEN 'PlayerInput' WHEN 2 THEN 'WorldStateChanged' ELSE 'TurnCompleted' END,
                CASE g % 3 WHEN 1 THEN jsonb_build_object('text', 'line ' || g, 'clientInputId', 'c-' || g)
                           WHEN 2 THEN jsonb_build_object('key', 'k' || g, 'old', NULL, 'new', g)
                           ELSE jsonb_build_object('inputId', 0) END,
                'player', g, CASE WHEN g % 3 = 1 THEN 'c-' || g END, NULL, CASE WHEN g % 3 = 2 THEN 'effect:' || g END
         FROM generate_series(1, 300) AS g`,
        [s.id],
      );
    }
    const before = (await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM event_ledger ORDER BY id`)).rows;
    const maxId = Math.max(...before.map((r) => Number(r.id)));
    expect(before).toHaveLength(900);

    const report = await migrate(db);
    expect(report.applied).toContain('0007_ledger_partitions.sql');

    const after = (await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM event_ledger ORDER BY id`)).rows;
    expect(after).toEqual(before);
    const kind = await db.query<{ relkind: string }>(`SELECT relkind::text AS relkind FROM pg_class WHERE relname = 'event_ledger'`);
    expect(kind.rows[0]?.relkind).toBe('p');
    // Each session's rows sit in its start month's partition, with the session's created_at as key.
    expect(await partitionOf(db, sessions[0]!.id)).toEqual(['event_ledger_y2026m09']);
    expect(await partitionOf(db, sessions[1]!.id)).toEqual(['event_ledger_y2026m10']);
    expect(await partitionOf(db, sessions[2]!.id)).toEqual(['event_ledger_y2026m11']);
    const keys = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM event_ledger l JOIN sessions s ON s.id = l.session_id WHERE l.session_started_at <> s.created_at',
    );
    expect(keys.rows[0]?.n).toBe(0);

    const ledger = newLedger(db);
    // Retransmission dedupe: the original row comes back.
    const original = before.find((r) => r.session_id === sessions[1]!.id && r.client_input_id === 'c-4')!;
    const again = await ledger.appendInput({ sessionId: sessions[1]!.id, clientInputId: 'c-4', text: 'line 4', sceneId: null, turn: 1 });
    expect(again).toMatchObject({ duplicate: true, id: Number(original.id), narrativeTs: 4 });
    // A new input: the id sequence continues past every migrated id, narrative_ts past the session's counter.
    const fresh = await ledger.appendInput({ sessionId: sessions[1]!.id, clientInputId: 'c-new', text: 'new', sceneId: null, turn: 101 });
    expect(fresh.duplicate).toBe(false);
    expect(fresh.id).toBeGreaterThan(maxId);
    expect(fresh.narrativeTs).toBeGreaterThan(300); // a deduped retransmission leaves a gap, as before
    // Effect idempotency keys dedupe too.
    const [effect] = await ledger.writeEvents(db, sessions[0]!.id, [
      { type: 'WorldStateChanged', data: { key: 'k2', old: null, new: 2 }, source: 'world', idempotencyKey: 'effect:2' },
    ]);
    expect(effect?.id).toBe(Number(before.find((r) => r.session_id === sessions[0]!.id && r.idempotency_key === 'effect:2')!.id));
    // Batched appends (group commit) across partitions.
    const batch = await Promise.all(sessions.map((s, i) => ledger.appendInput({ sessionId: s.id, clientInputId: `b-${i}`, text: 'batch', sceneId: null, turn: 1 })));
    expect(batch.map((b) => b.duplicate)).toEqual([false, false, false]);
    await ledger.close();

    // Uniqueness is still enforced by the database, and the partition key cannot lie about the session.
    const dup = await db.query(
      `INSERT INTO event_ledger (session_id, event_type, event_data, source, narrative_ts, session_started_at) VALUES ($1, 'X', '{}', 'x', 5, $2)`,
      [sessions[0]!.id, sessions[0]!.createdAt],
    ).catch((e: { code?: string }) => e);
    expect((dup as { code?: string }).code).toBe('23505');
    const lie = await db.query(
      `INSERT INTO event_ledger (session_id, event_type, event_data, source, narrative_ts, session_started_at) VALUES ($1, 'X', '{}', 'x', 999, $2)`,
      [sessions[0]!.id, sessions[1]!.createdAt],
    ).catch((e: { code?: string }) => e);
    expect((lie as { code?: string }).code).toBe('23503');
  });

  it('no failure at a month boundary: rows land in their month, a month without a partition uses DEFAULT until maintenance moves them out', async () => {
    t = await createTestDatabase(driver);
    const db = t.db;
    // Simulated date: the last instant of January 2031.
    expect(await ensureLedgerPartitions(db, new Date('2031-01-31T23:59:59.999Z'))).toBe(3);
    const names = (await listLedgerPartitions(db)).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['event_ledger_y2031m01', 'event_ledger_y2031m02', 'event_ledger_y2031m03', 'event_ledger_default']));
    const late = '00000000-0000-4000-8000-00000000000a';
    const early = '00000000-0000-4000-8000-00000000000b';
    const stray = '00000000-0000-4000-8000-00000000000c';
    await db.query('INSERT INTO sessions (id, created_at) VALUES ($1, $2), ($3, $4), ($5, $6)', [
      late, '2031-01-31T23:59:59.999Z', early, '2031-02-01T00:00:00Z', stray, '2032-06-15T12:00:00Z',
    ]);
    const ledger = newLedger(db);
    for (const id of [late, early, stray]) await ledger.appendInput({ sessionId: id, clientInputId: 'c-1', text: 'look', sceneId: null, turn: 1 });
    expect(await partitionOf(db, late)).toEqual(['event_ledger_y2031m01']);
    expect(await partitionOf(db, early)).toEqual(['event_ledger_y2031m02']);
    expect(await partitionOf(db, stray)).toEqual(['event_ledger_default']);
    const first = await ledger.appendInput({ sessionId: stray, clientInputId: 'c-1', text: 'look', sceneId: null, turn: 1 });
    expect(first.duplicate).toBe(true);

    // Daily maintenance on a simulated clock: the run on 2032-04-01 creates 2032-06 (two months ahead) and moves the stray row.
    const clock = new SimulatedClock();
    const start = Date.parse('2032-03-31T12:00:00Z');
    const maintenance = startPartitionMaintenance(db, { clock, now: () => start + clock.now(), intervalMs: 86_400_000 });
    await maintenance.idle();
    expect((await listLedgerPartitions(db)).map((p) => p.name)).not.toContain('event_ledger_y2032m06');
    clock.increment(86_400_000);
    await maintenance.idle();
    maintenance.stop();
    expect(await partitionOf(db, stray)).toEqual(['event_ledger_y2032m06']);
    const retransmitted = await ledger.appendInput({ sessionId: stray, clientInputId: 'c-1', text: 'look', sceneId: null, turn: 1 });
    expect(retransmitted).toMatchObject({ duplicate: true, id: first.id });
    const next = await ledger.appendInput({ sessionId: stray, clientInputId: 'c-2', text: 'look again', sceneId: null, turn: 2 });
    expect(next.duplicate).toBe(false);
    expect(next.narrativeTs).toBeGreaterThan(first.narrativeTs);
    expect(await partitionOf(db, stray)).toEqual(['event_ledger_y2032m06']);
    const rows = (await listLedgerPartitions(db)).find((p) => p.name === 'event_ledger_default')?.rows;
    expect(rows).toBe(0);
    await ledger.close();
  });
});
