/**
 * The one small interface every persistence module is written against. Two drivers
 * implement it: `pg` for a PostgreSQL server and PGlite for the embedded default.
 * Same SQL for both.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /** Prepared-statement name for a hot statement: `pg` parses and plans it once per connection; PGlite ignores it. */
  name?: string;
}

export interface Queryable {
  /** One parameterised statement. */
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly driver: 'pg' | 'pglite';
  /** Runs `fn` inside BEGIN … COMMIT; any throw rolls back and is rethrown. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
