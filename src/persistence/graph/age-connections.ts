import pg from 'pg';
import type { Queryable } from '../database.ts';
import { mapDriverError, wrapPgClient, type PgDatabase } from '../pg-database.ts';
import { AGE_LOAD, AGE_SEARCH_PATH, AGE_SESSION_OPTIONS } from './age-cypher.ts';

/**
 * Connections on which AGE statements run correctly and fast: `ag_catalog` on the
 * search_path (AGE's generated SQL names its operators unqualified) and JIT off (AGE's cost
 * estimates cross PostgreSQL's JIT thresholds, so every statement would spend 300–400 ms
 * compiling a few milliseconds of work).
 */
export interface AgeConnections {
  /** Runs `fn` on a prepared connection; with `transaction`, inside BEGIN … COMMIT. */
  run<T>(fn: (q: Queryable) => Promise<T>, options?: { transaction?: boolean }): Promise<T>;
  /**
   * Prepares a caller's open transaction for AGE statements (scene exit writes the graph
   * in its own transaction), with transaction-local settings only. Returns a function
   * restoring the caller's search_path and jit for the rest of its transaction.
   */
  joinTransaction(tx: Queryable): Promise<() => Promise<void>>;
  /** Ends connections the store owns. */
  close?(): Promise<void>;
}

/**
 * The store's own pool, beside the engine's: its connections start with
 * `search_path=ag_catalog,…` and `jit=off` (libpq `options`), so those session settings
 * never reach a connection the engine's migrations and queries use — setting them on the
 * shared pool once made `migrate` create every project table inside ag_catalog.
 * `LOAD 'age'` runs once per connection (a no-op where `shared_preload_libraries` has it).
 */
export class PoolAgeConnections implements AgeConnections {
  readonly #pool: pg.Pool;
  readonly #loaded = new WeakSet<pg.PoolClient>();

  /** `pool` must be the store's alone: see `forDatabase`. */
  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** A dedicated pool to `db`'s server and database, as large as `db`'s, with AGE's session settings. */
  static forDatabase(db: PgDatabase): PoolAgeConnections {
    const base = db.pool.options;
    const pool = new pg.Pool({
      ...base,
      application_name: `${base.application_name ?? 'storyteller'}-graph`,
      options: AGE_SESSION_OPTIONS,
      // Idle graph connections must not keep a finished CLI process alive.
      allowExitOnIdle: true,
    });
    pool.on('error', () => undefined);
    return new PoolAgeConnections(pool);
  }

  async run<T>(fn: (q: Queryable) => Promise<T>, options: { transaction?: boolean } = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw mapDriverError(error);
    }
    let broken = false;
    // A checked-out client has no pool listener: the server going away must not be an unhandled 'error'.
    const lost = (): void => {
      broken = true;
    };
    client.on('error', lost);
    try {
      const q = wrapPgClient(client);
      if (!this.#loaded.has(client)) {
        await q.query(AGE_LOAD);
        this.#loaded.add(client);
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
      client.off('error', lost);
      client.release(broken);
    }
  }

  async joinTransaction(tx: Queryable): Promise<() => Promise<void>> {
    await tx.query(AGE_LOAD);
    // The subquery reads the caller's values before set_config changes them (OFFSET 0 keeps it a separate step).
    const { rows } = await tx.query<{ path: string; jit: string }>(
      `SELECT s.path, s.jit, set_config('search_path', $1, true) AS p, set_config('jit', 'off', true) AS j
         FROM (SELECT current_setting('search_path') AS path, current_setting('jit') AS jit OFFSET 0) s`,
      [AGE_SEARCH_PATH],
    );
    const previous = rows[0]!;
    return async () => {
      await tx.query(`SELECT set_config('search_path', $1, true), set_config('jit', $2, true)`, [previous.path, previous.jit]);
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
