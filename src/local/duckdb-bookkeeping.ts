/**
 * The local catalog's bookkeeping (duckdb-catalog.ts): the table definitions and registered partitions
 * it keeps in the catalog file, read once, and after each change it commits, computed as reading them
 * back would give them, so the next call need not read them again.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { PartitionDefinition, TableDefinition } from '../ports.js';

/** The catalog's bookkeeping as read from the file: table definitions, and partitions by `database.name`. */
export interface Bookkeeping {
  /** Ordered by database, then name. */
  tables: TableDefinition[];
  /** Each table's definition as stored (JSON text), by `database.name`. */
  definitions: Map<string, string>;
  /** In registration order (then by values, for those registered together). */
  partitions: Map<string, PartitionDefinition[]>;
}

/** Reads the bookkeeping tables of schema `meta` (`<database>.<schema>`) on `connection`. */
export async function readBookkeeping(connection: DuckDBConnection, meta: string): Promise<Bookkeeping> {
  const stored = (
    await connection.runAndReadAll(`SELECT definition FROM ${meta}.tables ORDER BY database, name`)
  )
    .getRowsJS()
    .map(([definition]) => String(definition));
  const tables = stored.map((definition) => JSON.parse(definition) as TableDefinition);
  const definitions = new Map(tables.map((t, i) => [`${t.database}.${t.name}`, stored[i] as string]));
  const partitions = new Map<string, PartitionDefinition[]>();
  const rows = await connection.runAndReadAll(
    `SELECT database, name, partition_values, location FROM ${meta}.partitions
     ORDER BY registered_at, partition_values`,
  );
  for (const [database, name, values, location] of rows.getRowsJS()) {
    const key = `${String(database)}.${String(name)}`;
    const list = partitions.get(key) ?? [];
    list.push({ values: JSON.parse(String(values)) as string[], location: String(location) });
    partitions.set(key, list);
  }
  return { tables, definitions, partitions };
}

/** The bookkeeping once `definition` (JSON text of a table definition) is stored for its table. */
export function withTable(known: Bookkeeping, definition: string): Bookkeeping {
  const table = JSON.parse(definition) as TableDefinition;
  const key = `${table.database}.${table.name}`;
  const tables = known.tables.filter((t) => `${t.database}.${t.name}` !== key);
  tables.push(table);
  // ORDER BY database, name; the identifiers are ASCII, where DuckDB's order is code-unit order.
  tables.sort((a, b) => compareCodeUnits(`${a.database}\0${a.name}`, `${b.database}\0${b.name}`));
  return { ...known, tables, definitions: new Map(known.definitions).set(key, definition) };
}

/**
 * A table's partitions once one run's are switched to `partitions` (see switchRunPartitions): the run's
 * partitions not among them are gone, those among them keep their place with the new location (an
 * update keeps the registration time), and new ones, registered together, follow in order of values.
 * `run` is the leading partition values that name the run.
 */
export function partitionsAfterSwitch(
  registered: readonly PartitionDefinition[],
  run: readonly string[],
  partitions: readonly PartitionDefinition[],
): PartitionDefinition[] {
  const wanted = new Map(partitions.map((p) => [JSON.stringify(p.values), p]));
  const ofRun = (p: PartitionDefinition) => run.every((value, i) => p.values[i] === value);
  const kept = registered
    .filter((p) => !ofRun(p) || wanted.has(JSON.stringify(p.values)))
    .map((p) => wanted.get(JSON.stringify(p.values)) ?? p);
  const known = new Set(registered.map((p) => JSON.stringify(p.values)));
  const added = partitions
    .filter((p) => !known.has(JSON.stringify(p.values)))
    .sort((a, b) => compareCodeUnits(JSON.stringify(a.values), JSON.stringify(b.values)));
  return [...kept, ...added].map((p) => ({ values: [...p.values], location: p.location }));
}

/** Code-unit order, as DuckDB orders the ASCII identifiers and partition values the bookkeeping holds. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
