import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryOptions, QueryResult } from '../../../src/persistence/database.ts';
import { StorytellerError } from '../../../src/errors.ts';
import { Ledger } from '../../../src/persistence/ledger.ts';
import { SessionStore } from '../../../src/persistence/sessions.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { auditFailures, auditLedger, replayTruthSet } from '../../../src/testing/ledger-audit.ts';
import { DelegatingDatabase } from '../../support/delegating-database.ts';
import { createTestDatabase, DRIVERS, type TestDatabase } from '../../support/test-database.ts';

/**
 * The connection drops while a group commit is in flight (issue 9, defect 4). `after`: the
 * statement committed but its reply was lost; `before`: it never reached the server. Either
 * way the client sees the truth: the committed row with its original id, or a typed
 * STORAGE_UNAVAILABLE after which a retransmission with the same clientInputId is played once.
 */
class DropsConnection extends DelegatingDatabase {
  #armed: 'before' | 'after' | 'after-unresolved' | null = null;
  #failLookup = false;
  /** How many appends lost their connection (a test checks the fault really happened). */
  dropped = 0;
  /** The next player-input append loses its connection (before or after the server ran it). */
  arm(when: 'before' | 'after' | 'after-unresolved'): void {
    this.#armed = when;
  }
  override async query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    const when = this.#armed;
    if (when && /INSERT INTO event_ledger/.test(sql) && /client_input_id/.test(options?.name ?? '')) {
      this.#armed = null;
      this.dropped += 1;
      if (when !== 'before') await this.inner.query<R>(sql, params, options);
      // 'after-unresolved': the ledger's lookup of the outcome fails too (still no connection).
      this.#failLookup = when === 'after-unresolved';
      throw new StorytellerError('STORAGE_UNAVAILABLE', 'database unavailable: Connection terminated unexpectedly');
    }
    if (this.#failLookup && /AS k\(ord, session_id, client_input_id\)/.test(sql)) {
      this.#failLookup = false;
      throw new StorytellerError('STORAGE_UNAVAILABLE', 'database unavailable: Connection terminated unexpectedly');
    }
    return this.inner.query<R>(sql, params, options);
  }
}

describe.each(DRIVERS)('an input append whose connection drops (%s)', (driver) => {
  let tdb: TestDatabase;
  let db: DropsConnection;
  beforeAll(async () => {
    tdb = await createTestDatabase(driver);
    db = new DropsConnection(tdb.db);
    await tdb.db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ('s', 's', '{}'::jsonb, 'x')`);
  });
  afterAll(async () => {
    await tdb.close();
  });

  const rows = async (sessionId: string) =>
    (await tdb.db.query<{ id: string; client_input_id: string }>(`SELECT id, client_input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput'`, [sessionId])).rows;

  it('committed, reply lost: resolved by (session_id, client_input_id) to the original row', async () => {
    const session = await new SessionStore(tdb.db).create({ storyId: 's' });
    const ledger = new Ledger(db, { maxPayloadBytes: 65536, maxBatch: 8, flushMs: 1 });
    db.arm('after');
    const appended = await ledger.appendInput({ sessionId: session.id, clientInputId: 'c-1', text: 'look', sceneId: null, turn: 1 });
    const stored = await rows(session.id);
    expect(stored).toHaveLength(1);
    expect(appended.id).toBe(Number(stored[0]?.id));
    // The retransmission gets the same id back and writes nothing.
    const again = await ledger.appendInput({ sessionId: session.id, clientInputId: 'c-1', text: 'look', sceneId: null, turn: 1 });
    expect(again).toMatchObject({ id: appended.id, duplicate: true });
    expect(await rows(session.id)).toHaveLength(1);
    await ledger.close();
  });

  it('never reached the server: STORAGE_UNAVAILABLE, nothing written; the retransmission is written once', async () => {
    const session = await new SessionStore(tdb.db).create({ storyId: 's' });
    const ledger = new Ledger(db, { maxPayloadBytes: 65536, maxBatch: 8, flushMs: 1 });
    db.arm('before');
    await expect(ledger.appendInput({ sessionId: session.id, clientInputId: 'c-1', text: 'look', sceneId: null, turn: 1 })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(await rows(session.id)).toHaveLength(0);
    const again = await ledger.appendInput({ sessionId: session.id, clientInputId: 'c-1', text: 'look', sceneId: null, turn: 1 });
    expect(again.duplicate).toBe(false);
    expect(await rows(session.id)).toHaveLength(1);
    await ledger.close();
  });

  it('through the engine: a lost reply is acked with the committed id and played once', async () => {
    const kit = await TestingKit.create({ db, storyId: 's' });
    const s = await kit.createSession();
    await s.play('hello', 'c-1');
    db.arm('after');
    const dropped = db.dropped;
    const answer = await s.play('take lamp', 'c-2');
    expect(db.dropped).toBe(dropped + 1);
    expect(answer.text).toContain('take lamp');
    const ack = kit.acks.find((a) => a.clientInputId === 'c-2');
    expect(ack?.inputId).toBe(answer.inputId);
    await s.whenIdle();
    expect(auditFailures(await auditLedger(tdb.db, { sessionIds: [s.id], acked: kit.acks }))).toEqual([]);
    await kit.shutdown();
  });

  it('through the engine: committed but unresolvable, retransmitted after later rows committed: played once, the truth set stays the ledger’s', async () => {
    const kit = await TestingKit.create({ db, storyId: 's' });
    const s = await kit.createSession();
    await s.play('hello', 'c-1');
    db.arm('after-unresolved');
    // The row commits, but neither the reply nor the lookup comes back: refused as STORAGE_UNAVAILABLE.
    await expect(s.play('take lamp', 'c-2')).rejects.toThrow(/STORAGE_UNAVAILABLE/);
    // Later rows of the session commit after it…
    await s.play('look', 'c-3');
    await s.whenIdle();
    // … then the client retransmits c-2: the original row comes back (behind what the truth set covers) and is played once.
    const answer = await s.play('take lamp', 'c-2');
    expect(answer.text).toContain('take lamp');
    await s.whenIdle();
    expect(kit.answersFor(s.id, 'c-2')).toHaveLength(1);
    expect(s.handle.actor.getSnapshot().context.truthSet).toEqual(await replayTruthSet(tdb.db, s.id));
    expect(auditFailures(await auditLedger(tdb.db, { sessionIds: [s.id], acked: kit.acks }))).toEqual([]);
    await kit.shutdown();
  });

  it('through the engine: refused when it never committed; the client’s retransmission is played once and the truth set stays the ledger’s', async () => {
    const kit = await TestingKit.create({ db, storyId: 's' });
    const s = await kit.createSession();
    await s.play('hello', 'c-1');
    db.arm('before');
    await expect(s.play('take lamp', 'c-2')).rejects.toThrow(/STORAGE_UNAVAILABLE/);
    const answer = await s.play('take lamp', 'c-2');
    expect(answer.text).toContain('take lamp');
    await s.whenIdle();
    expect(kit.answersFor(s.id, 'c-2')).toHaveLength(1);
    expect(auditFailures(await auditLedger(tdb.db, { sessionIds: [s.id], acked: kit.acks }))).toEqual([]);
    await kit.shutdown();
  });
});
