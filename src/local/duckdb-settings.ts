/**
 * The settings the local catalog opens DuckDB with: capped memory and threads, so the query stage's
 * memory stays flat whatever the run's size (DuckDB spills to disk past its limit).
 */
import { availableParallelism } from 'node:os';
import { CatalogError } from '../errors.js';
import type { DuckDbCatalogOptions } from './duckdb-catalog.js';
import { sqlString } from './duckdb-sql.js';

/**
 * DuckDB's default memory_limit is 80% of the machine's RAM: at 4M rows the queries grew this process
 * past 1.3 GB. 256 MB keeps the process (Node's own ~100 MB included) under 400 MB; queries that need
 * more spill to disk.
 */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '256MB';

/**
 * DuckDB's default is one thread per core, each with its own buffers; two are enough for the run's
 * queries over much data (which read JSON lines files, one per thread) and leave the other cores to the
 * model servers. Less data gets one (see {@link duckDbThreads}).
 */
export function defaultDuckDbThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/**
 * Data for the queries to read (the `.json` files of the partitions the catalog's views cover) at or
 * below which DuckDB runs on one thread. On the sample's 260 KB of statistics and on JSON results of
 * 1-64 MB read alone, two threads were never faster on this project's 2-core machines (loaded: load 4-5)
 * and took up to twice the CPU: their start and hand-offs cost more than they split.
 */
export const ONE_THREAD_MAX_BYTES = 16 * 1024 * 1024;

/**
 * DuckDB's threads for queries over `dataBytes` of data: the count set by the options or
 * $PIPELINE_DUCKDB_THREADS whenever one is, else one thread up to {@link ONE_THREAD_MAX_BYTES} and
 * {@link defaultDuckDbThreads} above. The catalog opens with the count for no data (its bookkeeping
 * needs no more) and sets it again before each query.
 */
export function duckDbThreads(
  options: DuckDbCatalogOptions,
  dataBytes: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const configured = options.threads ?? positiveInteger(env.PIPELINE_DUCKDB_THREADS);
  if (configured !== undefined) return configured;
  return dataBytes <= ONE_THREAD_MAX_BYTES ? 1 : defaultDuckDbThreads();
}

/**
 * DuckDB's thread settings for queries on `threads` threads each. One thread is asked for as three
 * threads that are all external (`external_threads`): DuckDB then starts no thread of its own, so each
 * query runs on the one thread that asked for it, as with `threads = 1`. But DuckDB sizes each hash
 * aggregate's first table by its thread count: at two threads or fewer 262,144 entries (2 MB, zeroed
 * and faulted in for every GROUP BY however few its rows), above two 32,768. The sample run's five
 * queries hold about twenty such operators: 1 → 3 external threads took its queries 148 → 134 ms and
 * its CPU 0.875 → 0.850 s (14 rounds, docs/performance.md). Results are the same.
 */
export function threadSettings(threads: number): { threads: string; external_threads: string } {
  return threads === 1
    ? { threads: '3', external_threads: '3' }
    : { threads: String(threads), external_threads: '1' };
}

/** The settings DuckDB checks against each other (threads ≥ external_threads). */
const THREAD_SETTINGS = ['threads', 'external_threads'];

/**
 * The SET statements that move a DuckDB instance from `current` settings to `wanted` ones: one for each
 * setting that differs, the thread settings last and in an order DuckDB accepts (it refuses fewer
 * threads than external threads at every step, so the external count goes to 1 first). A thread
 * setting `wanted` lacks is DuckDB's default for it, which is 1 for `external_threads`.
 */
export function settingStatements(wanted: Record<string, string>, current: Record<string, string>): string[] {
  const statements = Object.entries(wanted)
    .filter(([name, value]) => !THREAD_SETTINGS.includes(name) && current[name] !== value)
    .map(([name, value]) => `SET ${name} = ${sqlString(value)}`);
  if (THREAD_SETTINGS.some((name) => wanted[name] !== current[name])) {
    statements.push(
      'SET external_threads = 1',
      `SET threads = ${Number(wanted.threads ?? 1)}`,
      `SET external_threads = ${Number(wanted.external_threads ?? 1)}`,
    );
  }
  return statements;
}

/** The DuckDB settings a catalog opens with: options, then the environment, then the defaults. */
export function duckDbSettings(
  options: DuckDbCatalogOptions,
  tempDirectory?: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const threads = duckDbThreads(options, 0, env);
  return {
    // Where DuckDB spills past memory_limit (an in-memory instance would pick ".tmp" in the cwd).
    ...(tempDirectory ? { temp_directory: tempDirectory } : {}),
    memory_limit: options.memoryLimit ?? (env.PIPELINE_DUCKDB_MEMORY_LIMIT || DEFAULT_DUCKDB_MEMORY_LIMIT),
    ...threadSettings(threads),
  };
}

function positiveInteger(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new CatalogError(`PIPELINE_DUCKDB_THREADS must be a positive integer, got "${text}"`);
  return value;
}
