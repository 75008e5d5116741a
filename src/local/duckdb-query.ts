/**
 * Running one read statement on the local catalog's connection (duckdb-catalog.ts), and DuckDB's
 * result as the QueryEngine port's rows: scalars only, like Athena's string results.
 */
import {
  type DuckDBConnection,
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValue,
  StatementType,
} from '@duckdb/node-api';
import { QueryFailedError } from '../errors.js';
import type { QueryRow, QueryValue } from '../ports.js';

/** Statement kinds runQuery accepts: reads only (DESCRIBE, SHOW and PRAGMA version are SELECTs). */
const READ_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);

/**
 * Runs `sql` as one prepared read statement, `parameters` bound to its `?` in order.
 *
 * @throws QueryFailedError when the SQL holds more or less than one statement, is not a read
 *   statement, the parameter count does not match, or DuckDB rejects the query (its error kept as
 *   the cause).
 */
export async function runReadStatement(
  connection: DuckDBConnection,
  sql: string,
  parameters: QueryValue[],
): Promise<DuckDBResultReader> {
  let reader: DuckDBResultReader;
  try {
    const statements = await connection.extractStatements(sql);
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

/** DuckDB's errors for a file that a query planned to read and is gone. */
export function isMissingFileError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /No files found that match the pattern|No such file or directory|Cannot open file/.test(message);
}

/**
 * The result's columns and rows: BIGINT/HUGEINT as numbers when safe (else decimal strings), DECIMAL
 * numbers, DATE `YYYY-MM-DD`, TIMESTAMP ISO 8601, BLOB base64, lists/structs/maps JSON text.
 */
export function readResult(reader: DuckDBResultReader): { columns: string[]; rows: QueryRow[] } {
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
