import type { Database, Queryable, QueryOptions, QueryResult } from '../persistence/database.ts';
import { StorytellerError } from '../errors.ts';

/**
 * A Database wrapper whose handle can be made unusable at once (`fence()`), as a dead
 * process's connections would be: every later query, exec or transaction step of THIS
 * handle fails with STORAGE_UNAVAILABLE, while the database itself (and other handles
 * on it, e.g. the restarted engine's) carry on. Statements already sent may still
 * commit — as after a real crash.
 */
export class CrashableDatabase implements Database {
  readonly #inner: Database;
  #fenced = false;

  constructor(inner: Database) {
    this.#inner = inner;
  }

  get driver(): Database['driver'] {
    return this.#inner.driver;
  }

  get fenced(): boolean {
    return this.#fenced;
  }

  fence(): void {
    this.#fenced = true;
  }

  #check(): void {
    if (this.#fenced) throw new StorytellerError('STORAGE_UNAVAILABLE', 'database handle of a crashed engine');
  }

  #wrap(q: Queryable): Queryable {
    return {
      query: <R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> => {
        try {
          this.#check();
        } catch (error) {
          return Promise.reject(error);
        }
        return q.query<R>(sql, params, options);
      },
      exec: (sql: string): Promise<void> => {
        try {
          this.#check();
        } catch (error) {
          return Promise.reject(error);
        }
        return q.exec(sql);
      },
    };
  }

  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    return this.#wrap(this.#inner).query<R>(sql, params, options);
  }

  exec(sql: string): Promise<void> {
    return this.#wrap(this.#inner).exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      this.#check();
    } catch (error) {
      return Promise.reject(error);
    }
    // A fenced handle fails its next statement, so the transaction rolls back (unless COMMIT was already sent).
    return this.#inner.transaction((tx) => fn(this.#wrap(tx)));
  }

  /** Closing a crashable handle never closes the shared database. */
  async close(): Promise<void> {
    this.#fenced = true;
  }
}
