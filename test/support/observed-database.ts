import type { Database, Queryable, QueryOptions, QueryResult } from '../../src/persistence/database.ts';

/**
 * A Database wrapper that records every statement and whether its result has come back
 * (test support). An autocommitted statement whose result came back is committed, so a
 * test can ask, at the exact moment an event is emitted, whether a given write had
 * already committed.
 */
export interface ObservedStatement {
  sql: string;
  params: readonly unknown[];
  resolved: boolean;
}

export class ObservedDatabase implements Database {
  readonly statements: ObservedStatement[] = [];
  readonly #inner: Database;

  constructor(inner: Database) {
    this.#inner = inner;
  }

  get driver(): Database['driver'] {
    return this.#inner.driver;
  }

  #observe(q: Queryable): Queryable {
    return {
      query: async <R extends object = Record<string, unknown>>(sql: string, params: readonly unknown[] = [], options?: QueryOptions): Promise<QueryResult<R>> => {
        const entry: ObservedStatement = { sql, params, resolved: false };
        this.statements.push(entry);
        const result = await q.query<R>(sql, params, options);
        entry.resolved = true;
        return result;
      },
      exec: (sql: string) => q.exec(sql),
    };
  }

  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    return this.#observe(this.#inner).query<R>(sql, params, options);
  }

  exec(sql: string): Promise<void> {
    return this.#inner.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#inner.transaction((tx) => fn(this.#observe(tx)));
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Has the autocommitted statement that appended this client input come back (= committed)? */
  inputCommitted(clientInputId: string): boolean {
    return this.statements.some((s) => s.resolved && /INSERT INTO event_ledger/.test(s.sql) && JSON.stringify(s.params).includes(JSON.stringify(clientInputId)));
  }
}
