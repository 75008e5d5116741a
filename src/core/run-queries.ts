import pLimit from 'p-limit';
import { QueryFailedError, TransientError } from '../errors.js';
import type { QueryEngine, QueryRow, QueryValue } from '../ports.js';
import {
  bindParameters,
  loadNamedQuery,
  NAMED_QUERIES,
  renderQuery,
  validateQueryRequest,
} from './queries.js';

/** One query's answer, as the run summary stores it. */
export interface QueryResult {
  columns: string[];
  rows: QueryRow[];
}

/** RunQueries' input: which queries to run over which run's results. */
export interface RunNamedQueriesRequest {
  runId: string;
  /** The results table the queries read (its `{{table}}`). */
  table: string;
  /** Named queries (queries/<name>.sql), each run once with `run_id` = runId. */
  queries: string[];
  /** The run `drift` compares with (`baseline_run_id`); default: the previous run of the table and variant. */
  baselineRunId?: string;
}

/** The ports named queries need: an engine to run SQL and a way to read a query's text. */
export interface NamedQueryDeps {
  queryEngine: QueryEngine;
  /** The SQL text of a named query (from queries/ on disk, or packaged with the function). */
  loadQuery: (name: string) => Promise<string>;
  /** Query names accepted; the shipped set by default. */
  knownQueries?: readonly string[];
}

/** A named query starting or ending, for a progress display (the local CLI). */
export type QueryProgressEvent =
  | { type: 'query-started'; name: string }
  | { type: 'query-finished'; name: string; rows: number }
  | { type: 'query-failed'; name: string };

/** What RunQueries adds to {@link NamedQueryDeps}: how many queries run at once, and progress. */
export interface RunQueriesOptions {
  /**
   * Queries run at once (default: all). An engine that runs one statement at a time (DuckDB on one
   * connection) gets 1, so each query's start and end, as progress reports them, are its own.
   */
  concurrency?: number;
  /** Told as each query starts and ends; absent on AWS. */
  onProgress?: (event: QueryProgressEvent) => void;
}

/**
 * The RunQueries step's core: runs each named query over one run's results.
 *
 * Every name is checked before any query runs, so a typo fails fast listing the known queries. The
 * run id (and the drift baseline, `''` for the default) is bound as a parameter, never spliced into the SQL.
 *
 * @example runNamedQueries({ runId: 'r1', table: 'predictions', queries: ['summary'] }, deps)
 *   // { summary: { columns: ['variant', 'records', …], rows: [...] } }
 * @throws QueryFailedError naming the query that failed, or listing the known ones for an unknown name.
 */
export async function runNamedQueries(
  request: RunNamedQueriesRequest,
  deps: NamedQueryDeps & RunQueriesOptions,
): Promise<Record<string, QueryResult>> {
  const known = deps.knownQueries ?? NAMED_QUERIES;
  for (const name of request.queries) validateQueryRequest({ name }, known);
  const names = [...new Set(request.queries)];
  const limit = pLimit(Math.max(1, deps.concurrency ?? names.length));
  const report = deps.onProgress;
  const results = await Promise.all(
    names.map((name) =>
      limit(async () => {
        report?.({ type: 'query-started', name });
        try {
          const result = await runNamedQuery(
            { name, parameters: { run_id: request.runId, baseline_run_id: request.baselineRunId ?? '' } },
            request.table,
            deps,
            { partial: true },
          );
          report?.({ type: 'query-finished', name, rows: result.rows.length });
          return result;
        } catch (error) {
          report?.({ type: 'query-failed', name });
          throw error;
        }
      }),
    ),
  );
  return Object.fromEntries(names.map((name, i) => [name, results[i] as QueryResult]));
}

/**
 * Runs one named query with the given parameter values (`npm start -- query`, tests).
 *
 * With `partial`, parameters the query does not declare are ignored (RunQueries offers `run_id` to
 * every query; a query may not need it). Otherwise an unknown parameter is an error.
 *
 * @throws QueryFailedError naming the query.
 */
export async function runNamedQuery(
  request: { name: string; parameters: Record<string, QueryValue> },
  table: string,
  deps: NamedQueryDeps,
  options: { partial?: boolean } = {},
): Promise<QueryResult> {
  const { name } = validateQueryRequest(request, deps.knownQueries ?? NAMED_QUERIES);
  const query = loadNamedQuery(name, await deps.loadQuery(name));
  const offered = options.partial
    ? Object.fromEntries(Object.entries(request.parameters).filter(([key]) => query.parameters.includes(key)))
    : request.parameters;
  const parameters = bindParameters(query, offered);
  const sql = renderQuery(query.sql, table);
  try {
    return await deps.queryEngine.runQuery(sql, parameters);
  } catch (error) {
    const message = (error as Error).message;
    // A transient failure (throttling, Athena's retryable errors) keeps its name, so the state
    // machine's Retry on TransientError runs the step again; wrapping it would make it terminal.
    if (error instanceof TransientError) {
      throw new TransientError(`Query ${name} failed: ${message}`, { cause: error });
    }
    throw new QueryFailedError(`Query ${name} failed: ${message}`, { cause: error });
  }
}
