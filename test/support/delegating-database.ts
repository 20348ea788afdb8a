import type { Database, Queryable, QueryOptions, QueryResult } from '../../src/persistence/database.ts';

/**
 * A Database that hands everything to another one (test support): subclasses override
 * the statements they want to fail, drop or observe.
 */
export class DelegatingDatabase implements Database {
  protected readonly inner: Database;

  constructor(inner: Database) {
    this.inner = inner;
  }

  get driver(): Database['driver'] {
    return this.inner.driver;
  }

  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    return this.inner.query<R>(sql, params, options);
  }

  exec(sql: string): Promise<void> {
    return this.inner.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.inner.transaction(fn);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
