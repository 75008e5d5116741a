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
    expect(rerun.notDeleted).toEqual([]);
    // Variant a points at the re-run's attempt; variant b's partition is gone, in both tables.
    expect(await gluePartitions('predictions')).toEqual({ a: at('a', A2) });
    expect(await gluePartitions('predictions_stats')).toEqual({ a: at('a', A2, 'predictions_stats') });
    // And the first attempt's objects were deleted after the switch: only A2's remain.
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
