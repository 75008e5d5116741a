/**
 * AthenaQueryEngine against moto_server's Athena: the request it sends (workgroup, database, execution
 * parameters as SQL literals), polling to SUCCEEDED, typed rows from GetQueryResults, and the cap on
 * queries running at once. moto does not execute SQL: it answers GetQueryResults from a queue of
 * results set through its /moto-api/static/athena/query-results endpoint, so this file uses a region of
 * its own (moto keeps one queue per region). Failed and retryable queries, which moto cannot produce,
 * stay in test/unit/aws-athena.test.ts.
 */
import {
  AthenaClient,
  CreateWorkGroupCommand,
  GetQueryExecutionCommand,
  ListQueryExecutionsCommand,
} from '@aws-sdk/client-athena';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AthenaQueryEngine } from '../../src/aws/athena-query-engine.js';
import { MOTO_CREDENTIALS, type Moto, startMoto, uniqueName } from '../helpers/moto.js';

const REGION = 'ap-southeast-2';
let moto: Moto;
let athena: AthenaClient;
let workGroup: string;

async function queueResults(results: { rows: string[][]; columns: { name: string; type: string }[] }[]) {
  const response = await fetch(`${moto.endpoint}/moto-api/static/athena/query-results`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      region: REGION,
      results: results.map(({ rows, columns }) => ({
        rows: [
          { Data: columns.map((c) => ({ VarCharValue: c.name })) },
          ...rows.map((row) => ({ Data: row.map((value) => ({ VarCharValue: value })) })),
        ],
        column_info: columns.map((c) => ({ Name: c.name, Label: c.name, Type: c.type })),
      })),
    }),
  });
  expect(response.status).toBe(201);
}

beforeAll(async () => {
  moto = await startMoto();
  athena = new AthenaClient({ endpoint: moto.endpoint, region: REGION, credentials: MOTO_CREDENTIALS });
  workGroup = uniqueName('wg');
  await athena.send(
    new CreateWorkGroupCommand({
      Name: workGroup,
      Configuration: {
        ResultConfiguration: { OutputLocation: 's3://athena-results-bucket/athena-results/' },
      },
    }),
  );
});

afterAll(async () => {
  athena?.destroy();
  await moto?.stop();
});

describe('AthenaQueryEngine (moto)', () => {
  it('runs the query in the workgroup and database with its parameters as SQL literals, and types the rows', async () => {
    await queueResults([
      {
        columns: [
          { name: 'variant', type: 'varchar' },
          { name: 'records', type: 'bigint' },
          { name: 'mean_score', type: 'double' },
          { name: 'complete', type: 'boolean' },
        ],
        rows: [
          ['a', '569', '0.625', 'true'],
          ['b', '9007199254740993', '0.5', 'false'],
        ],
      },
    ]);
    const engine = new AthenaQueryEngine(athena, { workGroup, database: 'batch_pipeline_test' });

    const result = await engine.runQuery('SELECT variant, count(*) FROM t WHERE run_id = ? AND n > ?', [
      "it's",
      3,
    ]);

    expect(result).toEqual({
      columns: ['variant', 'records', 'mean_score', 'complete'],
      rows: [
        { variant: 'a', records: 569, mean_score: 0.625, complete: true },
        // Beyond 2^53 the digits are kept as text rather than rounded.
        { variant: 'b', records: '9007199254740993', mean_score: 0.5, complete: false },
      ],
    });
    const ids = (await athena.send(new ListQueryExecutionsCommand({ WorkGroup: workGroup })))
      .QueryExecutionIds;
    expect(ids).toHaveLength(1);
    const execution = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: ids?.[0] })))
      .QueryExecution;
    expect(execution?.Query).toBe('SELECT variant, count(*) FROM t WHERE run_id = ? AND n > ?');
    expect(execution?.WorkGroup).toBe(workGroup);
    expect(execution?.QueryExecutionContext?.Database).toBe('batch_pipeline_test');
    expect(execution?.ExecutionParameters).toEqual(["'it''s'", '3']);
    expect(execution?.Status?.State).toBe('SUCCEEDED');
  });

  it('sends no ExecutionParameters for a query without parameters (Athena refuses an empty list)', async () => {
    await queueResults([{ columns: [{ name: 'one', type: 'integer' }], rows: [['1']] }]);
    const engine = new AthenaQueryEngine(athena, { workGroup, database: 'batch_pipeline_test' });

    const result = await engine.runQuery('SELECT 1 AS one');

    expect(result).toEqual({ columns: ['one'], rows: [{ one: 1 }] });
    const ids =
      (await athena.send(new ListQueryExecutionsCommand({ WorkGroup: workGroup }))).QueryExecutionIds ?? [];
    const executions = await Promise.all(
      ids.map(
        async (id) =>
          (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution,
      ),
    );
    const execution = executions.find((e) => e?.Query === 'SELECT 1 AS one');
    expect(execution?.Status?.State).toBe('SUCCEEDED');
    expect(execution && 'ExecutionParameters' in execution).toBe(false);
  });

  it('runs at most maxConcurrentQueries at once and answers every query', async () => {
    const names = ['summary', 'histogram', 'labels', 'agreement', 'evaluation'];
    await queueResults(names.map((name) => ({ columns: [{ name: 'q', type: 'varchar' }], rows: [[name]] })));
    let active = 0;
    let peak = 0;
    const counted = new AthenaClient({
      endpoint: moto.endpoint,
      region: REGION,
      credentials: MOTO_CREDENTIALS,
    });
    counted.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StartQueryExecutionCommand') peak = Math.max(peak, ++active);
        const output = await next(args);
        if (context.commandName === 'GetQueryResultsCommand') active -= 1;
        // moto answers at once: hold each call a little so overlapping queries would show.
        await new Promise((resolve) => setTimeout(resolve, 20));
        return output;
      },
      { step: 'initialize' },
    );
    const engine = new AthenaQueryEngine(counted, { workGroup, database: 'db', maxConcurrentQueries: 2 });

    const results = await Promise.all(names.map((name) => engine.runQuery(`SELECT '${name}'`)));

    expect(peak).toBe(2);
    expect(results.map((r) => r.rows.length)).toEqual([1, 1, 1, 1, 1]);
    counted.destroy();
  });
});
