/**
 * The connections the local catalog's queries run on, apart from the catalog's own connection (which
 * makes every change: bookkeeping, partitions, the query views). DuckDB runs each connection's
 * statement on a thread of its own, so queries can run side by side.
 */
import { availableParallelism } from 'node:os';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import pLimit from 'p-limit';
import { sqlString } from './duckdb-sql.js';

interface ReaderConnection {
  connection: DuckDBConnection;
  /** The search path this connection has now (a session setting of each connection). */
  searchPath?: string;
}

/**
 * A pool of reader connections. Queries over small data (each runs on one DuckDB thread: duckDbThreads
 * in duckdb-settings.ts) run one per core at once: the sample run's five queries took 180 ms one after
 * the other and 140 ms side by side on two cores. A query over more data already uses every core, so
 * such queries run one at a time (and DuckDB's memory limit serves one query, not several).
 */
export class ReaderConnections {
  private readonly idle: ReaderConnection[] = [];
  private readonly limit = pLimit(1);
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly instance: DuckDBInstance) {}

  /**
   * Starts `work` on a reader connection whose search path is `searchPath`, as soon as fewer than the
   * concurrency allowed for queries on `threads` DuckDB threads each are running. The returned
   * promise is tracked from this call on, so {@link close} waits for it.
   */
  start<T>(
    searchPath: string,
    threads: number,
    work: (connection: DuckDBConnection) => Promise<T>,
  ): Promise<T> {
    this.limit.concurrency = threads === 1 ? Math.max(1, availableParallelism()) : 1;
    const task = this.limit(async () => {
      const reader = this.idle.pop() ?? { connection: await this.instance.connect() };
      try {
        if (reader.searchPath !== searchPath) {
          reader.searchPath = undefined;
          await reader.connection.run(`SET search_path = ${sqlString(searchPath)}`);
          reader.searchPath = searchPath;
        }
        return await work(reader.connection);
      } finally {
        this.idle.push(reader);
      }
    });
    this.running.add(task);
    const settled = () => this.running.delete(task);
    task.then(settled, settled);
    return task;
  }

  /** Waits for the queries started, then closes every reader connection. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running]);
    for (const reader of this.idle.splice(0)) reader.connection.closeSync();
  }
}
