/**
 * RegisterTable's one-step partition switch on AWS, against moto_server (Glue and S3 as moto answers
 * them): GlueCatalog.switchRunPartitions creates, relocates and drops a run's partitions, and the
 * previous attempt's S3 objects are deleted only after the switch succeeded.
 */

import { CreateDatabaseCommand, GetPartitionsCommand, GlueClient } from '@aws-sdk/client-glue';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlueCatalog } from '../../src/aws/glue-catalog.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { registerResultsTable } from '../../src/core/register-table.js';
import { commitAttempt } from '../../src/core/register-table-commit.js';
import { resultsTableDefinition } from '../../src/core/results-table.js';
import { CatalogError, TransientError } from '../../src/errors.js';
import { MOTO_CREDENTIALS, MOTO_REGION, type Moto, startMoto, uniqueName } from '../helpers/moto.js';

let moto: Moto;
let s3: S3Client;
let glue: GlueClient;
let bucket: string;
let database: string;

beforeAll(async () => {
  moto = await startMoto();
  const config = { endpoint: moto.endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS };
  s3 = new S3Client({ ...config, forcePathStyle: true });
  glue = new GlueClient(config);
  bucket = uniqueName('glue-switch');
  database = uniqueName('db').replaceAll('-', '_');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  glue?.destroy();
  await moto?.stop();
});

const RUN_DATE = '2026-11-30';
const RUN_ID = 'run-1';
// Attempt ids as run-attempt.ts makes them (12 hex digits); written out so the test does not share code with it.
const A1 = '111111111111';
const A2 = '222222222222';
const A3 = '333333333333';

/** The partition folder of a variant and attempt, in the results or the stats table. */
const at = (variant: string, attempt: string, table = 'predictions') =>
  `s3://${bucket}/results/${table}/run_date=${RUN_DATE}/run_id=${RUN_ID}/variant=${variant}/attempt=${attempt}/`;

/** Writes an attempt's result and stats files to S3 (moto) and returns RegisterTable's request for it. */
async function writeAttempt(attempt: string, variants: string[]) {
  const files: string[] = [];
  for (const variant of variants) {
    for (const table of ['predictions', 'predictions_stats']) {
      const uri = `${at(variant, attempt, table)}part-0000.json`;
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: uri.slice(`s3://${bucket}/`.length), Body: '{}\n' }),
      );
      if (table === 'predictions') files.push(uri);
    }
  }
  return {
    database,
    table: 'predictions',
    resultsPrefix: `s3://${bucket}/results/`,
    runId: RUN_ID,
    runDate: RUN_DATE,
    attemptId: attempt,
    runPrefix: `s3://${bucket}/runs/${RUN_ID}/`,
    partitions: variants.map((variant) => ({
      values: [RUN_DATE, RUN_ID, variant],
      location: at(variant, attempt),
    })),
    files,
  };
}

/** The run's partitions as Glue itself lists them (GetPartitions), variant → location. */
async function gluePartitions(table: string): Promise<Record<string, string>> {
  const output = await glue.send(new GetPartitionsCommand({ DatabaseName: database, TableName: table }));
  return Object.fromEntries(
    (output.Partitions ?? []).map((p) => [p.Values?.[2] ?? '', p.StorageDescriptor?.Location ?? '']),
  );
}

async function keysUnder(prefix: string): Promise<string[]> {
  const store = new S3ObjectStore(s3);
  const out: string[] = [];
  for await (const object of store.list(`s3://${bucket}/${prefix}`))
    out.push(object.uri.slice(`s3://${bucket}/`.length));
  return out;
}

describe('RegisterTable on Glue and S3 (moto)', () => {
  it('first run creates the partitions; a re-run relocates them to its attempt and drops a variant it no longer has', async () => {
    const store = new S3ObjectStore(s3);
    const catalog = new GlueCatalog(glue);

    const first = await registerResultsTable(await writeAttempt(A1, ['a', 'b']), { catalog, store });
    expect(first.replacedPartitions).toBe(0);
    expect(await gluePartitions('predictions')).toEqual({ a: at('a', A1), b: at('b', A1) });
    expect(await gluePartitions('predictions_stats')).toEqual({
      a: at('a', A1, 'predictions_stats'),
      b: at('b', A1, 'predictions_stats'),
    });

    const rerun = await registerResultsTable(await writeAttempt(A2, ['a']), { catalog, store });
    expect(rerun.replacedPartitions).toBe(2);
    // Variant a points at the re-run's attempt; variant b's partition is gone, in both tables.
    expect(await gluePartitions('predictions')).toEqual({ a: at('a', A2) });
    expect(await gluePartitions('predictions_stats')).toEqual({ a: at('a', A2, 'predictions_stats') });
    // The switch deletes nothing: until the run succeeded, a failure switches it back to A1.
    expect((await keysUnder('results/')).filter((k) => k.includes(`attempt=${A1}/`))).toHaveLength(4);
    // Once the run succeeded (RunQueries' last act), the first attempt's objects go: only A2's remain.
    const committed = await commitAttempt(store, `s3://${bucket}/runs/${RUN_ID}/`, A2);
    expect(committed).toEqual({ deletedFiles: 4, notDeleted: [] });
    expect(await keysUnder('results/')).toEqual([
      `results/predictions/run_date=${RUN_DATE}/run_id=${RUN_ID}/variant=a/attempt=${A2}/part-0000.json`,
      `results/predictions_stats/run_date=${RUN_DATE}/run_id=${RUN_ID}/variant=a/attempt=${A2}/part-0000.json`,
    ]);
  });

  it('when the switch fails, the published attempt keeps its partitions and every one of its objects', async () => {
    const store = new S3ObjectStore(s3);
    const before = await keysUnder('results/');
    expect(before.some((k) => k.includes(`attempt=${A2}/`))).toBe(true);

    // A Glue client whose BatchUpdatePartition is refused (as an outage or a missing IAM permission would be);
    // every other call reaches moto.
    const failing = new GlueClient({
      endpoint: moto.endpoint,
      region: MOTO_REGION,
      credentials: MOTO_CREDENTIALS,
    });
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchUpdatePartitionCommand') {
          throw Object.assign(new Error('User is not authorized to perform: glue:BatchUpdatePartition'), {
            name: 'AccessDeniedException',
            $metadata: { httpStatusCode: 403 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'refuseBatchUpdatePartition' },
    );
    const request = await writeAttempt(A3, ['a']);
    await expect(registerResultsTable(request, { catalog: new GlueCatalog(failing), store })).rejects.toThrow(
      /BatchUpdatePartition/,
    );
    failing.destroy();

    // The catalog still points the run at A2.
    expect(await gluePartitions('predictions')).toEqual({ a: at('a', A2) });
    // Nothing of A2 was deleted: the deletes come only after a switch that succeeded.
    const after = await keysUnder('results/');
    for (const key of before) expect(after).toContain(key);
  });
});

/**
 * A Glue client that answers like moto, except that the calls `refuse` picks (by command name and how
 * many calls of that command came before) are refused as Glue would refuse them.
 */
function refusingGlue(
  refuse: (command: string, nth: number) => { name: string; status: number } | undefined,
) {
  const client = new GlueClient({
    endpoint: moto.endpoint,
    region: MOTO_REGION,
    credentials: MOTO_CREDENTIALS,
  });
  const counts = new Map<string, number>();
  const calls: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      const nth = (counts.get(command) ?? 0) + 1;
      counts.set(command, nth);
      calls.push(command);
      const refusal = refuse(command, nth);
      if (refusal) {
        throw Object.assign(new Error(`${refusal.name} from the test on ${command} #${nth}`), {
          name: refusal.name,
          $fault: 'client',
          $metadata: { httpStatusCode: refusal.status },
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'refuseSomeCalls' },
  );
  return { client, calls };
}

describe('GlueCatalog.switchRunPartitions: order, and putting back a switch that failed half-way (moto)', () => {
  // Its own run in its own table, so the tests above are not disturbed.
  const RUN = ['2026-11-29', 'order-run'];
  const where = (variant: string, attempt: string) =>
    `s3://${bucket}/results/switch_order/run_date=${RUN[0]}/run_id=${RUN[1]}/variant=${variant}/attempt=${attempt}/`;
  const partitionsOf = (attempt: string, variants: string[]) =>
    variants.map((variant) => ({ values: [...RUN, variant], location: where(variant, attempt) }));
  const table = () =>
    resultsTableDefinition({ database, table: 'switch_order', resultsPrefix: `s3://${bucket}/results/` });
  const PREVIOUS = () => ({ a: where('a', A1), b: where('b', A1) });

  /** Publishes A1 with variants a and b, as the state every test starts from. */
  async function publishA1() {
    const catalog = new GlueCatalog(glue);
    await catalog.registerTable(table());
    await catalog.switchRunPartitions(table(), RUN, partitionsOf(A1, ['a', 'b']));
    expect(await gluePartitions('switch_order')).toEqual(PREVIOUS());
  }

  it('updates existing partitions first, then creates, then deletes', async () => {
    await publishA1();
    const { client, calls } = refusingGlue(() => undefined);
    // A2 keeps a, adds c, drops b.
    const previous = await new GlueCatalog(client).switchRunPartitions(
      table(),
      RUN,
      partitionsOf(A2, ['a', 'c']),
    );
    client.destroy();
    expect(previous.map((p) => p.location).sort()).toEqual([where('a', A1), where('b', A1)]);
    expect(calls).toEqual([
      'GetPartitionsCommand',
      'BatchUpdatePartitionCommand',
      'BatchCreatePartitionCommand',
      'BatchDeletePartitionCommand',
    ]);
    expect(await gluePartitions('switch_order')).toEqual({ a: where('a', A2), c: where('c', A2) });
    // Back to A1 for the next tests (a switch is also how a rollback is done).
    await new GlueCatalog(glue).switchRunPartitions(table(), RUN, partitionsOf(A1, ['a', 'b']));
    expect(await gluePartitions('switch_order')).toEqual(PREVIOUS());
  });

  it('create refused after the update went through: the update is put back, Glue lists exactly the previous partitions', async () => {
    await publishA1();
    const { client, calls } = refusingGlue((command) =>
      command === 'BatchCreatePartitionCommand' && calls.filter((c) => c === command).length === 1
        ? { name: 'AccessDeniedException', status: 403 }
        : undefined,
    );
    const error = await new GlueCatalog(client)
      .switchRunPartitions(table(), RUN, partitionsOf(A2, ['a', 'c']))
      .catch((e: unknown) => e);
    client.destroy();
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as Error).message).toMatch(
      /failed at its create step \(every partition changed so far was put back/,
    );
    expect((error as Error).message).toContain('AccessDeniedException from the test');
    expect(((error as Error).cause as Error).name).toBe('AccessDeniedException');
    expect(await gluePartitions('switch_order')).toEqual(PREVIOUS());
  });

  it('delete refused after update and create: both are put back', async () => {
    await publishA1();
    const { client } = refusingGlue((command, nth) =>
      command === 'BatchDeletePartitionCommand' && nth === 1
        ? { name: 'AccessDeniedException', status: 403 }
        : undefined,
    );
    await expect(
      new GlueCatalog(client).switchRunPartitions(table(), RUN, partitionsOf(A2, ['a', 'c'])),
    ).rejects.toThrow(/failed at its delete step \(every partition changed so far was put back/);
    client.destroy();
    expect(await gluePartitions('switch_order')).toEqual(PREVIOUS());
  });

  it('a throttled create is put back and thrown as a TransientError, so the state machine retries from the previous state', async () => {
    await publishA1();
    const { client } = refusingGlue((command, nth) =>
      command === 'BatchCreatePartitionCommand' && nth === 1
        ? { name: 'ThrottlingException', status: 400 }
        : undefined,
    );
    const error = await new GlueCatalog(client)
      .switchRunPartitions(table(), RUN, partitionsOf(A2, ['a', 'c']))
      .catch((e: unknown) => e);
    client.destroy();
    expect(error).toBeInstanceOf(TransientError);
    expect(await gluePartitions('switch_order')).toEqual(PREVIOUS());
  });

  it('when putting back fails too, the error says the partitions may be mixed and keeps the first cause', async () => {
    await publishA1();
    // The create is refused, and so is the update that would put a back.
    const { client } = refusingGlue((command, nth) =>
      (command === 'BatchCreatePartitionCommand' && nth === 1) ||
      (command === 'BatchUpdatePartitionCommand' && nth === 2)
        ? { name: 'AccessDeniedException', status: 403 }
        : undefined,
    );
    const error = await new GlueCatalog(client)
      .switchRunPartitions(table(), RUN, partitionsOf(A2, ['a', 'c']))
      .catch((e: unknown) => e);
    client.destroy();
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as Error).message).toMatch(
      /putting the partitions back failed too .*may point at two attempts/,
    );
    expect(((error as Error).cause as Error).message).toContain('BatchCreatePartitionCommand #1');
    // What a failed put-back leaves (a points at A2) is what the message says; a later switch repairs it.
    expect(await gluePartitions('switch_order')).toEqual({ a: where('a', A2), b: where('b', A1) });
    await new GlueCatalog(glue).switchRunPartitions(table(), RUN, partitionsOf(A1, ['a', 'b']));
    expect(await gluePartitions('switch_order')).toEqual(PREVIOUS());
  });
});
