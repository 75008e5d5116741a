import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api';
import { joinS3Uri } from '../core/s3-uri.js';
import { CatalogError, InvalidInputError, QueryFailedError } from '../errors.js';
import type {
  Catalog,
  PartitionDefinition,
  QueryEngine,
  QueryRow,
  QueryValue,
  TableDefinition,
} from '../ports.js';
import type { FileObjectStore } from './file-object-store.js';

/** Identifiers go into DDL (view and schema names): only names Glue would accept. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,127}$/;
/** The catalog's own bookkeeping: table definitions and registered partitions. */
const META_SCHEMA = '_pipeline_catalog';

/**
 * Glue + Athena on one machine: a DuckDB database file holding table definitions, their partitions,
 * and one VIEW per table that reads the registered partitions' JSON lines files.
 *
 * Like Glue, only registered partitions are visible: files under the table's location that belong to
 * no registered partition (a failed run's output) are not read. Each partition contributes
 * `read_json('<dir>/*.json', columns = {…})` with its partition values as literal columns, the parts
 * joined with UNION ALL. Partition values come from the registration, not the path, as in Glue.
 *
 * The view is rebuilt on every registerTable/addPartitions call. A partition whose directory holds no
 * `.json` file at that moment is left out of the view (DuckDB fails on a glob with no match, Athena
 * reads it as empty): its rows appear once files exist and the view is rebuilt.
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
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection, store: FileObjectStore) {
    this.instance = instance;
    this.connection = connection;
    this.store = store;
  }

  /**
   * Opens (creating when missing) the catalog database at `path`; `store` maps `s3://` locations to the
   * files the views read.
   */
  static async open(path: string, store: FileObjectStore): Promise<DuckDbCatalog> {
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path);
    } catch (error) {
      // Most often another process (a second `npm start`) holds the file's lock.
      throw new CatalogError(`Cannot open the local catalog ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const connection = await instance.connect();
    const catalog = new DuckDbCatalog(instance, connection, store);
    await catalog.exclusive(async () => {
      await connection.run(`CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA}`);
      await connection.run(
        `CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.tables (
           database VARCHAR NOT NULL, name VARCHAR NOT NULL, definition VARCHAR NOT NULL,
           PRIMARY KEY (database, name))`,
      );
      await connection.run(
        `CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.partitions (
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
          `INSERT INTO ${META_SCHEMA}.tables (database, name, definition) VALUES (?, ?, ?)
           ON CONFLICT (database, name) DO UPDATE SET definition = excluded.definition`,
          [table.database, table.name, JSON.stringify(table)],
        );
        await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${table.database}`);
        await this.rebuildView(table);
        await this.updateSearchPath();
      }),
    );
  }

  /**
   * Adds partitions to a registered table; a partition that exists already is kept as it is (Glue's
   * AlreadyExists, which re-runs ignore).
   *
   * @throws CatalogError when the table is not registered (Glue's EntityNotFound).
   * @throws InvalidInputError when a partition's values do not match the partition keys.
   */
  async addPartitions(table: TableDefinition, partitions: PartitionDefinition[]): Promise<void> {
    checkDefinition(table);
    for (const partition of partitions) checkPartition(table, partition);
    await this.exclusive(() =>
      this.transaction(async () => {
        const stored = await this.storedDefinition(table.database, table.name);
        if (!stored) {
          throw new CatalogError(`Table ${table.database}.${table.name} is not registered`);
        }
        for (const partition of partitions) {
          await this.connection.run(
            `INSERT INTO ${META_SCHEMA}.partitions (database, name, partition_values, location)
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
            [table.database, table.name, JSON.stringify(partition.values), partition.location],
          );
        }
        await this.rebuildView(stored);
      }),
    );
  }

  /** The partitions registered for a table, in registration order. */
  async listPartitions(database: string, table: string): Promise<PartitionDefinition[]> {
    return this.exclusive(() => this.registeredPartitions(database, table));
  }

  /**
   * Runs one SQL statement as a prepared statement: `parameters` bind to `?` in order and are never
   * spliced into the SQL text.
   *
   * @throws QueryFailedError when the SQL holds more or less than one statement, the parameter count
   *   does not match, or DuckDB rejects the query.
   */
  async runQuery(
    sql: string,
    parameters: QueryValue[] = [],
  ): Promise<{ columns: string[]; rows: QueryRow[] }> {
    return this.exclusive(async () => {
      let reader: DuckDBResultReader;
      try {
        const statements = await this.connection.extractStatements(sql);
        if (statements.count !== 1) {
          throw new QueryFailedError(`Expected one SQL statement, got ${statements.count}`);
        }
        const prepared = await statements.prepare(0);
        try {
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
      return readResult(reader);
    });
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

  private async transaction(work: () => Promise<void>): Promise<void> {
    await this.connection.run('BEGIN TRANSACTION');
    try {
      await work();
      await this.connection.run('COMMIT');
    } catch (error) {
      await this.connection.run('ROLLBACK');
      throw error;
    }
  }

  private async storedDefinition(database: string, name: string): Promise<TableDefinition | undefined> {
    const reader = await this.connection.runAndReadAll(
      `SELECT definition FROM ${META_SCHEMA}.tables WHERE database = ? AND name = ?`,
      [database, name],
    );
    const value = reader.getRowsJS()[0]?.[0];
    return typeof value === 'string' ? (JSON.parse(value) as TableDefinition) : undefined;
  }

  private async registeredPartitions(database: string, name: string): Promise<PartitionDefinition[]> {
    const reader = await this.connection.runAndReadAll(
      `SELECT partition_values, location FROM ${META_SCHEMA}.partitions
       WHERE database = ? AND name = ? ORDER BY registered_at, partition_values`,
      [database, name],
    );
    return reader.getRowsJS().map(([values, location]) => ({
      values: JSON.parse(String(values)) as string[],
      location: String(location),
    }));
  }

  private async rebuildView(table: TableDefinition): Promise<void> {
    const partitions = await this.registeredPartitions(table.database, table.name);
    const parts: string[] = [];
    for (const partition of partitions) {
      if (await this.hasDataFiles(partition.location)) parts.push(this.partitionSelect(table, partition));
    }
    const body = parts.length > 0 ? parts.join('\nUNION ALL\n') : emptySelect(table);
    await this.connection.run(`CREATE OR REPLACE VIEW ${table.database}.${table.name} AS\n${body}`);
  }

  private async hasDataFiles(location: string): Promise<boolean> {
    for await (const object of this.store.list(location)) {
      const rest = object.uri.slice(location.length);
      if (!rest.includes('/') && rest.endsWith('.json')) return true;
    }
    return false;
  }

  private partitionSelect(table: TableDefinition, partition: PartitionDefinition): string {
    const glob = this.store.pathOf(joinS3Uri(partition.location, '*.json'));
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
    // registered database's schema on the search path.
    const reader = await this.connection.runAndReadAll(
      `SELECT DISTINCT database FROM ${META_SCHEMA}.tables ORDER BY database`,
    );
    const schemas = reader
      .getRowsJS()
      .map(([d]) => String(d))
      .filter((d) => IDENTIFIER.test(d));
    await this.connection.run(`SET search_path = ${sqlString([...schemas, 'main'].join(','))}`);
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

function checkPartition(table: TableDefinition, partition: PartitionDefinition): void {
  if (partition.values.length !== table.partitionKeys.length) {
    throw new InvalidInputError(
      `Partition ${JSON.stringify(partition.values)} of ${table.name} needs ${table.partitionKeys.length} values`,
    );
  }
  if (!partition.location.startsWith(table.location)) {
    throw new InvalidInputError(`Partition location ${partition.location} is not under ${table.location}`);
  }
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
