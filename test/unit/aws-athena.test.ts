// aws-sdk-client-mock only for what moto_server cannot answer: polling timings (moto's queries succeed at
// once), paged results (moto answers in one page), failed, cancelled and retryable queries, timeouts.
// The request (workgroup, database, ExecutionParameters or none), typed rows and the concurrency cap run
// against moto in test/integration/aws-athena.test.ts.
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  InvalidRequestException,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AthenaQueryEngine, renderSqlLiteral } from '../../src/aws/athena-query-engine.js';
import { QueryFailedError, TransientError } from '../../src/errors.js';

const athena = mockClient(AthenaClient);
let waits: number[];
let clock: number;

const engine = (timeoutMs?: number) =>
  new AthenaQueryEngine(new AthenaClient({ region: 'us-east-1' }), {
    workGroup: 'sagemaker-batch-pipeline-dev',
    database: 'batch_pipeline_dev',
    initialPollIntervalMs: 100,
    maxPollIntervalMs: 400,
    ...(timeoutMs ? { timeoutMs } : {}),
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
    now: () => clock,
  });

const row = (...values: (string | undefined)[]) => ({
  Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })),
});
const columns = [
  { Name: 'variant', Label: 'variant', Type: 'varchar' },
  { Name: 'records', Label: 'records', Type: 'bigint' },
  { Name: 'mean_score', Label: 'mean_score', Type: 'double' },
  { Name: 'flagged', Label: 'flagged', Type: 'boolean' },
];

beforeEach(() => {
  athena.reset();
  waits = [];
  clock = 0;
});

describe('AthenaQueryEngine.runQuery', () => {
  it('polls with growing waits until the query succeeds', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q2' });
    athena
      .on(GetQueryExecutionCommand, { QueryExecutionId: 'q2' })
      .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena
      .on(GetQueryResultsCommand)
      .resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [] }, Rows: [] } });

    await engine().runQuery('SELECT 1');

    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(5);
    expect(waits).toEqual([100, 200, 400, 400]);
  });

  it('reads every page of results, skips the header row and restores column types', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q3' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q3', MaxResults: 1000 })
      .resolves({
        NextToken: 'page-2',
        ResultSet: {
          ResultSetMetadata: { ColumnInfo: columns },
          Rows: [row('variant', 'records', 'mean_score', 'flagged'), row('a', '10', '0.25', 'true')],
        },
      })
      .on(GetQueryResultsCommand, { QueryExecutionId: 'q3', MaxResults: 1000, NextToken: 'page-2' })
      .resolves({
        ResultSet: {
          ResultSetMetadata: { ColumnInfo: columns },
          Rows: [row('b', '9007199254740993', undefined, 'false')],
        },
      });

    const result = await engine().runQuery('SELECT …');

    expect(result).toEqual({
      columns: ['variant', 'records', 'mean_score', 'flagged'],
      rows: [
        { variant: 'a', records: 10, mean_score: 0.25, flagged: true },
        // Beyond 2^53 the exact digits are kept as text; a missing value is null.
        { variant: 'b', records: '9007199254740993', mean_score: null, flagged: false },
      ],
    });
  });

  it('throws QueryFailedError with the StateChangeReason when the query fails', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q4' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({
        QueryExecution: {
          Status: {
            State: 'FAILED',
            StateChangeReason: "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.db.nope' does not exist",
            AthenaError: { ErrorCategory: 2, Retryable: false },
          },
        },
      });

    const attempt = engine().runQuery('SELECT * FROM nope');

    await expect(attempt).rejects.toThrow(QueryFailedError);
    await expect(attempt).rejects.toThrow(
      "Athena query q4 FAILED: TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.db.nope' does not exist",
    );
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('throws QueryFailedError when the query is cancelled', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q5' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { Status: { State: 'CANCELLED', StateChangeReason: 'Query was cancelled by user' } },
    });
    await expect(engine().runQuery('SELECT 1')).rejects.toThrow(
      'Athena query q5 CANCELLED: Query was cancelled by user',
    );
  });

  it('throws TransientError when Athena marks the failure retryable', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q6' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        Status: {
          State: 'FAILED',
          StateChangeReason: 'Internal error',
          AthenaError: { ErrorCategory: 1, Retryable: true },
        },
      },
    });
    await expect(engine().runQuery('SELECT 1')).rejects.toBeInstanceOf(TransientError);
  });

  it('stops a query that outlives its timeout', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q7' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});

    await expect(engine(1_000).runQuery('SELECT 1')).rejects.toThrow('did not finish within 1000 ms');
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryExecutionId: 'q7',
    });
  });

  it('reports a malformed statement as QueryFailedError', async () => {
    athena
      .on(StartQueryExecutionCommand)
      .rejects(new InvalidRequestException({ message: 'line 1:8: mismatched input', $metadata: {} }));
    await expect(engine().runQuery('SELECT FROM')).rejects.toThrow(QueryFailedError);
  });
});

describe('renderSqlLiteral', () => {
  it('quotes strings and doubles their single quotes', () => {
    expect(renderSqlLiteral('run-1')).toBe("'run-1'");
    expect(renderSqlLiteral("O'Brien's")).toBe("'O''Brien''s'");
    expect(renderSqlLiteral("'; DROP TABLE predictions; --")).toBe("'''; DROP TABLE predictions; --'");
  });

  it('writes numbers as they are, and booleans and null as keywords', () => {
    expect(renderSqlLiteral(42)).toBe('42');
    expect(renderSqlLiteral(-0.125)).toBe('-0.125');
    expect(renderSqlLiteral(true)).toBe('TRUE');
    expect(renderSqlLiteral(false)).toBe('FALSE');
    expect(renderSqlLiteral(null)).toBe('NULL');
  });

  it('refuses numbers that have no SQL literal', () => {
    expect(() => renderSqlLiteral(Number.NaN)).toThrow(QueryFailedError);
    expect(() => renderSqlLiteral(Number.POSITIVE_INFINITY)).toThrow(QueryFailedError);
  });
});
