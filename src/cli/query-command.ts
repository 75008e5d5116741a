/**
 * `npm start -- query`: SQL over the local results, or a named query from queries/, printed as a
 * table, CSV or JSON.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bindParameters, loadNamedQuery, renderQuery } from '../core/queries.js';
import { UsageError } from '../errors.js';
import { LocalPipeline } from '../local/local-pipeline.js';
import { QUERIES_DIR } from '../local/paths.js';
import type { QueryValue } from '../ports.js';
import { createQueryLoader } from '../query-files.js';
import { printRows, type QueryFormat } from './output.js';
import { localRunFolder } from './runs-command.js';

export interface QueryCommandOptions {
  home: string;
  /** The SQL, or one word naming queries/<name>.sql. */
  text: string;
  params: string[];
  format: QueryFormat;
  /** The results table a named query reads. */
  table: string;
}

/** Runs a query; resolves with the exit code (0 answered; a failed query throws, exit code 1). */
export async function queryCommand(options: QueryCommandOptions): Promise<number> {
  const text = options.text.trim();
  if (text === '')
    throw new UsageError('Give the SQL to run, or a query name: npm start -- query summary --param sample');
  let sql = text;
  const params = options.params;
  let bound: QueryValue[] = params;
  let runId: string | undefined;
  if (/^[a-z0-9-]+$/.test(text)) {
    if (!existsSync(join(QUERIES_DIR, `${text}.sql`))) {
      throw new UsageError(
        `No query named "${text}" in queries/ (named queries: ${namedQueries().join(', ')})`,
      );
    }
    const query = loadNamedQuery(text, await createQueryLoader(QUERIES_DIR)(text));
    // One --param per distinct name: a query may use a value twice (run_id in score-histogram).
    const names = [...new Set(query.parameters)];
    if (params.length !== names.length) {
      throw new UsageError(
        `Query ${text} takes ${names.length} parameter(s) (${names.join(', ') || 'none'}): ` +
          `give each with --param, in that order, e.g. npm start -- query ${text}${names.map((p) => ` --param <${p}>`).join('')}`,
      );
    }
    sql = renderQuery(query.sql, options.table);
    bound = bindParameters(query, Object.fromEntries(names.map((name, i) => [name, params[i] as string])));
    if (names.includes('run_id')) runId = params[names.indexOf('run_id')];
  }
  // Read-only: a query can never change the catalog or the published results.
  const pipeline = await LocalPipeline.open({ home: options.home, readOnly: true });
  try {
    const { columns, rows } = await pipeline.catalog.runQuery(sql, bound);
    printRows(process.stdout, columns, rows, options.format);
    // No rows because the run id is mistyped looks the same as a run with nothing to report: say which.
    if (rows.length === 0 && runId !== undefined && !existsSync(localRunFolder(options.home, runId))) {
      process.stderr.write(`No run "${runId}" in ${options.home}: npm start -- runs lists the runs there.\n`);
    }
    return 0;
  } finally {
    await pipeline.close();
  }
}

/** The names of the queries in queries/. */
export function namedQueries(): string[] {
  return readdirSync(QUERIES_DIR)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.slice(0, -4))
    .sort();
}
