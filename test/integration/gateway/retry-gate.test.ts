import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorytellerError } from '../../../src/errors.ts';
import { startGateway } from '../../../src/gateway/server.ts';
import { TokenSigner } from '../../../src/gateway/tokens.ts';
import type { QueryOptions, QueryResult } from '../../../src/persistence/database.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { DelegatingDatabase } from '../../support/delegating-database.ts';
import { GatewaySocket } from '../../support/gateway-socket.ts';

/**
 * A line refused with a retryable code (STORAGE_UNAVAILABLE from the input append) gates
 * the connection that sent it — its later lines are refused until it comes again, so its
 * resend keeps the order typed — and no other device on the same session. Real engine on
 * PostgreSQL, real sockets; the refusal is a database on which every statement naming one
 * client input id fails as a lost connection would (everything else reaches PostgreSQL).
 */
class RefusingInputs extends DelegatingDatabase {
  /** A clientInputId whose statements fail with STORAGE_UNAVAILABLE. */
  refusing: string | null = null;
  override query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    if (this.refusing !== null && JSON.stringify(params ?? []).includes(JSON.stringify(this.refusing)))
      return Promise.reject(new StorytellerError('STORAGE_UNAVAILABLE', 'database unavailable: test refusal'));
    return super.query<R>(sql, params, options);
  }
  /** The test database outlives the engine. */
  override close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('retryable refusals gate one connection, not the session (pg)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  it("a second device's lines go through while the first device's refused line waits for its resend; the first keeps its order", async () => {
    const db = new RefusingInputs(tdb.db);
    const kit = await TestingKit.create({ db });
    const tokens = new TokenSigner('test-secret-of-at-least-thirty-two-characters', () => kit.now());
    const gateway = await startGateway({ engine: kit.engine, db, tokens, defaultStoryId: 'minimal', clocks: { clock: kit.clock, now: () => kit.now() }, staticDir: null });
    const a = await GatewaySocket.open(`ws://127.0.0.1:${gateway.port}/ws`);
    const b = await GatewaySocket.open(`ws://127.0.0.1:${gateway.port}/ws`);
    try {
      const ready = await a.start();
      await b.resume(ready.token, ready.sessionId);
      await a.play('a-0', 'look');

      db.refusing = 'a-1';
      a.send({ type: 'input', clientInputId: 'a-1', text: 'first line' });
      expect(await a.next('error', (e) => e.clientInputId === 'a-1')).toMatchObject({ code: 'STORAGE_UNAVAILABLE', ref: 'input' });
      db.refusing = null;

      // The other device is not held up by a-1.
      const fromB = await b.play('b-1', 'from the other device');
      expect(fromB.ack.duplicate).toBe(false);
      // The first device's next line waits for a-1: refused, and named.
      a.send({ type: 'input', clientInputId: 'a-2', text: 'second line' });
      expect(await a.next('error', (e) => e.clientInputId === 'a-2')).toMatchObject({ code: 'STORAGE_UNAVAILABLE', ref: 'input' });
      // Its resend, in order.
      await a.play('a-1', 'first line');
      await a.play('a-2', 'second line');

      const rows = await tdb.db.query<{ client_input_id: string }>(
        `SELECT client_input_id FROM event_ledger WHERE session_id = $1 AND event_type = 'PlayerInput' ORDER BY narrative_ts`,
        [ready.sessionId],
      );
      expect(rows.rows.map((r) => r.client_input_id)).toEqual(['a-0', 'b-1', 'a-1', 'a-2']);
    } finally {
      a.ws.terminate();
      b.ws.terminate();
      await gateway.close();
      await kit.shutdown();
    }
  });
});
