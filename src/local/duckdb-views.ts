/**
 * The SQL body of a table's view: one read_json per registered partition whose folder holds `.json`
 * files now, joined with UNION ALL (an empty, typed SELECT when none has). A partition registered
 * but without files (a run's files removed, a folder gone) is left out rather than failing the query.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CatalogError } from '../errors.js';
import type { PartitionDefinition, TableDefinition } from '../ports.js';
import { emptySelect, partitionSelect } from './duckdb-sql.js';
import type { FileObjectStore } from './file-object-store.js';

/**
 * The table's rows: one read_json per registered partition that has files now, UNION ALL; and the bytes
 * of those files, counted up to `countUpTo` (what the thread rule needs to know, duckdb-settings.ts).
 */
export async function viewBody(
  store: FileObjectStore,
  table: TableDefinition,
  partitions: PartitionDefinition[],
  countUpTo: number,
): Promise<{ body: string; bytes: number }> {
  const parts: string[] = [];
  let bytes = 0;
  for (const partition of partitions) {
    const files = await dataFiles(store, partition.location, Math.max(0, countUpTo - bytes));
    if (files === undefined) continue;
    parts.push(partitionSelect(store, table, partition));
    bytes += files;
  }
  return { body: parts.length > 0 ? parts.join('\nUNION ALL\n') : emptySelect(table), bytes };
}

/**
 * Whether the partition's folder holds `.json` files now (undefined when not) and their bytes, counted
 * only up to `countUpTo` (past it, the sum stops growing: the caller only needs to know that much).
 */
async function dataFiles(
  store: FileObjectStore,
  location: string,
  countUpTo: number,
): Promise<number | undefined> {
  const folder = store.directoryOf(location);
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new CatalogError(`Cannot read partition folder ${location}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (names.length === 0) return undefined;
  let bytes = 0;
  for (const name of names) {
    if (bytes >= countUpTo) break;
    // A file gone meanwhile counts as empty: the query's own retry handles it.
    bytes += (await stat(join(folder, name)).catch(() => undefined))?.size ?? 0;
  }
  return bytes;
}
