import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, statfs, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValue,
  StatementType,
} from '@duckdb/node-api';
import { CatalogError, InvalidInputError, QueryFailedError } from '../errors.js';
import type {
  Catalog,
  PartitionDefinition,
  QueryEngine,
  QueryRow,
  QueryValue,
  TableDefinition,
} from '../ports.js';
import { duckDbSettings } from './duckdb-settings.js';
import { type FileObjectStore, formatBytes } from './file-object-store.js';

/** Identifiers go into DDL (view and schema names): only names Glue would accept. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,127}$/;
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
/** Statement kinds runQuery accepts: reads only (DESCRIBE, SHOW and PRAGMA version are SELECTs). */
const READ_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);
/** How often a query is re-planned when a partition's files vanished under it (a run replacing them). */
const MISSING_FILE_RETRIES = 2;
/**
 * Free space a write transaction needs on the disks of the catalog file and its log: DuckDB appends the
 * change to its `.wal` log and checkpoints in 256 KiB blocks. On a full disk DuckDB 1.5 fails with a bare
 * "Could not write file" or, after earlier commits, has been seen to hang, so the catalog refuses first.
 */
export const MIN_FREE_BYTES = 2 * 1024 * 1024;

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
  /** DuckDB's `threads` (default: defaultDuckDbThreads(), or $PIPELINE_DUCKDB_THREADS). */
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
 * {@link MIN_FREE_BYTES} free.
 *
 * runQuery accepts read statements only (SELECT, EXPLAIN): the catalog and the results change through
 * runs, never through a query.
 *
 * Query results: BIGINT/HUGEINT become numbers when safe (else decimal strings), DECIMAL numbers, DATE
 * `YYYY-MM-DD`, TIMESTAMP ISO 8601, and lists/structs/maps JSON text (the QueryEngine port carries
 * scalars only, like Athena's string results).
 *
 * Calls are serialized on one connection, so concurrent callers are safe.
 */
export class DuckDbCatalog implements Catalog, QueryEngine {
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;
  private readonly store: FileObjectStore;
  /** The database file, named in errors. */
  readonly path: string;
  /** The path DuckDB opened: {@link path}, or a link to it when that holds "?" (see databasePath). */
  private readonly openedPath: string;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    store: FileObjectStore,
    path: string,
    openedPath: string,
  ) {
    this.instance = instance;
    this.connection = connection;
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
    const instance = await DuckDBInstance.create(':memory:', duckDbSettings(options, `${opened}.tmp`));
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
    const catalog = new DuckDbCatalog(instance, connection, store, path, opened);
    if (options.readOnly) {
      await catalog.exclusive(() => catalog.updateSearchPath());
      return catalog;
    }
    await catalog.exclusive(async () => {
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
      await catalog.updateSearchPath();
    });
    return catalog;
  }

  /** Records the definition and (re)creates the table's view over its registered partitions. */
  async registerTable(table: TableDefinition): Promise<void> {
    checkDefinition(table);
    await this.exclusive(() =>
      this.transaction(async () => {
        await this.connection.run(
          `INSERT INTO ${META}.tables (database, name, definition) VALUES (?, ?, ?)
           ON CONFLICT (database, name) DO UPDATE SET definition = excluded.definition`,
          [table.database, table.name, JSON.stringify(table)],
        );
        await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${FILE_DB}.${table.database}`);
        await this.rebuildView(table);
      }).then(() => this.updateSearchPath()),
    );
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
    return this.exclusive(() =>
      this.transaction(async () => {
        const stored = await this.storedDefinition(table.database, table.name);
        if (!stored) {
          throw new CatalogError(`Table ${table.database}.${table.name} is not registered`);
        }
        const previous = (await this.registeredPartitions(table.database, table.name)).filter((p) =>
          run.every((value, i) => p.values[i] === value),
        );
        for (const partition of previous) {
          if (wanted.has(JSON.stringify(partition.values))) continue;
          await this.connection.run(
            `DELETE FROM ${META}.partitions WHERE database = ? AND name = ? AND partition_values = ?`,
            [table.database, table.name, JSON.stringify(partition.values)],
          );
        }
        for (const partition of partitions) {
          await this.connection.run(
            `INSERT INTO ${META}.partitions (database, name, partition_values, location)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (database, name, partition_values) DO UPDATE SET location = excluded.location`,
            [table.database, table.name, JSON.stringify(partition.values), partition.location],
          );
        }
        await this.rebuildView(stored);
        return previous;
      }),
    );
  }

  /** One run's registered partitions (see {@link Catalog.runPartitions}). */
  async runPartitions(table: TableDefinition, run: readonly string[]): Promise<PartitionDefinition[]> {
    const partitions = await this.listPartitions(table.database, table.name);
    return partitions.filter((p) => run.every((value, i) => p.values[i] === value));
  }

  /** The partitions registered for a table, in registration order. */
  async listPartitions(database: string, table: string): Promise<PartitionDefinition[]> {
    return this.exclusive(() => this.registeredPartitions(database, table));
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
    return this.exclusive(async () => {
      for (let retry = 0; ; retry += 1) {
        await this.refreshQueryViews();
        try {
          return readResult(await this.runReadStatement(sql, parameters));
        } catch (error) {
          // A run replaced a partition's files between planning and reading: plan again on what is there.
          if (retry < MISSING_FILE_RETRIES && isMissingFileError(error)) continue;
          throw error;
        }
      }
    });
  }

  private async runReadStatement(sql: string, parameters: QueryValue[]): Promise<DuckDBResultReader> {
    let reader: DuckDBResultReader;
    try {
      const statements = await this.connection.extractStatements(sql);
      if (statements.count !== 1) {
        throw new QueryFailedError(`Expected one SQL statement, got ${statements.count}`);
      }
      const prepared = await statements.prepare(0);
      try {
        if (!READ_STATEMENTS.has(prepared.statementType)) {
          throw new QueryFailedError(
            `Only read statements (SELECT, WITH … SELECT, EXPLAIN) can run as a query; this is ${StatementType[prepared.statementType] ?? 'another kind of'} statement. The catalog and the published results change only through runs.`,
          );
        }
        if (prepared.parameterCount !== parameters.length) {
          throw new QueryFailedError(
            `The query has ${prepared.parameterCount} ? parameter(s) but ${parameters.length} value(s) were given`,
          );
        }
        prepared.bind(parameters as DuckDBValue[]);
        reader = await prepared.runAndReadAll();
      } finally {
        prepared.destroySync();
      }
    } catch (error) {
      if (error instanceof QueryFailedError) throw error;
      throw new QueryFailedError(`Query failed: ${(error as Error).message}`, { cause: error });
    }
    return reader;
  }

  /** Closes the connection and the database file. Safe to call twice. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    this.connection.closeSync();
    this.instance.closeSync();
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
   * Runs `work` in one transaction. When DuckDB fails (a full disk under the catalog, say), it may have
   * aborted the transaction itself, so a failing ROLLBACK is ignored: the error that matters is the
   * first one, kept as the cause and with the catalog file named.
   */
  private async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.checkFreeSpace();
    try {
      await this.connection.run('BEGIN TRANSACTION');
      const result = await work();
      await this.connection.run('COMMIT');
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

  /**
   * Refuses a write when the catalog's disk (or its log's, for a linked path) has less than
   * {@link MIN_FREE_BYTES} free: a clear error before anything changes, never DuckDB's hang.
   */
  private async checkFreeSpace(): Promise<void> {
    const folders = new Set([dirname(this.path), dirname(this.openedPath)]);
    for (const folder of folders) {
      let free: number;
      try {
        const disk = await statfs(folder);
        free = disk.bavail * disk.bsize;
      } catch {
        continue; // Cannot tell (an unusual filesystem): let DuckDB answer.
      }
      if (free < MIN_FREE_BYTES) {
        throw new CatalogError(
          `Local catalog ${this.path}: the disk is full (${formatBytes(free)} free in ${folder}; a catalog change needs at least ${formatBytes(MIN_FREE_BYTES)}). Nothing was changed: the published results are as they were. Free some space and run again.`,
        );
      }
    }
  }

  private async storedDefinition(database: string, name: string): Promise<TableDefinition | undefined> {
    const reader = await this.connection.runAndReadAll(
      `SELECT definition FROM ${META}.tables WHERE database = ? AND name = ?`,
      [database, name],
    );
    const value = reader.getRowsJS()[0]?.[0];
    return typeof value === 'string' ? (JSON.parse(value) as TableDefinition) : undefined;
  }

  private async registeredPartitions(database: string, name: string): Promise<PartitionDefinition[]> {
    const reader = await this.connection.runAndReadAll(
      `SELECT partition_values, location FROM ${META}.partitions
       WHERE database = ? AND name = ? ORDER BY registered_at, partition_values`,
      [database, name],
    );
    return reader.getRowsJS().map(([values, location]) => ({
      values: JSON.parse(String(values)) as string[],
      location: String(location),
    }));
  }

  private async rebuildView(table: TableDefinition): Promise<void> {
    await this.connection.run(
      `CREATE OR REPLACE VIEW ${FILE_DB}.${table.database}.${table.name} AS\n${await this.viewBody(table)}`,
    );
  }

  /**
   * Gives this connection a view per registered table in its in-memory database, built on the files
   * present now. `local.predictions` resolves there (the in-memory database is the default one) and
   * so does `predictions` (the search path lists its schemas first); the in-memory database is
   * writable even when the file is attached read-only.
   */
  private async refreshQueryViews(): Promise<void> {
    await this.updateSearchPath();
    const reader = await this.connection.runAndReadAll(
      `SELECT definition FROM ${META}.tables ORDER BY database, name`,
    );
    for (const [definition] of reader.getRowsJS()) {
      const table = JSON.parse(String(definition)) as TableDefinition;
      if (!IDENTIFIER.test(table.name) || !IDENTIFIER.test(table.database)) continue;
      await this.connection.run(
        `CREATE OR REPLACE VIEW ${QUERY_DB}.${table.database}.${table.name} AS\n${await this.viewBody(table)}`,
      );
    }
  }

  /** The table's rows: one read_json per registered partition that has files now, UNION ALL. */
  private async viewBody(table: TableDefinition): Promise<string> {
    const partitions = await this.registeredPartitions(table.database, table.name);
    const parts: string[] = [];
    for (const partition of partitions) {
      if (await this.hasDataFiles(partition.location)) parts.push(this.partitionSelect(table, partition));
    }
    return parts.length > 0 ? parts.join('\nUNION ALL\n') : emptySelect(table);
  }

  private async hasDataFiles(location: string): Promise<boolean> {
    let names: string[];
    try {
      names = await readdir(this.store.directoryOf(location));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw new CatalogError(`Cannot read partition folder ${location}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return names.some((name) => name.endsWith('.json') && !name.startsWith('.'));
  }

  private partitionSelect(table: TableDefinition, partition: PartitionDefinition): string {
    const glob = `${escapeGlob(this.store.directoryOf(partition.location))}/*.json`;
    const columns = table.columns.map((c) => `${sqlString(c.name)}: ${sqlString(duckDbType(c.type))}`);
    const values = table.partitionKeys.map(
      (key, i) => `CAST(${sqlString(partition.values[i] ?? '')} AS ${duckDbType(key.type)}) AS ${key.name}`,
    );
    return [
      `SELECT ${[...table.columns.map((c) => c.name), ...values].join(', ')}`,
      `FROM read_json([${sqlString(glob)}], columns = {${columns.join(', ')}},`,
      `  format = 'newline_delimited', hive_partitioning = false)`,
    ].join('\n');
  }

  private async updateSearchPath(): Promise<void> {
    // Queries name tables without their database (as Athena does with a default database): put every
    // registered database's schema of the in-memory database (the query views) on the search path. The
    // file's schemas follow, so its own tables (`_pipeline_catalog.partitions`) resolve too: a
    // statement naming them is then refused for what it is (a DELETE), not for a name it cannot find.
    const reader = await this.connection.runAndReadAll(
      `SELECT DISTINCT database FROM ${META}.tables ORDER BY database`,
    );
    const schemas = reader
      .getRowsJS()
      .map(([d]) => String(d))
      .filter((d) => IDENTIFIER.test(d));
    for (const schema of schemas) {
      await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${QUERY_DB}.${schema}`);
    }
    const path = [
      ...schemas.map((d) => `${QUERY_DB}.${d}`),
      `${QUERY_DB}.main`,
      ...schemas.map((d) => `${FILE_DB}.${d}`),
      META,
    ];
    await this.connection.run(`SET search_path = ${sqlString(path.join(','))}`);
  }
}

function emptySelect(table: TableDefinition): string {
  const columns = [...table.columns, ...table.partitionKeys].map(
    (c) => `CAST(NULL AS ${duckDbType(c.type)}) AS ${c.name}`,
  );
  return `SELECT ${columns.join(', ')} WHERE false`;
}

function checkDefinition(table: TableDefinition): void {
  const names = [
    table.database,
    table.name,
    ...[...table.columns, ...table.partitionKeys].map((c) => c.name),
  ];
  for (const name of names) {
    if (!IDENTIFIER.test(name))
      throw new InvalidInputError(`Invalid identifier "${name}" in table definition`);
  }
  for (const column of [...table.columns, ...table.partitionKeys]) duckDbType(column.type);
}

function checkPartition(
  table: TableDefinition,
  partition: PartitionDefinition,
  run: readonly string[],
): void {
  if (!run.every((value, i) => partition.values[i] === value)) {
    throw new InvalidInputError(
      `Partition ${JSON.stringify(partition.values)} of ${table.name} is not one of run ${JSON.stringify(run)}`,
    );
  }
  if (partition.values.length !== table.partitionKeys.length) {
    throw new InvalidInputError(
      `Partition ${JSON.stringify(partition.values)} of ${table.name} needs ${table.partitionKeys.length} values`,
    );
  }
  if (!partition.location.startsWith(table.location)) {
    throw new InvalidInputError(`Partition location ${partition.location} is not under ${table.location}`);
  }
}

/**
 * A folder path as a DuckDB glob that matches only itself: `[`, `]`, `*` and `?` become one-character
 * classes (`[[]`, `[]]`, `[*]`, `[?]`), so a home like `runs[1]` works.
 */
export function escapeGlob(path: string): string {
  return path.replace(/[[\]*?]/g, (c) => `[${c}]`);
}

/**
 * The path to give DuckDB for the catalog file at `path`. DuckDB 1.5 reads "?" in a database path as
 * the start of options and writes its log to a broken path ("a.wal?b/catalog.duckdb"), and it resolves
 * a linked folder back to the real one. A link to the file itself is kept as given, so a path holding
 * "?" is opened through `<temp>/pipeline-catalog-<hash of the path>/catalog.duckdb`, linked to it: the
 * data stays in the home's file (the same file and lock for every process, since the link's name comes
 * from the path), and only DuckDB's log sits beside the link until the next checkpoint.
 *
 * @throws CatalogError when the link cannot be made.
 */
async function databasePath(path: string): Promise<string> {
  if (!path.includes('?')) return path;
  const target = resolve(path);
  const folder = join(
    tmpdir(),
    `pipeline-catalog-${createHash('sha256').update(target).digest('hex').slice(0, 16)}`,
  );
  const link = join(folder, 'catalog.duckdb');
  try {
    if (folder.includes('?')) throw new Error(`the temp folder ${tmpdir()} holds "?" too`);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const made = await lstat(folder);
    if (!made.isDirectory() || (process.getuid && made.uid !== process.getuid())) {
      throw new Error(`${folder} is not a folder of this user`);
    }
    const current = await readlink(link).catch(() => undefined);
    if (current !== target) {
      await unlink(link).catch(() => undefined);
      await symlink(target, link).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error; // Another process made the same link meanwhile.
      });
    }
  } catch (error) {
    throw new CatalogError(
      `Cannot open the local catalog ${path}: DuckDB cannot open a path holding "?", and linking it from ${link} failed: ${(error as Error).message}. Choose a home folder without "?" (--home or PIPELINE_HOME)`,
      { cause: error },
    );
  }
  return link;
}

/** DuckDB's errors for a file that a query planned to read and is gone. */
function isMissingFileError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /No files found that match the pattern|No such file or directory|Cannot open file/.test(message);
}

/** Hive/Glue column types the results tables use, as DuckDB types. */
const SCALAR_TYPES: Record<string, string> = {
  string: 'VARCHAR',
  bigint: 'BIGINT',
  int: 'INTEGER',
  double: 'DOUBLE',
  float: 'FLOAT',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

/** @throws InvalidInputError for a type the local catalog cannot map. */
export function duckDbType(hiveType: string): string {
  const type = hiveType.trim().toLowerCase();
  const array = /^array<(.+)>$/.exec(type);
  if (array) return `${duckDbType(array[1] as string)}[]`;
  const scalar = SCALAR_TYPES[type];
  if (!scalar) throw new InvalidInputError(`Column type "${hiveType}" is not supported by the local catalog`);
  return scalar;
}

/** A SQL string literal. Only for DDL, where DuckDB has no parameters; queries always bind values. */
function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function readResult(reader: DuckDBResultReader): { columns: string[]; rows: QueryRow[] } {
  const columns = reader.columnNames();
  const typeIds = columns.map((_, i) => reader.columnTypeId(i));
  const rows = reader.getRowsJS().map((values) => {
    const row: QueryRow = {};
    for (let i = 0; i < columns.length; i += 1) {
      row[columns[i] as string] = toQueryValue(values[i], typeIds[i]);
    }
    return row;
  });
  return { columns, rows };
}

function toQueryValue(value: unknown, typeId: DuckDBTypeId | undefined): QueryValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return bigintValue(value);
  if (value instanceof Date) {
    return typeId === DuckDBTypeId.DATE ? value.toISOString().slice(0, 10) : value.toISOString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? bigintValue(v) : v));
}

function bigintValue(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}
