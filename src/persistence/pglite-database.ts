import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.ts';

// Same number handling as the pg driver: BIGINT as JS numbers.
const parsers = { 20: (value: string) => Number(value) };

function wrap(client: Pick<PGlite, 'query' | 'exec'>): Queryable {
  return {
    async query<R extends object>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const result = await client.query<R>(sql, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await client.exec(sql);
    },
  };
}

/**
 * The embedded default: PostgreSQL compiled to WASM, file-backed under the data
 * directory (or in memory when `dataDir` is undefined). One connection; PGlite
 * queues queries behind an open transaction.
 */
export class PgliteDatabase implements Database {
  readonly driver = 'pglite' as const;
  readonly #db: PGlite;
  readonly #root: Queryable;

  private constructor(db: PGlite) {
    this.#db = db;
    this.#root = wrap(db);
  }

  static async open(dataDir?: string): Promise<PgliteDatabase> {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir ?? 'memory://', { parsers });
    return new PgliteDatabase(db);
  }

  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#root.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.#root.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#db.transaction((tx) => fn(wrap(tx)));
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
