import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorytellerError } from '../../../src/errors.ts';
import type { Database, Queryable } from '../../../src/persistence/database.ts';
import { auditFailures, auditLedger } from '../../../src/testing/ledger-audit.ts';
import { TestingKit } from '../../../src/testing/testing-kit.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

/**
 * A scene exit during a database outage (issue 13): the scene-exit transaction is
 * retried instead of failing the session, and a retry whose first attempt had committed
 * before the connection dropped finds that attempt's SceneExited and writes nothing again.
 * The database is real; only the outcome the engine SEES of the exit transaction is
 * replaced (refused before it runs, or its COMMIT's reply lost), as a dropped connection does.
 */
type Mode = { kind: 'refuse'; times: number } | { kind: 'lose-reply'; times: number };

class FlakyExitDatabase implements Database {
  readonly #inner: Database;
  mode: Mode | null = null;
  /** Scene-exit transactions the engine attempted. */
  exitAttempts = 0;

  constructor(inner: Database) {
    this.#inner = inner;
  }
  get driver(): Database['driver'] {
    return this.#inner.driver;
  }
  query: Database['query'] = (sql, params, options) => this.#inner.query(sql, params, options);
  exec: Database['exec'] = (sql) => this.#inner.exec(sql);
  close(): Promise<void> {
    return Promise.resolve();
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let isExit = false;
    const spy = (tx: Queryable): Queryable => ({
      query: (sql, params, options) => {
        // The exit transaction looks its SceneExited up by key (scene:<n>:exited) first.
        if ((params ?? []).some((p) => typeof p === 'string' && p.endsWith(':exited'))) isExit = true;
        return tx.query(sql, params, options);
      },
      exec: (sql) => tx.exec(sql),
    });
    const mode = this.mode;
    if (mode?.kind === 'refuse' && mode.times > 0) {
      // Not yet known to be an exit: refuse every transaction while armed (as a down server would).
      mode.times -= 1;
      this.exitAttempts += 1;
      throw new StorytellerError('STORAGE_UNAVAILABLE', 'database unavailable: connect ECONNREFUSED (simulated)');
    }
    const result = await this.#inner.transaction((tx) => fn(spy(tx)));
    if (isExit) this.exitAttempts += 1;
    if (isExit && mode?.kind === 'lose-reply' && mode.times > 0) {
      mode.times -= 1;
      // COMMIT went through; the reply never came back.
      throw new StorytellerError('STORAGE_UNAVAILABLE', 'database unavailable: Connection terminated unexpectedly (simulated, after COMMIT)');
    }
    return result;
  }
}

describe('scene exit during a database outage (pg)', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('pg');
  });
  afterAll(async () => {
    await tdb.close();
  });

  const exitsOf = async (sessionId: string) =>
    (
      await tdb.db.query<{ type: string; n: number }>(
        `SELECT event_type AS type, count(*)::int AS n FROM event_ledger WHERE session_id = $1 AND event_type IN ('SceneExited', 'SceneEntered') GROUP BY 1 ORDER BY 1`,
        [sessionId],
      )
    ).rows;
  const exitCheckpoints = async (sessionId: string) =>
    (await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM checkpoints WHERE session_id = $1 AND checkpoint_type = 'scene_exit'`, [sessionId])).rows[0]?.n;

  for (const mode of [
    { kind: 'lose-reply', times: 2 },
    { kind: 'refuse', times: 3 },
  ] as const) {
    it(`${mode.kind === 'lose-reply' ? 'the exit committed but its reply was lost (twice)' : 'the exit transaction was refused (three times)'}: retried, written once, the session plays on`, async () => {
      const flaky = new FlakyExitDatabase(tdb.db);
      const kit = await TestingKit.create({ db: flaky });
      const s = await kit.createSession();
      await s.play('hello');
      await s.whenIdle();
      const failed: string[] = [];
      s.handle.on('failed', (f) => failed.push(f.error.code));
      const exited = s.next('sceneExited');
      const entered = s.next('sceneEntered');
      flaky.mode = { ...mode };
      await s.play('leave'); // the storykeeper ends the scene: the exit transaction runs
      await exited;
      await entered;
      await s.whenIdle();
      expect(failed).toEqual([]);
      expect(flaky.exitAttempts).toBe(mode.times + 1);
      // Next scene, playing on.
      expect((await s.play('look')).text).toContain('look');
      await s.whenIdle();
      expect(await exitsOf(s.id)).toEqual([
        { type: 'SceneEntered', n: 2 },
        { type: 'SceneExited', n: 1 },
      ]);
      expect(await exitCheckpoints(s.id)).toBe(1);
      const audit = await auditLedger(tdb.db, { sessionIds: [s.id], acked: kit.acks.map((a) => ({ sessionId: a.sessionId, clientInputId: a.clientInputId, inputId: a.inputId })) });
      expect(auditFailures(audit)).toEqual([]);
      expect(audit.sceneExits).toBe(1);
      await kit.shutdown();
    });
  }
});
