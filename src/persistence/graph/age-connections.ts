import type pg from 'pg';
import type { Queryable } from '../database.ts';
import { mapDriverError, wrapPgClient } from '../pg-database.ts';
import { AGE_SESSION_SETUP } from './age-cypher.ts';

/**
 * Connections on which AGE is usable. `LOAD 'age'` and the search_path are per
 * connection, and a pool hands out connections made before the store existed — so each
 * pooled client is prepared on first use and remembered.
 */
export interface AgeConnections {
  /** Runs `fn` on a prepared connection; with `transaction`, inside BEGIN … COMMIT. */
  run<T>(fn: (q: Queryable) => Promise<T>, options?: { transaction?: boolean }): Promise<T>;
  /**
   * Prepares a caller's open transaction for AGE statements (scene exit writes the graph
   * in its own transaction). Returns a function restoring the caller's search_path.
   */
  joinTransaction(tx: Queryable): Promise<() => Promise<void>>;
}

export class PoolAgeConnections implements AgeConnections {
  readonly #pool: pg.Pool;
  readonly #prepared = new WeakSet<pg.PoolClient>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async run<T>(fn: (q: Queryable) => Promise<T>, options: { transaction?: boolean } = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw mapDriverError(error);
    }
    let broken = false;
    try {
      const q = wrapPgClient(client);
      if (!this.#prepared.has(client)) {
        for (const statement of AGE_SESSION_SETUP) await q.query(statement);
        this.#prepared.add(client);
      }
      if (!options.transaction) return await fn(q);
      await q.query('BEGIN');
      try {
        const result = await fn(q);
        await q.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  async joinTransaction(tx: Queryable): Promise<() => Promise<void>> {
    const { rows } = await tx.query<{ path: string }>(`SELECT current_setting('search_path') AS path`);
    const previous = rows[0]!.path;
    await tx.query(AGE_SESSION_SETUP[0]);
    await tx.query(`SELECT set_config('search_path', 'ag_catalog, "$user", public', true)`);
    return async () => {
      await tx.query(`SELECT set_config('search_path', $1, true)`, [previous]);
    };
  }
}
