import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startGateway } from '../../../src/gateway/server.ts';
import { CLOSE } from '../../../src/gateway/protocol.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import type { QueryOptions, QueryResult } from '../../../src/persistence/database.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { DelegatingDatabase } from '../../support/delegating-database.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { TrackedPlayer } from '../../support/ws-player.ts';

/**
 * A session that fails while playing does not strand what it acknowledged. Its turn's event
 * batch is refused by the database for good (a data error) — held until the player's next
 * line is acknowledged, so that line waits inside the failing actor — and the session fails.
 * The gateway closes the connection with 4500; the real PlayerClient reconnects and resumes,
 * the engine reopens the session from its checkpoint, re-runs the turn whose TurnCompleted
 * never landed, and plays the waiting line. Real engine on PostgreSQL, real sockets.
 */
class RefusingTurnBatches extends DelegatingDatabase {
  /** While armed, every statement writing a TurnCompleted fails with a data error (after `gate`). */
  armed = false;
  gate: Promise<void> = Promise.resolve();
  override async query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    if (this.armed && JSON.stringify(params ?? []).includes('"TurnCompleted"')) {
      await this.gate;
      throw Object.assign(new Error('invalid input syntax (test refusal)'), { code: '22P02' });
    }
    return super.query<R>(sql, params, options);
  }
  /** The test database outlives the engine. */
  override close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('a session that fails in play is resumed by its clients (pg)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  it('closes 4500; the client reconnects and resumes; the acknowledged, unanswered line is played; no turn is stored twice', async () => {
    const db = new RefusingTurnBatches(tdb.db);
    const kit = await TestingKit.create({ db });
    const tokens = new TokenSigner('test-secret-of-at-least-thirty-two-characters', () => kit.now());
    const gateway = await startGateway({ engine: kit.engine, db, tokens, defaultStoryId: 'minimal', clocks: { clock: kit.clock, now: () => kit.now() }, staticDir: null });
    const player = new TrackedPlayer({ url: `ws://127.0.0.1:${gateway.port}/ws`, backoffBaseMs: 20, backoffMaxMs: 200 });
    onTestFailed(() => console.error(player.describe()));
    try {
      await player.start();
      const first = player.type('look');
      await player.answered(first);
      const sessionId = player.sessionId as string;
      const turnsStored = async () =>
        (await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND event_type = 'TurnCompleted'`, [sessionId])).rows[0]?.n;
      // The first turn's batch is durable before the refusals start.
      await expect.poll(turnsStored, { timeout: 10_000, interval: 20 }).toBe(1);

      let release = () => {};
      db.gate = new Promise<void>((r) => (release = r));
      db.armed = true;
      const second = player.type('listen');
      // Answered before its batch is durable (the answer never waits for the ledger)…
      await player.answered(second);
      // …and the next line is acknowledged while that batch is held: it waits in the actor.
      const third = player.type('wait');
      await player.acked(third);
      release();

      await player.until(() => player.closeCodes.includes(CLOSE.SESSION_FAILED), 'close 4500');
      expect(player.refusals.some((r) => r.code === 'LEDGER_WRITE_FAILED')).toBe(true);
      db.armed = false;
      await player.answered(third);
      await player.allAnswered();

      // The oracle: the database alone. Every input once; every input's turn completed once
      // (an answer leaves before its TurnCompleted is durable: wait for the third).
      await expect.poll(turnsStored, { timeout: 10_000, interval: 20 }).toBe(3);
      const rows = await tdb.db.query<{ id: number; event_type: string; client_input_id: string | null; input_id: number | null }>(
        `SELECT id, event_type, client_input_id, input_id FROM event_ledger WHERE session_id = $1 AND event_type IN ('PlayerInput', 'TurnCompleted') ORDER BY narrative_ts`,
        [sessionId],
      );
      const inputs = rows.rows.filter((r) => r.event_type === 'PlayerInput');
      expect(inputs.map((r) => r.client_input_id)).toEqual([first, second, third]);
      const completed = rows.rows.filter((r) => r.event_type === 'TurnCompleted').map((r) => r.input_id);
      expect(completed).toEqual(inputs.map((r) => r.id));
    } finally {
      await player.close();
      await gateway.close();
      await kit.shutdown();
    }
  });
});
