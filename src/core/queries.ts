import { QueryFailedError } from '../errors.js';
import type { QueryValue } from '../ports.js';
import { assertIdentifier } from './results-table.js';

/**
 * Named queries: SQL files in queries/ written in the subset of Athena's (Trino's) dialect that DuckDB
 * also runs, so the same text answers on AWS and locally.
 *
 * A file starts with comment lines: the first is the description, and `-- parameters: a, b` names the
 * `?` placeholders in order. The results table is written `{{table}}` and substituted only after the
 * name is checked to be a plain identifier; every value is a `?` parameter, bound by the engine, so a
 * parameter can never change the SQL.
 *
 * This module takes SQL text and never reads files (core stays filesystem-free); see
 * src/query-files.ts for the loader.
 */

/** The queries shipped in queries/, by file name without `.sql`. */
export const NAMED_QUERIES = [
  'summary',
  'label-counts',
  'score-histogram',
  'variant-comparison',
  'evaluation',
  'drift',
  'feature-statistics',
  'variant-agreement',
  'variant-disagreements',
] as const;

/** A named query, parsed and checked. */
export interface NamedQuery {
  name: string;
  description: string;
  /** Parameter names, in the order of the `?` placeholders. */
  parameters: string[];
  /** The SQL, with `{{table}}` still to be rendered. */
  sql: string;
}

/** A request to run one named query with named parameter values. */
export interface QueryRequest {
  name: string;
  parameters: Record<string, QueryValue>;
}

const QUERY_NAME = /^[a-z0-9-]+$/;
const PARAMETER_NAME = /^[a-z_][a-z0-9_]*$/;
const TABLE_PLACEHOLDER = '{{table}}';

/**
 * Parses a named query's text and checks it: a description, declared parameters matching the `?`
 * placeholders one for one, `{{table}}` present and no other `{{…}}` placeholder.
 *
 * @throws QueryFailedError naming the query when the text breaks one of these rules.
 */
export function loadNamedQuery(name: string, sqlText: string): NamedQuery {
  if (!QUERY_NAME.test(name)) throw new QueryFailedError(`Invalid query name "${name}"`);
  const header = headerComments(sqlText);
  const description = header.find((line) => !/^parameters\s*:/i.test(line)) ?? '';
  const declaration = header.find((line) => /^parameters\s*:/i.test(line));
  const parameters = declaration
    ? declaration
        .replace(/^parameters\s*:/i, '')
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '')
    : [];
  for (const parameter of parameters) {
    if (!PARAMETER_NAME.test(parameter)) {
      throw new QueryFailedError(`Query ${name}: invalid parameter name "${parameter}"`);
    }
  }
  const placeholders = countPlaceholders(sqlText);
  if (placeholders !== parameters.length) {
    throw new QueryFailedError(
      `Query ${name} has ${placeholders} ? placeholder(s) but declares ${parameters.length} parameter(s)` +
        ` (${parameters.join(', ') || 'none'}) in its "-- parameters:" line`,
    );
  }
  if (!sqlText.includes(TABLE_PLACEHOLDER)) {
    throw new QueryFailedError(`Query ${name} does not name the results table as ${TABLE_PLACEHOLDER}`);
  }
  const other = /\{\{(?!table\}\})[^}]*\}\}/.exec(sqlText);
  if (other) throw new QueryFailedError(`Query ${name}: unknown placeholder ${other[0]}`);
  return { name, description, parameters, sql: sqlText };
}

/**
 * Substitutes the results table's name for `{{table}}`.
 *
 * @throws InvalidInputError when `table` is not a plain identifier (so it cannot carry SQL).
 */
export function renderQuery(sql: string, table: string): string {
  assertIdentifier(table, 'table name');
  return sql.split(TABLE_PLACEHOLDER).join(table);
}

/**
 * Orders named parameter values as the query's `?` placeholders expect them.
 *
 * @throws QueryFailedError when a declared parameter has no value or a value names no parameter.
 */
export function bindParameters(query: NamedQuery, values: Record<string, QueryValue>): QueryValue[] {
  const unknown = Object.keys(values).filter((key) => !query.parameters.includes(key));
  if (unknown.length > 0) {
    throw new QueryFailedError(
      `Query ${query.name} has no parameter ${unknown.join(', ')} (it takes: ${query.parameters.join(', ') || 'none'})`,
    );
  }
  return query.parameters.map((parameter) => {
    const value = values[parameter];
    if (value === undefined) {
      throw new QueryFailedError(`Query ${query.name} needs a value for parameter ${parameter}`);
    }
    return value;
  });
}

/**
 * Checks a query request from outside (CLI, API): a known query name and scalar parameter values.
 *
 * @throws QueryFailedError listing the known queries when the name is unknown, or naming a bad value.
 */
export function validateQueryRequest(
  request: unknown,
  knownQueries: readonly string[] = NAMED_QUERIES,
): QueryRequest {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new QueryFailedError('A query request must be an object {name, parameters}');
  }
  const { name, parameters = {} } = request as { name?: unknown; parameters?: unknown };
  if (typeof name !== 'string' || !knownQueries.includes(name)) {
    throw new QueryFailedError(
      `Unknown query ${JSON.stringify(name)}: known queries are ${knownQueries.join(', ')}`,
    );
  }
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    throw new QueryFailedError(`Query ${name}: parameters must be an object of name → value`);
  }
  for (const [key, value] of Object.entries(parameters)) {
    const scalar =
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!scalar)
      throw new QueryFailedError(`Query ${name}: parameter ${key} must be a string, number, boolean or null`);
  }
  return { name, parameters: parameters as Record<string, QueryValue> };
}

/** The leading `--` comment lines, without the dashes. */
function headerComments(sqlText: string): string[] {
  const lines: string[] = [];
  for (const line of sqlText.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (!trimmed.startsWith('--')) break;
    lines.push(trimmed.replace(/^--\s?/, '').trim());
  }
  return lines;
}

/**
 * Counts `?` placeholders outside string literals, quoted identifiers and comments, as the engines
 * see them.
 */
export function countPlaceholders(sql: string): number {
  let count = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      // Quotes are escaped by doubling in both dialects: '' inside a string, "" inside an identifier.
      i += 1;
      while (i < sql.length) {
        if (sql[i] === c) {
          if (sql[i + 1] === c) i += 2;
          else break;
        } else i += 1;
      }
      i += 1;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else {
      if (c === '?') count += 1;
      i += 1;
    }
  }
  return count;
}
