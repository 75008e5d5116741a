import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { CatalogError, InvalidInputError, QueryFailedError } from '../errors.js';
import type {
  Catalog,
  PartitionDefinition,
  QueryEngine,
  QueryRow,
  QueryValue,
  TableDefinition,
} from '../ports.js';
import { type Bookkeeping, partitionsAfterSwitch, readBookkeeping, withTable } from './duckdb-bookkeeping.js';
import { checkFreeSpace, databasePath, logSize } from './duckdb-file.js';
import { createInstance } from './duckdb-instance.js';
import { isMissingFileError, readResult, runReadStatement } from './duckdb-query.js';
import { ReaderConnections } from './duckdb-readers.js';
import {
  duckDbSettings,
  duckDbThreads,
  ONE_THREAD_MAX_BYTES,
  settingStatements,
  threadSettings,
} from './duckdb-settings.js';
import { checkDefinition, checkPartition, IDENTIFIER, sqlString } from './duckdb-sql.js';
import { viewBody } from './duckdb-views.js';
import type { FileObjectStore } from './file-object-store.js';

/**
 * The catalog file, as the connection names it. The connection's own database is an in-memory one
 * holding the query views (see {@link DuckDbCatalog}); the file is attached under this name.
 */
const FILE_DB = 'pipeline_catalog_file';
/** The catalog's own bookkeeping in the file: table definitions and registered partitions. */
const META_SCHEMA = '_pipeline_catalog';
/** {@link META_SCHEMA} qualified with the file's name, for the catalog's own statements. */
const META = `${FILE_DB}.${META_SCHEMA}`;
/** The in-memory database the connection opens with, where the query views live. */
const QUERY_DB = 'memory';
/**
 * The size DuckDB's log may reach before {@link DuckDbCatalog.close} folds it into the catalog file. Every
 * open reads the log back: attaching the catalog and reading it took 1.8 ms with no log, 3.8 ms after one
 * sample run's registration (12 KB), 7.2 ms after three more (47 KB), against 40-160 ms for a checkpoint
 * at close. The sample's first run in a home logs 15 KB and each later one 6 KB: 64 KiB is a checkpoint
 * every ten runs or so, and a few ms per open.
 */
export const WAL_CHECKPOINT_BYTES = 64 * 1024;
/** How often a query is re-planned when a partition's files vanished under it (a run replacing them). */
const MISSING_FILE_RETRIES = 2;

export interface DuckDbCatalogOptions {
  /**
   * Open the database read-only (`npm start -- query`): nothing can change the catalog, and the DuckDB
   * file lock is shared, so several readers can query at once.
   */
  readOnly?: boolean;
  /**
   * DuckDB's `memory_limit` (default DEFAULT_DUCKDB_MEMORY_LIMIT in duckdb-settings.ts, or $PIPELINE_DUCKDB_MEMORY_LIMIT):
   * above it DuckDB spills to its temp folder instead of growing, so the queries' memory does not grow
   * with the run's size.
   */
  memoryLimit?: string;
  /**
   * DuckDB's `threads`, always (default: $PIPELINE_DUCKDB_THREADS, else chosen by the data the queries
   * read: duckDbThreads in duckdb-settings.ts).
   */
  threads?: number;
}

/**
 * Glue + Athena on one machine: a DuckDB database file holding table definitions, their partitions,
 * and one VIEW per table that reads the registered partitions' JSON lines files.
 *
 * Like Glue, only registered partitions are visible: files under the table's location that belong to
 * no registered partition (a failed run's output) are not read. Each partition contributes
 * `read_json('<dir>/*.json', columns = {…})` with its partition values as literal columns, the parts
 * joined with UNION ALL. Partition values come from the registration, not the path, as in Glue.
 *
 * Queries never fail because a run's files are missing or being replaced: before each query the
 * connection gets a view per table over the partitions whose folders hold `.json` files at that moment
 * (DuckDB fails on a glob with no match; Athena reads a missing partition as empty), and a query whose
 * files vanished while it was planned is planned again. Those views live in the connection's own
 * in-memory database, under the table's database name, with the catalog file attached beside it: so a
 * query naming `predictions` and one naming `local.predictions` both read them (a TEMP view would
 * cover only the bare name), and a read-only open still has somewhere to write them. The view stored in
 * the file (for other DuckDB clients) is rebuilt on every registration the same way. Paths go into
 * globs with `[ ] * ?` escaped, and a catalog path holding "?" is opened through a link (see
 * databasePath), so any home folder works. A write refuses to start when the disk has less than
 * MIN_FREE_BYTES (duckdb-file.ts) free.
 *
 * runQuery accepts read statements only (SELECT, EXPLAIN): the catalog and the results change through
 * runs, never through a query.
 *
 * Query results: BIGINT/HUGEINT become numbers when safe (else decimal strings), DECIMAL numbers, DATE
 * `YYYY-MM-DD`, TIMESTAMP ISO 8601, and lists/structs/maps JSON text (the QueryEngine port carries
 * scalars only, like Athena's string results).
 *
 * Changes are serialized on the catalog's connection, so concurrent callers are safe; queries run on
 * reader connections of their own (duckdb-readers.ts), after the changes called before them.
 *
 * This module is the port and the connection's lifecycle (bookkeeping tables, transactions, views,
 * search path); the SQL a table definition becomes is in duckdb-sql.ts, running a query and shaping
 * its result in duckdb-query.ts, the file's path and free space in duckdb-file.ts, DuckDB's settings
 * in duckdb-settings.ts.
 */
export class DuckDbCatalog implements Catalog, QueryEngine {
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;
  /** The connections queries run on (duckdb-readers.ts). */
  private readonly readers: ReaderConnections;
  private readonly store: FileObjectStore;
  /** The database file, named in errors. */
  readonly path: string;
  /** The path DuckDB opened: {@link path}, or a link to it when that holds "?" (see databasePath). */
  private readonly openedPath: string;
  private readonly readOnly: boolean;
  private readonly options: DuckDbCatalogOptions;
  /** The threads each query runs on now (see duckDbThreads; DuckDB's settings for them: threadSettings). */
  private threads: number;
  /** The bookkeeping tables as last read ({@link bookkeeping}); cleared by every change. */
  private snapshot: Bookkeeping | undefined;
  /** Each query view's body as last created, by `database.name` (see refreshQueryViews). */
  private readonly queryViews = new Map<string, string>();
  /** The search path as last set. */
  private searchPath: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    store: FileObjectStore,
    path: string,
    openedPath: string,
    options: DuckDbCatalogOptions,
    threads: number,
  ) {
    this.readOnly = options.readOnly === true;
    this.options = options;
    this.threads = threads;
    this.instance = instance;
    this.connection = connection;
    this.readers = new ReaderConnections(instance);
    this.store = store;
    this.path = path;
    this.openedPath = openedPath;
  }

  /**
   * Opens (creating when missing, unless read-only) the catalog database at `path`; `store` maps
   * `s3://` locations to the files the views read.
   *
   * @throws CatalogError naming the file when it cannot be opened (another process holds its lock; a
   *   read-only open of a catalog that does not exist yet).
   */
  static async open(
    path: string,
    store: FileObjectStore,
    options: DuckDbCatalogOptions = {},
  ): Promise<DuckDbCatalog> {
    const opened = await databasePath(path);
    // Capped memory and threads (duckdb-settings.ts); spills go beside the catalog file.
    const settings = duckDbSettings(options, `${opened}.tmp`);
    const instance = await createInstance(settings);
    const connection = await instance.connect();
    try {
      await connection.run(
        `ATTACH ${sqlString(opened)} AS ${FILE_DB}${options.readOnly ? ' (READ_ONLY)' : ''}`,
      );
    } catch (error) {
      connection.closeSync();
      instance.closeSync();
      // Most often another process (a second `npm start`) holds the file's lock.
      throw new CatalogError(`Cannot open the local catalog ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const catalog = new DuckDbCatalog(
      instance,
      connection,
      store,
      path,
      opened,
      options,
      duckDbThreads(options, 0),
    );
    // The query views and the search path are made by the first query (refreshQueryViews).
    if (options.readOnly) return catalog;
    await catalog.exclusive(async () => {
      // DuckDB would checkpoint when it closes; close() decides instead (see there).
      await connection.run('PRAGMA disable_checkpoint_on_shutdown');
      await connection.run(`CREATE SCHEMA IF NOT EXISTS ${META}`);
      await connection.run(
        `CREATE TABLE IF NOT EXISTS ${META}.tables (
           database VARCHAR NOT NULL, name VARCHAR NOT NULL, definition VARCHAR NOT NULL,
           PRIMARY KEY (database, name))`,
      );
      await connection.run(
        `CREATE TABLE IF NOT EXISTS ${META}.partitions (
           database VARCHAR NOT NULL, name VARCHAR NOT NULL, partition_values VARCHAR NOT NULL,
           location VARCHAR NOT NULL, registered_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
           PRIMARY KEY (database, name, partition_values))`,
      );
    });
    return catalog;
  }

  /**
   * Records the definition and (re)creates the table's view over its registered partitions. A table
   * already registered with this very definition is left as it is (its view is rebuilt by each switch):
   * a run of the same table registers it again every time.
   */
  async registerTable(table: TableDefinition): Promise<void> {
    checkDefinition(table);
    const definition = JSON.stringify(table);
    await this.exclusive(async () => {
      const key = `${table.database}.${table.name}`;
      const known = await this.bookkeeping();
      const stored = known.definitions.get(key);
      if (stored === definition) return;
      await this.transaction(
        async () => {
          // The bookkeeping is exact (see bookkeeping()): a table it lacks has no row and no partitions.
          await this.connection.run(
            stored === undefined
              ? `INSERT INTO ${META}.tables (database, name, definition) VALUES ($1, $2, $3)`
              : `UPDATE ${META}.tables SET definition = $3 WHERE database = $1 AND name = $2`,
            [table.database, table.name, definition],
          );
          await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${FILE_DB}.${table.database}`);
          await this.rebuildView(table, known.partitions.get(key) ?? []);
        },
        () => withTable(known, definition),
      );
    });
  }

  /**
   * Switches one run's partitions in one transaction (see {@link Catalog.switchRunPartitions}): until it
   * commits every query sees the previous locations, after it the new ones.
   *
   * @throws CatalogError when the table is not registered (Glue's EntityNotFound), or DuckDB fails
   *   (the cause kept; nothing changed).
   * @throws InvalidInputError when a partition's values do not match the partition keys or the run.
   */
  async switchRunPartitions(
    table: TableDefinition,
    run: readonly string[],
    partitions: PartitionDefinition[],
  ): Promise<PartitionDefinition[]> {
    checkDefinition(table);
    for (const partition of partitions) checkPartition(table, partition, run);
    const wanted = new Set(partitions.map((p) => JSON.stringify(p.values)));
    const key = `${table.database}.${table.name}`;
    return this.exclusive(async () => {
      // Read before the transaction (which clears it); exact, as nothing else changes the catalog.
      const known = await this.bookkeeping();
      const registered = known.partitions.get(key) ?? [];
      const after = partitionsAfterSwitch(registered, run, partitions);
      return this.transaction(
        async () => {
          const stored = known.definitions.get(key);
          if (stored === undefined) {
            throw new CatalogError(`Table ${table.database}.${table.name} is not registered`);
          }
          const existing = new Set(registered.map((p) => JSON.stringify(p.values)));
          const previous = registered
            .filter((p) => run.every((value, i) => p.values[i] === value))
            .map((p) => ({ values: [...p.values], location: p.location }));
          for (const partition of previous) {
            if (wanted.has(JSON.stringify(partition.values))) continue;
            await this.connection.run(
              `DELETE FROM ${META}.partitions WHERE database = ? AND name = ? AND partition_values = ?`,
              [table.database, table.name, JSON.stringify(partition.values)],
            );
          }
          for (const partition of partitions) {
            const values = JSON.stringify(partition.values);
            // Updating keeps the partition's registration time, and so its place in the view's order.
            await this.connection.run(
              existing.has(values)
                ? `UPDATE ${META}.partitions SET location = $4
                 WHERE database = $1 AND name = $2 AND partition_values = $3`
                : `INSERT INTO ${META}.partitions (database, name, partition_values, location)
                 VALUES ($1, $2, $3, $4)`,
              [table.database, table.name, values, partition.location],
            );
          }
          await this.rebuildView(JSON.parse(stored) as TableDefinition, after);
          return previous;
        },
        () => ({ ...known, partitions: new Map(known.partitions).set(key, after) }),
      );
    });
  }

  /** One run's registered partitions (see {@link Catalog.runPartitions}). */
  async runPartitions(table: TableDefinition, run: readonly string[]): Promise<PartitionDefinition[]> {
    const partitions = await this.listPartitions(table.database, table.name);
    return partitions.filter((p) => run.every((value, i) => p.values[i] === value));
  }

  /** The partitions registered for a table, in registration order. */
  async listPartitions(database: string, table: string): Promise<PartitionDefinition[]> {
    return this.exclusive(async () =>
      ((await this.bookkeeping()).partitions.get(`${database}.${table}`) ?? []).map((p) => ({
        values: [...p.values],
        location: p.location,
      })),
    );
  }

  /**
   * Runs one read statement as a prepared statement: `parameters` bind to `?` in order and are never
   * spliced into the SQL text. Tables are read through views over the partitions whose files exist now.
   *
   * @throws QueryFailedError when the SQL holds more or less than one statement, is not a read
   *   statement (INSERT, DELETE, COPY, ATTACH, SET, …), the parameter count does not match, or DuckDB
   *   rejects the query.
   */
  async runQuery(
    sql: string,
    parameters: QueryValue[] = [],
  ): Promise<{ columns: string[]; rows: QueryRow[] }> {
    for (let retry = 0; ; retry += 1) {
      // The views are brought up to date in turn with the catalog's changes; the query then runs on a
      // reader connection, beside other queries (duckdb-readers.ts). It is started before the turn
      // ends (wrapped, so the turn does not wait for it), so close() waits for it too.
      const { query } = await this.exclusive(async () => {
        await this.refreshQueryViews();
        const searchPath = this.searchPath ?? '';
        return {
          query: this.readers.start(searchPath, this.threads, async (connection) =>
            readResult(await runReadStatement(connection, sql, parameters)),
          ),
        };
      });
      try {
        return await query;
      } catch (error) {
        // A run replaced a partition's files between planning and reading: plan again on what is there.
        if (retry < MISSING_FILE_RETRIES && isMissingFileError(error)) continue;
        throw error;
      }
    }
  }

  /**
   * Closes the connection and the database file. Safe to call twice.
   *
   * The changes stay in DuckDB's log (`<file>.wal`) unless it has grown past
   * {@link WAL_CHECKPOINT_BYTES}: each commit is already durable there (DuckDB syncs the log at commit,
   * and every open reads it back, read-only ones and other DuckDB clients too, as after a kill), and a
   * checkpoint at every close cost each run 40-160 ms for a few catalog rows. The bound keeps what each
   * open reads back small (6 KB for each sample run after a home's first).
   */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.readOnly && (await logSize(this.openedPath)) > WAL_CHECKPOINT_BYTES) {
        // Committed already: a failure here only leaves the log for the next open to read back.
        await this.connection.run(`CHECKPOINT ${FILE_DB}`).catch(() => undefined);
      }
    } finally {
      await this.readers.close();
      this.connection.closeSync();
      this.instance.closeSync();
    }
  }

  /** Runs `work` after every earlier call has finished: one connection, one statement at a time. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new QueryFailedError('The DuckDB catalog is closed');
      return work();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs `work` in one transaction; once it commits, `committed()` is the bookkeeping (what reading it
   * back would give, so the next call need not). When DuckDB fails (a full disk under the catalog, say), it may have
   * aborted the transaction itself, so a failing ROLLBACK is ignored: the error that matters is the
   * first one, kept as the cause and with the catalog file named.
   */
  private async transaction<T>(work: () => Promise<T>, committed: () => Bookkeeping): Promise<T> {
    await checkFreeSpace(this.path, this.openedPath);
    // Read again after a change that failed, whatever it left.
    this.snapshot = undefined;
    try {
      await this.connection.run('BEGIN TRANSACTION');
      const result = await work();
      await this.connection.run('COMMIT');
      // The change is the file's now: the bookkeeping as it would be read back, without reading it.
      this.snapshot = committed();
      if (this.openedPath !== this.path) {
        // The log sits beside the link in the temp folder: move the commit into the home's file now, so
        // the temp folder holds nothing the catalog needs. Committed already; a failure here only leaves
        // the log for the next open to replay.
        await this.connection.run(`CHECKPOINT ${FILE_DB}`).catch(() => undefined);
      }
      return result;
    } catch (error) {
      await this.connection.run('ROLLBACK').catch(() => undefined);
      if (error instanceof CatalogError || error instanceof InvalidInputError) throw error;
      throw new CatalogError(`Local catalog ${this.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** (Re)creates the table's view in the file over `partitions`, its registered ones. */
  private async rebuildView(table: TableDefinition, partitions: PartitionDefinition[]): Promise<void> {
    await this.connection.run(
      `CREATE OR REPLACE VIEW ${FILE_DB}.${table.database}.${table.name} AS\n${
        (await viewBody(this.store, table, partitions, 0)).body
      }`,
    );
  }

  /**
   * The catalog's tables and partitions, read from the file once and kept until this connection changes
   * them: nothing else can while it is open (DuckDB holds the file exclusively for a read-write open, and
   * a read-only open keeps writers out).
   */
  private async bookkeeping(): Promise<Bookkeeping> {
    this.snapshot ??= await readBookkeeping(this.connection, META);
    return this.snapshot;
  }

  /**
   * Gives this connection a view per registered table in its in-memory database, built on the files
   * present now. `local.predictions` resolves there (the in-memory database is the default one) and
   * so does `predictions` (the search path lists its schemas first); the in-memory database is
   * writable even when the file is attached read-only. A view or search path already as wanted is
   * left alone: a query reads its view's files when it runs, so only which partitions have files
   * decides the view.
   */
  private async refreshQueryViews(): Promise<void> {
    const { tables, partitions } = await this.bookkeeping();
    await this.updateSearchPath(tables);
    // The bytes the views read, counted only as far as the thread rule needs (duckdb-settings.ts).
    let bytes = 0;
    for (const table of tables) {
      if (!IDENTIFIER.test(table.name) || !IDENTIFIER.test(table.database)) continue;
      const key = `${table.database}.${table.name}`;
      const view = await viewBody(
        this.store,
        table,
        partitions.get(key) ?? [],
        Math.max(0, ONE_THREAD_MAX_BYTES + 1 - bytes),
      );
      bytes += view.bytes;
      if (this.queryViews.get(key) === view.body) continue;
      this.queryViews.delete(key);
      await this.connection.run(`CREATE OR REPLACE VIEW ${QUERY_DB}.${key} AS\n${view.body}`);
      this.queryViews.set(key, view.body);
    }
    const threads = duckDbThreads(this.options, bytes);
    if (threads !== this.threads) {
      for (const statement of settingStatements(threadSettings(threads), threadSettings(this.threads))) {
        await this.connection.run(statement);
      }
      this.threads = threads;
    }
  }

  private async updateSearchPath(tables: TableDefinition[]): Promise<void> {
    // Queries name tables without their database (as Athena does with a default database): put every
    // registered database's schema of the in-memory database (the query views) on the search path. The
    // file's schemas follow, so its own tables (`_pipeline_catalog.partitions`) resolve too: a
    // statement naming them is then refused for what it is (a DELETE), not for a name it cannot find.
    const schemas = [...new Set(tables.map((t) => t.database))].sort().filter((d) => IDENTIFIER.test(d));
    const path = [
      ...schemas.map((d) => `${QUERY_DB}.${d}`),
      `${QUERY_DB}.main`,
      ...schemas.map((d) => `${FILE_DB}.${d}`),
      META,
    ].join(',');
    if (path === this.searchPath) return;
    this.searchPath = undefined;
    for (const schema of schemas) {
      await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${QUERY_DB}.${schema}`);
    }
    await this.connection.run(`SET search_path = ${sqlString(path)}`);
    this.searchPath = path;
  }
}
