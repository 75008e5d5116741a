import {
  type AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  type Row,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import pLimit, { type LimitFunction } from 'p-limit';
import { QueryFailedError, TransientError } from '../errors.js';
import type { QueryEngine, QueryRow, QueryValue } from '../ports.js';
import { rethrowSdkError } from './sdk-errors.js';

export interface AthenaQueryEngineOptions {
  workGroup: string;
  /** Glue database unqualified table names resolve in. */
  database: string;
  /** First wait between GetQueryExecution polls; doubles up to `maxPollIntervalMs`. */
  initialPollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Give up (and stop the query) after this long; the Lambda's own timeout is the outer bound. */
  timeoutMs?: number;
  /**
   * Queries this engine runs at once; more wait their turn. Athena counts active queries per account
   * against a quota (DML queries: 20-200 depending on the region) and throttles StartQueryExecution
   * beyond it, so one run's queries should not all start together. Default 2.
   */
  maxConcurrentQueries?: number;
  /** Injected so tests poll without waiting. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const DONE_STATES = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/**
 * The QueryEngine port over Athena: starts the query in the workgroup (which enforces the encrypted
 * result location), polls until it ends, and reads every page of results as typed rows.
 */
export class AthenaQueryEngine implements QueryEngine {
  private readonly client: AthenaClient;
  private readonly limit: LimitFunction;
  private readonly options: Required<Omit<AthenaQueryEngineOptions, 'sleep' | 'now'>> &
    Pick<AthenaQueryEngineOptions, 'sleep' | 'now'>;

  constructor(client: AthenaClient, options: AthenaQueryEngineOptions) {
    this.client = client;
    this.options = {
      initialPollIntervalMs: 250,
      maxPollIntervalMs: 5_000,
      timeoutMs: 10 * 60_000,
      maxConcurrentQueries: 2,
      ...options,
    };
    this.limit = pLimit(this.options.maxConcurrentQueries);
  }

  /**
   * Runs one statement; `parameters` go to Athena's ExecutionParameters, one per `?`, rendered as SQL
   * literals because Athena takes them as literal text (a string must arrive quoted).
   *
   * @throws QueryFailedError with Athena's StateChangeReason when the query fails, is cancelled or
   *   times out; TransientError when Athena marks the failure retryable.
   */
  runQuery(sql: string, parameters: QueryValue[] = []): Promise<{ columns: string[]; rows: QueryRow[] }> {
    return this.limit(() => this.runOne(sql, parameters));
  }

  private async runOne(
    sql: string,
    parameters: QueryValue[],
  ): Promise<{ columns: string[]; rows: QueryRow[] }> {
    const executionParameters = parameters.map(renderSqlLiteral);
    const started = await this.send(
      () =>
        this.client.send(
          new StartQueryExecutionCommand({
            QueryString: sql,
            WorkGroup: this.options.workGroup,
            QueryExecutionContext: { Database: this.options.database },
            ...(executionParameters.length > 0 ? { ExecutionParameters: executionParameters } : {}),
          }),
        ),
      'Athena StartQueryExecution',
    );
    const queryExecutionId = started.QueryExecutionId;
    if (!queryExecutionId)
      throw new QueryFailedError('Athena StartQueryExecution returned no QueryExecutionId');
    const execution = await this.waitForEnd(queryExecutionId);
    const state = execution.Status?.State;
    if (state !== 'SUCCEEDED') {
      const reason = execution.Status?.StateChangeReason ?? 'no reason given';
      const message = `Athena query ${queryExecutionId} ${state}: ${reason}`;
      throw execution.Status?.AthenaError?.Retryable
        ? new TransientError(message)
        : new QueryFailedError(message);
    }
    return this.readResults(queryExecutionId);
  }

  private async waitForEnd(queryExecutionId: string): Promise<QueryExecution> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    const now = this.options.now ?? Date.now;
    const deadline = now() + this.options.timeoutMs;
    let interval = this.options.initialPollIntervalMs;
    for (;;) {
      const output = await this.send(
        () => this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryExecutionId })),
        'Athena GetQueryExecution',
      );
      const execution = output.QueryExecution ?? {};
      if (DONE_STATES.has(execution.Status?.State ?? '')) return execution;
      if (now() + interval > deadline) {
        await this.send(
          () => this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: queryExecutionId })),
          'Athena StopQueryExecution',
        );
        throw new QueryFailedError(
          `Athena query ${queryExecutionId} did not finish within ${this.options.timeoutMs} ms and was stopped`,
        );
      }
      await sleep(interval);
      interval = Math.min(interval * 2, this.options.maxPollIntervalMs);
    }
  }

  private async readResults(queryExecutionId: string): Promise<{ columns: string[]; rows: QueryRow[] }> {
    let columnInfo: ColumnInfo[] | undefined;
    const rows: QueryRow[] = [];
    let nextToken: string | undefined;
    let firstPage = true;
    do {
      const page = await this.send(
        () =>
          this.client.send(
            new GetQueryResultsCommand({
              QueryExecutionId: queryExecutionId,
              MaxResults: 1000,
              ...(nextToken ? { NextToken: nextToken } : {}),
            }),
          ),
        'Athena GetQueryResults',
      );
      columnInfo ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      let pageRows = page.ResultSet?.Rows ?? [];
      // SELECT results repeat the column labels as their first row; DDL and SHOW results do not.
      if (firstPage && pageRows[0] && isHeaderRow(pageRows[0], columnInfo)) pageRows = pageRows.slice(1);
      for (const row of pageRows) rows.push(convertRow(row, columnInfo));
      nextToken = page.NextToken;
      firstPage = false;
    } while (nextToken);
    return { columns: (columnInfo ?? []).map(columnName), rows };
  }

  private async send<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if ((error as { name?: string }).name === 'InvalidRequestException') {
        // Bad SQL, unknown table or a parameter count mismatch: the query itself is wrong.
        throw new QueryFailedError(`${what}: ${(error as Error).message}`, { cause: error });
      }
      rethrowSdkError(error, what);
    }
  }
}

/**
 * Renders a value as the SQL literal Athena expects in ExecutionParameters: strings single-quoted with
 * `'` doubled, finite numbers as written, booleans and null as keywords.
 *
 * @example renderSqlLiteral("it's") === "'it''s'"
 * @throws QueryFailedError for NaN and infinities, which have no SQL literal.
 */
export function renderSqlLiteral(value: QueryValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new QueryFailedError(`Query parameter ${value} has no SQL literal`);
    return String(value);
  }
  return `'${value.replaceAll("'", "''")}'`;
}

function columnName(info: ColumnInfo): string {
  return info.Label ?? info.Name ?? '';
}

function isHeaderRow(row: Row, columns: ColumnInfo[]): boolean {
  const data = row.Data ?? [];
  return (
    data.length === columns.length &&
    data.every((d, i) => {
      const info = columns[i];
      return info !== undefined && d.VarCharValue === columnName(info);
    })
  );
}

function convertRow(row: Row, columns: ColumnInfo[]): QueryRow {
  const out: QueryRow = {};
  columns.forEach((info, index) => {
    out[columnName(info)] = convertValue(row.Data?.[index]?.VarCharValue, info.Type ?? 'varchar');
  });
  return out;
}

/** Athena returns every value as text; this gives numbers and booleans their JSON types back. */
function convertValue(text: string | undefined, type: string): QueryValue {
  if (text === undefined) return null;
  switch (type.toLowerCase()) {
    case 'boolean':
      return text === 'true';
    case 'tinyint':
    case 'smallint':
    case 'integer':
    case 'int':
    case 'bigint': {
      const n = Number(text);
      // Beyond 2^53 a JS number would silently round: keep the exact digits as text.
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'double':
    case 'float':
    case 'real':
    case 'decimal': {
      const n = Number(text);
      return Number.isNaN(n) && text !== 'NaN' ? text : n;
    }
    default:
      return text;
  }
}
