/**
 * The Lambda bundles as deployed: the zips `sls package` makes are unzipped and each handler module is
 * imported and invoked as Lambda's Node runtime does (module loaded once with the function's
 * environment, then `handler(event, context)`), with the AWS SDK pointed at moto_server through
 * AWS_ENDPOINT_URL. What each step writes is read back from moto with a client of the test's own.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CreateDatabaseCommand, GlueClient } from '@aws-sdk/client-glue';
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
import { MOTO_CREDENTIALS, type Moto, startMoto, uniqueName } from '../helpers/moto.js';
import { type PackagedService, packageService } from '../helpers/sls-package.js';

const REGION = 'us-west-1';
const DATABASE = 'batch_pipeline_test';
const SAGEMAKER_ROLE = 'arn:aws:iam::123456789012:role/sagemaker-execution';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let moto: Moto;
let packaged: PackagedService;
let unzipped: string;
let bucket: string;
let stateMachineArn: string;
let s3: S3Client;
let glue: GlueClient;
let sfn: SFNClient;
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
    ATHENA_WORKGROUP: 'sagemaker-batch-pipeline-test',
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
    ['recordFailure', 'record-failure'],
  ] as const) {
    const root = join(unzipped, fn);
    await promisify(execFile)('unzip', ['-q', join(packaged.dir, `${fn}.zip`), '-d', root]);
    const module = (await import(pathToFileURL(join(root, `dist/handlers/${file}.mjs`)).href)) as {
      handler: Handler;
    };
    handlers[fn] = module.handler;
  }
}, 600_000);

afterAll(async () => {
  for (const client of [s3, glue, sfn]) client?.destroy();
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
