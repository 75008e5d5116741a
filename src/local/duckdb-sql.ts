/**
 * Table definitions as DuckDB SQL, for the local catalog (duckdb-catalog.ts): the checks a definition
 * and a partition pass before any DDL names them, Hive/Glue column types as DuckDB types, and the
 * SELECT each registered partition contributes to its table's view.
 */
import { InvalidInputError } from '../errors.js';
import type { PartitionDefinition, TableDefinition } from '../ports.js';
import type { FileObjectStore } from './file-object-store.js';

/** Identifiers go into DDL (view and schema names): only names Glue would accept. */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,127}$/;

/**
 * @throws InvalidInputError when a name is not an identifier Glue would accept, or a column's type has
 *   no DuckDB mapping.
 */
export function checkDefinition(table: TableDefinition): void {
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

/**
 * @throws InvalidInputError when the partition is not one of `run`'s, its values do not match the
 *   partition keys, or its location is outside the table's.
 */
export function checkPartition(
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
 * One registered partition's rows: a read_json over its folder's `.json` files with the partition
 * values as literal columns (the registration's values, not the path's, as in Glue).
 */
export function partitionSelect(
  store: FileObjectStore,
  table: TableDefinition,
  partition: PartitionDefinition,
): string {
  const glob = `${escapeGlob(store.directoryOf(partition.location))}/*.json`;
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

/** A table with no partition that has files: its columns, no rows. */
export function emptySelect(table: TableDefinition): string {
  const columns = [...table.columns, ...table.partitionKeys].map(
    (c) => `CAST(NULL AS ${duckDbType(c.type)}) AS ${c.name}`,
  );
  return `SELECT ${columns.join(', ')} WHERE false`;
}

/**
 * A folder path as a DuckDB glob that matches only itself: `[`, `]`, `*` and `?` become one-character
 * classes (`[[]`, `[]]`, `[*]`, `[?]`), so a home like `runs[1]` works.
 */
export function escapeGlob(path: string): string {
  return path.replace(/[[\]*?]/g, (c) => `[${c}]`);
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
export function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
