/**
 * The Lambda bundles as deployed: the zips `sls package` makes are unzipped and each handler module is
 * imported and invoked as Lambda's Node runtime does (module loaded once with the function's
 * environment, then `handler(event, context)`), with the AWS SDK pointed at moto_server through
 * AWS_ENDPOINT_URL. What each step writes is read back from moto with a client of the test's own.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  AthenaClient,
  CreateWorkGroupCommand,
  GetQueryExecutionCommand,
  ListQueryExecutionsCommand,
} from '@aws-sdk/client-athena';
import {
  CreateDatabaseCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GlueClient,
} from '@aws-sdk/client-glue';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { MOTO_CREDENTIALS, type Moto, startMoto, uniqueName } from '../helpers/moto.js';
import { type PackagedService, packageService } from '../helpers/sls-package.js';

const REGION = 'us-west-1';
// Unique per process: moto's state may be shared (MOTO_ENDPOINT) with other runs of this file.
const DATABASE = uniqueName('batch_pipeline_test').replaceAll('-', '_');
const SAGEMAKER_ROLE = 'arn:aws:iam::123456789012:role/sagemaker-execution';
const WORKGROUP = uniqueName('sagemaker-batch-pipeline-test');

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let moto: Moto;
let packaged: PackagedService;
let unzipped: string;
let bucket: string;
let stateMachineArn: string;
let s3: S3Client;
let glue: GlueClient;
let sfn: SFNClient;
let athena: AthenaClient;
const handlers: Record<string, Handler> = {};

const context = (functionName: string) =>
  ({
    functionName,
    awsRequestId: uniqueName('request'),
    getRemainingTimeInMillis: () => 60_000,
  }) as unknown as Context;

async function objectText(key: string): Promise<string> {
  const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await output.Body?.transformToString()) ?? '';
}

beforeAll(async () => {
  moto = await startMoto();
  const clientConfig = { endpoint: moto.endpoint, region: REGION, credentials: MOTO_CREDENTIALS };
  s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  glue = new GlueClient(clientConfig);
  sfn = new SFNClient(clientConfig);
  bucket = uniqueName('bundles');
  await s3.send(
    new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: DATABASE } }));
  athena = new AthenaClient(clientConfig);
  await athena.send(
    new CreateWorkGroupCommand({
      Name: WORKGROUP,
      Configuration: { ResultConfiguration: { OutputLocation: `s3://${bucket}/athena-results/` } },
    }),
  );
  const machine = await sfn.send(
    new CreateStateMachineCommand({
      name: uniqueName('batch-transform'),
      roleArn: 'arn:aws:iam::123456789012:role/states',
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
    }),
  );
  stateMachineArn = machine.stateMachineArn ?? '';

  packaged = await packageService();
  unzipped = await mkdtemp(join(tmpdir(), 'lambda-bundles-'));
  // What Lambda's runtime sees: the function's environment (as the template sets it) plus the SDK's
  // endpoint override and credentials, set before the module is loaded.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    RESULTS_BUCKET: bucket,
    INPUT_PREFIX: 'incoming/',
    INPUT_SUFFIXES: '.csv',
    RUN_MARKER: '',
    RUN_TEMPLATE_KEY: 'config/run-template.json',
    GLUE_DATABASE: DATABASE,
    ATHENA_WORKGROUP: WORKGROUP,
    SAGEMAKER_ROLE_ARN: SAGEMAKER_ROLE,
    TRANSFORM_KMS_KEY_ID: '',
    TRANSFORM_VOLUME_KMS_KEY_ID: '',
    SUBNET_IDS: '',
    SECURITY_GROUP_IDS: '',
    IMAGE_REPOSITORIES: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost',
    STATE_MACHINE_ARN: stateMachineArn,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  for (const [fn, file] of [
    ['startRun', 'start-run'],
    ['buildManifest', 'build-manifest'],
    ['parseResults', 'parse-results'],
    ['registerTable', 'register-table'],
    ['runQueries', 'run-queries'],
    ['recordFailure', 'record-failure'],
  ] as const) {
    const root = join(unzipped, fn);
    await promisify(execFile)('unzip', ['-q', join(packaged.dir, `${fn}.zip`), '-d', root]);
    // Lambda sets it to where the zip is unpacked; runQueries finds its packaged queries/ there.
    process.env.LAMBDA_TASK_ROOT = root;
    const module = (await import(pathToFileURL(join(root, `dist/handlers/${file}.mjs`)).href)) as {
      handler: Handler;
    };
    handlers[fn] = module.handler;
  }
}, 600_000);

afterAll(async () => {
  for (const client of [s3, glue, sfn, athena]) client?.destroy();
  if (unzipped) await rm(unzipped, { recursive: true, force: true });
  if (packaged) await rm(packaged.dir, { recursive: true, force: true });
  await moto?.stop();
});

const handler = (fn: string): Handler => {
  const found = handlers[fn];
  if (!found) throw new Error(`No bundled handler ${fn}`);
  return found;
};

describe('the bundled startRun', () => {
  it('starts one execution for an upload, and no second one for the same event delivered again', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'config/run-template.json',
        Body: JSON.stringify({ models: [{ variant: 'a', modelName: 'churn-xgb' }] }),
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'incoming/day/a.csv', Body: '1,2\n3,4\n' }));
    const event = {
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: bucket }, object: { key: 'incoming/day/a.csv', size: 8, etag: 'e1' } },
    };

    const first = (await handler('startRun')(event, context('startRun'))) as Record<string, unknown>;
    const second = (await handler('startRun')(event, context('startRun'))) as Record<string, unknown>;

    expect(first).toMatchObject({ started: true });
    // Step Functions answers the same name with the same input, while it runs, with that execution
    // (and ExecutionAlreadyExists otherwise): either way the delivery starts nothing new.
    expect(second.executionArn).toBe(first.executionArn);
    const executions = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(executions.executions?.map((e) => e.executionArn)).toEqual([first.executionArn]);
  });

  it('starts nothing for an upload outside the input prefix, saying why', async () => {
    const result = await handler('startRun')(
      {
        source: 'aws.s3',
        'detail-type': 'Object Created',
        detail: { bucket: { name: bucket }, object: { key: 'runs/r1/plan.json', size: 2, etag: 'e2' } },
      },
      context('startRun'),
    );
    expect(result).toEqual({
      started: false,
      reason: 'Key runs/r1/plan.json is outside the input prefix incoming/',
    });
  });
});

describe('the bundled buildManifest', () => {
  it('lists the input in S3, writes the manifest there and plans to create the model SageMaker lacks', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'incoming/plan/a.csv', Body: '1,2\n' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'incoming/plan/b.csv', Body: '3,4\n' }));
    const image = '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1';

    const plan = (await handler('buildManifest')(
      {
        request: {
          runId: 'bundle-plan',
          input: `s3://${bucket}/incoming/plan/`,
          models: [{ variant: 'a', image, modelDataUrl: `s3://${bucket}/models/m/model.tar.gz` }],
        },
        executionName: 'bundle-plan',
        executionStartTime: '2026-11-30T08:00:00.000Z',
      },
      context('buildManifest'),
    )) as {
      runId: string;
      modelsToCreate: { ModelName: string; ExecutionRoleArn: string; EnableNetworkIsolation: boolean }[];
      jobList: { bucket: string; key: string; jobs: number };
    };

    expect(plan.runId).toBe('bundle-plan');
    expect(plan.modelsToCreate).toEqual([
      expect.objectContaining({ ExecutionRoleArn: SAGEMAKER_ROLE, EnableNetworkIsolation: true }),
    ]);
    // The planned jobs (and their manifests' keys) are in the job list in S3, not in the state.
    expect(plan.jobList).toMatchObject({ bucket, jobs: 1 });
    const written = await objectText(plan.jobList.key);
    const manifestKey = /runs\/bundle-plan\/[^"]*\.manifest/.exec(written)?.[0];
    expect(manifestKey, written.slice(0, 2000)).toBeDefined();
    const manifest = JSON.parse(await objectText(manifestKey as string)) as unknown[];
    expect(manifest).toEqual([{ prefix: `s3://${bucket}/incoming/plan/` }, 'a.csv', 'b.csv']);
  });
});

describe('the bundled buildManifest, safe by default', () => {
  it('refuses an input outside the input prefix and an image outside the allow-list, before writing anything', async () => {
    const plan = (input: string, image: string) =>
      handler('buildManifest')(
        {
          request: {
            runId: 'bundle-refused',
            input,
            models: [{ variant: 'a', image, modelDataUrl: `s3://${bucket}/models/m/model.tar.gz` }],
          },
          executionName: 'bundle-refused',
          executionStartTime: '2026-11-30T08:00:00.000Z',
        },
        context('buildManifest'),
      );
    const xgboost = '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1';

    await expect(plan(`s3://${bucket}/runs/bundle-plan/`, xgboost)).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining(`outside this deployment's input prefix s3://${bucket}/incoming/`),
    });
    await expect(
      plan(`s3://${bucket}/incoming/plan/`, '999999999999.dkr.ecr.us-east-1.amazonaws.com/miner:1'),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining('is not in an allowed repository'),
    });
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'runs/bundle-refused/' }),
    );
    expect(listed.KeyCount).toBe(0);
  });
});

describe('the bundled parseResults, registerTable and runQueries, one attempt after another (attempt layout)', () => {
  /** What each of the two rows of a.csv and the one of b.csv scores (XGBoost binary:logistic, CSV out). */
  const scores: Record<string, string> = { 'a.csv': '0.25\n0.75\n', 'b.csv': '0.5\n' };

  /**
   * One execution of run `bundle-publish` up to RegisterTable, as the state machine drives the bundles:
   * BuildManifest plans; for each job of the list, SageMaker's output (`<relative key>.out` under the
   * job's S3OutputPath) is written as the transform would, and ParseResults gets the Map item's
   * parseRequest with the `.sync` task's result; RegisterTable gets the plan's fields.
   */
  async function runAttempt(executionName: string) {
    const plan = (await handler('buildManifest')(
      {
        request: {
          runId: 'bundle-publish',
          input: `s3://${bucket}/incoming/publish/`,
          models: [{ variant: 'a', modelName: 'churn-xgb' }],
          results: { table: 'bundle_predictions', threshold: 0.5 },
        },
        executionName,
        executionStartTime: '2026-11-30T09:00:00.000Z',
      },
      context('buildManifest'),
    )) as {
      runId: string;
      runDate: string;
      runPrefix: string;
      attemptId: string;
      table: unknown;
      jobList: { bucket: string; key: string; jobs: number };
    };
    const jobs = JSON.parse(await objectText(plan.jobList.key)) as {
      variant: string;
      shardId: string;
      jobResultUri: string;
      parseRequest: unknown;
      transformRequest: { TransformJobName: string; TransformOutput: { S3OutputPath: string } };
    }[];
    expect(jobs).toHaveLength(1);
    for (const job of jobs) {
      const output = job.transformRequest.TransformOutput.S3OutputPath.replace(`s3://${bucket}/`, '');
      for (const [name, body] of Object.entries(scores)) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${output}${name}.out`, Body: body }));
      }
      await handler('parseResults')(
        {
          request: job.parseRequest,
          // What the .sync task's ResultSelector keeps; Step Functions gives SageMaker's timestamps as
          // epoch milliseconds (the local runner gives ISO strings): both are accepted.
          transformJob: {
            TransformJobName: job.transformRequest.TransformJobName,
            TransformJobStatus: 'Completed',
            TransformStartTime: 1_796_029_200_000,
            TransformEndTime: 1_796_029_500_000,
          },
          variant: job.variant,
          shardId: job.shardId,
          jobResultUri: job.jobResultUri,
        },
        context('parseResults'),
      );
    }
    const registered = (await handler('registerTable')(
      {
        table: plan.table,
        runId: plan.runId,
        runDate: plan.runDate,
        runPrefix: plan.runPrefix,
        attemptId: plan.attemptId,
        jobList: plan.jobList,
      },
      context('registerTable'),
    )) as Record<string, unknown>;
    return { plan, registered };
  }

  const partitionsOf = async (table: string) =>
    (await glue.send(new GetPartitionsCommand({ DatabaseName: DATABASE, TableName: table }))).Partitions?.map(
      (p) => ({ values: p.Values, location: p.StorageDescriptor?.Location }),
    ) ?? [];

  const keysUnder = async (prefix: string) =>
    (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents?.map(
      (o) => o.Key ?? '',
    ) ?? [];

  it('publishes the results in Glue at the attempt location, switches to the next attempt, summarizes it through Athena (which commits it, deleting the first), and the bundled recordFailure switches a failed third one back', async () => {
    for (const name of Object.keys(scores)) {
      const rows = name === 'a.csv' ? '1,2\n3,4\n' : '5,6\n';
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `incoming/publish/${name}`, Body: rows }));
    }
    const partitionFolder = `results/bundle_predictions/run_date=2026-11-30/run_id=bundle-publish/variant=a/`;

    const first = await runAttempt('bundle-publish-1');

    expect(first.registered).toMatchObject({
      table: `${DATABASE}.bundle_predictions`,
      partitions: 1,
      attemptId: first.plan.attemptId,
      replacedPartitions: 0,
    });
    const table = await glue.send(
      new GetTableCommand({ DatabaseName: DATABASE, Name: 'bundle_predictions' }),
    );
    expect(table.Table?.PartitionKeys?.map((k) => k.Name)).toEqual(['run_date', 'run_id', 'variant']);
    const firstLocation = `s3://${bucket}/${partitionFolder}attempt=${first.plan.attemptId}/`;
    expect(await partitionsOf('bundle_predictions')).toEqual([
      { values: ['2026-11-30', 'bundle-publish', 'a'], location: firstLocation },
    ]);
    // The rows behind the partition: 3 records in, 3 rows out, each with its score and label.
    const files = await keysUnder(`${partitionFolder}attempt=${first.plan.attemptId}/`);
    expect(files.length).toBeGreaterThan(0);
    const rows = (await Promise.all(files.map(objectText)))
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { score: number; label: string });
    expect(rows.map((r) => r.score).sort()).toEqual([0.25, 0.5, 0.75]);
    expect((await partitionsOf('bundle_predictions_stats')).map((p) => p.location)).toEqual([
      firstLocation.replace('/bundle_predictions/', '/bundle_predictions_stats/'),
    ]);

    const second = await runAttempt('bundle-publish-2');

    expect(second.plan.attemptId).not.toBe(first.plan.attemptId);
    expect(second.registered).toMatchObject({ partitions: 1, replacedPartitions: 1 });
    expect(await partitionsOf('bundle_predictions')).toEqual([
      {
        values: ['2026-11-30', 'bundle-publish', 'a'],
        location: `s3://${bucket}/${partitionFolder}attempt=${second.plan.attemptId}/`,
      },
    ]);
    // The switch deletes nothing: until the run succeeded (RunQueries commits it), a failure puts it back.
    expect(await keysUnder(`${partitionFolder}attempt=${first.plan.attemptId}/`)).toEqual(files);
    expect((await keysUnder(`${partitionFolder}attempt=${second.plan.attemptId}/`)).length).toBe(
      files.length,
    );

    // RunQueries, with the event the state machine builds: the packaged queries/ run in the workgroup
    // (moto's Athena runs no SQL and answers empty results), then the summary and report go to S3.
    const summary = (await handler('runQueries')(
      {
        runId: second.plan.runId,
        runDate: second.plan.runDate,
        runPrefix: second.plan.runPrefix,
        executionName: 'bundle-publish-2',
        executionStartTime: '2026-11-30T09:00:00.000Z',
        table: second.plan.table,
        queries: ['summary'],
        jobList: second.plan.jobList,
        registered: second.registered,
      },
      context('runQueries'),
    )) as Record<string, unknown>;

    expect(summary).toMatchObject({
      runId: 'bundle-publish',
      status: 'SUCCEEDED',
      recordsIn: 3,
      recordsOut: 3,
      jobs: 1,
      table: `${DATABASE}.bundle_predictions`,
      partitions: [
        {
          values: ['2026-11-30', 'bundle-publish', 'a'],
          location: `s3://${bucket}/${partitionFolder}attempt=${second.plan.attemptId}/`,
        },
      ],
      queries: { summary: { columns: [], rows: [] } },
    });
    expect(JSON.parse(await objectText('runs/bundle-publish/summary.json'))).toMatchObject({
      recordsOut: 3,
    });
    expect(await objectText('runs/bundle-publish/report.html')).toContain('bundle-publish');
    const executions = await Promise.all(
      (
        (await athena.send(new ListQueryExecutionsCommand({ WorkGroup: WORKGROUP }))).QueryExecutionIds ?? []
      ).map(
        async (id) =>
          (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution,
      ),
    );
    // The summary query by its own first line: several named queries begin "-- Per variant of one run",
    // and Athena lists executions in no set order.
    const summaryHeader =
      readFileSync(join(PROJECT_ROOT, 'queries/summary.sql'), 'utf8').split('\n', 1)[0] ?? '';
    const summaryQuery = executions.find((e) => e?.Query?.startsWith(summaryHeader));
    expect(summaryQuery, executions.map((e) => e?.Query?.slice(0, 60)).join('\n')).toMatchObject({
      QueryExecutionContext: { Database: DATABASE },
      ExecutionParameters: ["'bundle-publish'"],
    });
    expect(summaryQuery?.Query).toContain('FROM bundle_predictions');

    // RunQueries committed the second attempt: the first attempt's objects are gone.
    expect(await keysUnder(`${partitionFolder}attempt=${first.plan.attemptId}/`)).toEqual([]);
    const secondFiles = await keysUnder(`${partitionFolder}attempt=${second.plan.attemptId}/`);
    const secondLocation = `s3://${bucket}/${partitionFolder}attempt=${second.plan.attemptId}/`;

    // A third execution switches, then its RunQueries fails: the bundled recordFailure switches the run
    // back to the second attempt in Glue (both tables) and deletes the third attempt's files.
    const third = await runAttempt('bundle-publish-3');
    expect((await partitionsOf('bundle_predictions')).map((p) => p.location)).toEqual([
      `s3://${bucket}/${partitionFolder}attempt=${third.plan.attemptId}/`,
    ]);
    const failure = (await handler('recordFailure')(
      {
        executionName: 'bundle-publish-3',
        state: {
          runId: 'bundle-publish',
          failedState: 'RunQueries',
          failure: { Error: 'QueryFailedError', Cause: '{"errorMessage":"Query summary failed"}' },
        },
      },
      context('recordFailure'),
    )) as { attempt: Record<string, unknown> };
    expect(failure.attempt).toMatchObject({ attemptId: third.plan.attemptId, files: 'cleaned' });
    expect(await partitionsOf('bundle_predictions')).toEqual([
      { values: ['2026-11-30', 'bundle-publish', 'a'], location: secondLocation },
    ]);
    expect((await partitionsOf('bundle_predictions_stats')).map((p) => p.location)).toEqual([
      secondLocation.replace('/bundle_predictions/', '/bundle_predictions_stats/'),
    ]);
    expect(await keysUnder(`${partitionFolder}attempt=${second.plan.attemptId}/`)).toEqual(secondFiles);
    expect(await keysUnder(`${partitionFolder}attempt=${third.plan.attemptId}/`)).toEqual([]);
  });
});

describe('the bundled recordFailure', () => {
  it('writes failure.json next to the run in S3', async () => {
    await handler('recordFailure')(
      {
        executionName: 'bundle-fail',
        state: {
          runId: 'bundle-fail',
          failedState: 'BuildManifest',
          failure: { Error: 'InvalidInputError', Cause: '{"errorMessage":"No input objects"}' },
        },
      },
      context('recordFailure'),
    );

    const record = JSON.parse(await objectText('runs/bundle-fail/failure.json')) as Record<string, unknown>;
    expect(record).toMatchObject({
      runId: 'bundle-fail',
      failedState: 'BuildManifest',
      error: 'InvalidInputError',
      message: 'No input objects',
    });
  });
});
