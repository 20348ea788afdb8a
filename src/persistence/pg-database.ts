import pg from 'pg';
import { StorytellerError } from '../errors.ts';
import type { Database, Queryable, QueryOptions, QueryResult } from './database.ts';

// BIGINT (ledger ids, narrative_ts) as JS numbers on both drivers: safe below 2^53.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * Every pooled client keeps a listener for 'error' for its whole life. pg emits 'error' on a
 * client when the server ends its connection while no query of it is running (57P01 on a
 * restart): the pool listens only while a client is idle, this module's transaction only
 * while it holds one, and a client the pool has just discarded has no listener at all. An
 * 'error' event without a listener ends the process (seen: `serve` killed by a 57P01 during
 * the PostgreSQL restart test). The error itself is not lost: the query that needed the
 * connection fails with it (STORAGE_UNAVAILABLE), and the pool drops the client.
 */
class ListeningClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001', '08003']);

/** Connection-level failures become STORAGE_UNAVAILABLE; SQL errors pass through untouched. */
export function mapDriverError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) {
    return new StorytellerError('STORAGE_UNAVAILABLE', `database unavailable: ${(error as Error).message}`, { cause: error });
  }
  if (error instanceof Error && /Connection terminated|connection is closed|Client has encountered a connection error/i.test(error.message)) {
    return new StorytellerError('STORAGE_UNAVAILABLE', `database unavailable: ${error.message}`, { cause: error });
  }
  return error;
}

/** A pool or a checked-out client as a `Queryable`, with driver errors mapped. */
export function wrapPgClient(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R extends object>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
      try {
        const values = params as unknown[] | undefined;
        const result = options?.name ? await client.query<R>({ name: options.name, text: sql, values }) : await client.query<R>(sql, values);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      } catch (error) {
        throw mapDriverError(error);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (error) {
        throw mapDriverError(error);
      }
    },
  };
}

export interface PgDatabaseOptions {
  connectionString: string;
  maxConnections?: number;
  applicationName?: string;
}

export class PgDatabase implements Database {
  readonly driver = 'pg' as const;
  readonly pool: pg.Pool;
  readonly #root: Queryable;

  constructor(options: PgDatabaseOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      application_name: options.applicationName ?? 'storyteller',
      types,
      Client: ListeningClient,
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
    this.#root = wrapPgClient(this.pool);
  }

  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    return this.#root.query<R>(sql, params, options);
  }

  exec(sql: string): Promise<void> {
    return this.#root.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw mapDriverError(error);
    }
    let broken = false;
    // While checked out, a client has no pool listener: a server going away (57P01 on a
    // restart) would be an unhandled 'error' event and end the process. The query in
    // flight fails on its own (STORAGE_UNAVAILABLE); the client is then discarded.
    const lost = (): void => {
      broken = true;
    };
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      const result = await fn(wrapPgClient(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw mapDriverError(error);
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
