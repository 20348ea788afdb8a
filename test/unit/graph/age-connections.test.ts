import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../../src/persistence/database.ts';
import { PoolAgeConnections } from '../../../src/persistence/graph/age-connections.ts';

/** A stand-in for pg.Pool handing out two clients in turn, recording every statement. */
function fakePool(failOn?: string) {
  const log: Array<{ client: number; sql: string }> = [];
  const released: Array<{ client: number; broken: boolean }> = [];
  const clients = [0, 1].map((n) => ({
    async query(sql: string) {
      log.push({ client: n, sql });
      if (failOn && sql === failOn) throw new Error(`fails: ${sql}`);
      return { rows: [{ path: '"$user", public' }], rowCount: 1 };
    },
    release(broken?: boolean) {
      released.push({ client: n, broken: broken === true });
    },
    // The 'error' listener held while checked out (a server going away must not crash the process).
    on() {},
    off() {},
  }));
  let next = 0;
  const pool = { connect: async () => clients[next++ % 2]! } as unknown as pg.Pool;
  return { pool, log, released };
}

describe('PoolAgeConnections', () => {
  it('loads AGE once per pooled connection and changes no session setting (those are connection options of its own pool)', async () => {
    const { pool, log } = fakePool();
    const connections = new PoolAgeConnections(pool);
    for (let i = 0; i < 4; i++) await connections.run((q) => q.query('SELECT 1'));
    expect(log).toEqual([
      { client: 0, sql: `LOAD 'age'` },
      { client: 0, sql: 'SELECT 1' },
      { client: 1, sql: `LOAD 'age'` },
      { client: 1, sql: 'SELECT 1' },
      { client: 0, sql: 'SELECT 1' },
      { client: 1, sql: 'SELECT 1' },
    ]);
  });

  it('wraps work in BEGIN … COMMIT, and rolls back and rethrows on failure', async () => {
    const { pool, log, released } = fakePool('BAD');
    const connections = new PoolAgeConnections(pool);
    await connections.run((q) => q.query('GOOD'), { transaction: true });
    const error = await connections.run((q) => q.query('BAD'), { transaction: true }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('fails: BAD');
    expect(log.map((l) => l.sql).filter((s) => !s.startsWith('LOAD') && !s.startsWith('SET'))).toEqual(['BEGIN', 'GOOD', 'COMMIT', 'BEGIN', 'BAD', 'ROLLBACK']);
    expect(released).toEqual([
      { client: 0, broken: false },
      { client: 1, broken: false },
    ]);
  });

  it("prepares a caller's transaction with transaction-local settings only, and restores them afterwards", async () => {
    const seen: Array<{ sql: string; params?: readonly unknown[] }> = [];
    const tx: Queryable = {
      async query<R extends object>(sql: string, params?: readonly unknown[]) {
        seen.push(params ? { sql, params } : { sql });
        return { rows: [{ path: 'storyteller_test, public', jit: 'on' }] as unknown as R[], rowCount: 1 };
      },
      exec: async () => undefined,
    };
    const restore = await new PoolAgeConnections(fakePool().pool).joinTransaction(tx);
    await restore();
    expect(seen[0]).toEqual({ sql: `LOAD 'age'` });
    expect(seen[1]!.sql).toMatch(/set_config\('search_path', \$1, true\).*set_config\('jit', 'off', true\)/s);
    expect(seen[1]!.params).toEqual(['ag_catalog, "$user", public']);
    expect(seen[2]).toEqual({ sql: `SELECT set_config('search_path', $1, true), set_config('jit', $2, true)`, params: ['storyteller_test, public', 'on'] });
    // Nothing session-level: every set_config is transaction-local, and no SET statement at all.
    for (const { sql } of seen) expect(sql).not.toMatch(/^\s*SET\b|set_config\([^)]*false\)/i);
  });
});
