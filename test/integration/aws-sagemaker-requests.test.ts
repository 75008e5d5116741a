/**
 * The SageMaker requests the product makes, as it makes them: BuildManifest plans a real run (two
 * variants created from image + artifact, KMS keys, with and without a VPC), the state machine's own
 * CreateModel / CreateModelInVpc and RunTransformJob Parameters (read from the ASL file) are rendered
 * over the plan's items as Step Functions does, and each request is
 * - checked against AWS's API model (botocore's service model: members, types, enums, lengths,
 *   ranges, patterns), the reference the service validates against, and
 * - sent to moto_server (moto 5), whose DescribeModel / DescribeTransformJob must give the fields back.
 * moto accepts anything it can parse (even MaxConcurrentTransforms × MaxPayloadInMB over 100), so the
 * model check is what proves the shape; the plan-time rules moto cannot check are unit-tested by hand
 * (test/unit/run-checks-sagemaker-limits.test.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateModelCommand,
  type CreateModelCommandInput,
  CreateTransformJobCommand,
  type CreateTransformJobCommandInput,
  DescribeModelCommand,
  DescribeTransformJobCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sageMakerModelExists } from '../../src/aws/sagemaker-models.js';
import { buildManifest } from '../../src/core/build-manifest.js';
import type { JobListItem } from '../../src/core/job-results.js';
import type { PipelineSettings, RunRequest } from '../../src/core/run-request.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { DEFINITION_PATH } from '../../src/local/paths.js';
import { loadDefinition } from '../../src/local/state-machine-runner.js';
import { awsRequestProblems, renderParameters } from '../helpers/aws-model.js';
import { MOTO_CREDENTIALS, MOTO_REGION, type Moto, startMoto, uniqueName } from '../helpers/moto.js';

type TaskState = { Parameters: Record<string, unknown> };
const definition = (await loadDefinition(DEFINITION_PATH)) as unknown as {
  States: Record<string, { ItemProcessor: { States: Record<string, TaskState> } }>;
};
const task = (map: string, state: string): Record<string, unknown> => {
  const parameters = definition.States[map]?.ItemProcessor.States[state]?.Parameters;
  if (!parameters) throw new Error(`No Parameters for ${map}.${state} in ${DEFINITION_PATH}`);
  return parameters;
};

const XGBOOST = '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1';
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const BASE_SETTINGS: PipelineSettings = {
  bucket: 'pipeline-results',
  database: 'batch_pipeline_dev',
  sagemakerRoleArn: 'arn:aws:iam::123456789012:role/sagemaker-batch-pipeline-dev-sagemaker',
  inputPrefixUri: 's3://pipeline-results/incoming/',
  imageRepositories: ['683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost'],
};
const VPC_SETTINGS: PipelineSettings = {
  ...BASE_SETTINGS,
  transformKmsKeyId: KEY,
  transformVolumeKmsKeyId: KEY,
  vpcConfig: { Subnets: ['subnet-0abc1234', 'subnet-0def5678'], SecurityGroupIds: ['sg-0123abcd'] },
};

let moto: Moto;
let sageMaker: SageMakerClient;
let root: string;

beforeAll(async () => {
  moto = await startMoto();
  sageMaker = new SageMakerClient({
    endpoint: moto.endpoint,
    region: MOTO_REGION,
    credentials: MOTO_CREDENTIALS,
  });
  root = await mkdtemp(join(tmpdir(), 'sagemaker-requests-'));
}, 60_000);

afterAll(async () => {
  sageMaker?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
  await moto?.stop();
});

/** BuildManifest's plan for a two-variant run over three inputs (two shards), and its job list. */
async function plan(settings: PipelineSettings, runId: string) {
  const store = new FileObjectStore(join(root, runId));
  for (const name of ['a.csv', 'b.csv', 'c.csv']) {
    await store.put(`s3://pipeline-results/incoming/day/${name}`, '1,2,3\n4,5,6\n');
  }
  const artifact = uniqueName('models');
  const request: RunRequest = {
    runId,
    input: 's3://pipeline-results/incoming/day/',
    objectsPerShard: 2,
    models: [
      { variant: 'a', image: XGBOOST, modelDataUrl: `s3://pipeline-results/models/${artifact}/a.tar.gz` },
      {
        variant: 'b',
        image: XGBOOST,
        modelDataUrl: `s3://pipeline-results/models/${artifact}/b.tar.gz`,
        environment: { SAGEMAKER_CONTAINER_LOG_LEVEL: '20' },
        networkIsolation: false,
      },
    ],
    transform: {
      ContentType: 'text/csv',
      SplitType: 'Line',
      BatchStrategy: 'MultiRecord',
      MaxConcurrentTransforms: 4,
      MaxPayloadInMB: 5,
      InstanceType: 'ml.m5.xlarge',
      InstanceCount: 2,
      ModelClientConfig: { InvocationsTimeoutInSeconds: 900, InvocationsMaxRetries: 1 },
    },
    results: { table: 'predictions', threshold: 0.5 },
  };
  const built = await buildManifest(
    { request, executionName: `${runId}-exec`, executionStartTime: '2026-11-30T10:00:00.000Z' },
    { store, settings, modelExists: async () => false },
  );
  const jobs = JSON.parse(
    Buffer.from(await store.getBytes(`s3://${built.jobList.bucket}/${built.jobList.key}`)).toString('utf8'),
  ) as JobListItem[];
  return { built, jobs };
}

describe.each([
  { name: 'without a VPC (CreateModel)', settings: BASE_SETTINGS, state: 'CreateModel' },
  { name: 'in a VPC with KMS keys (CreateModelInVpc)', settings: VPC_SETTINGS, state: 'CreateModelInVpc' },
])('the SageMaker requests of a planned run $name', ({ settings, state }) => {
  it("creates each model with a request AWS's model accepts and moto stores as sent", async () => {
    const { built } = await plan(settings, uniqueName('models').slice(0, 32).replace(/-$/, 'x'));
    expect(built.modelsToCreate).toHaveLength(2);
    const exists = sageMakerModelExists(sageMaker);
    // The Choice state picks the task: CreateModelInVpc when the item has a VpcConfig.
    for (const item of built.modelsToCreate) {
      expect(item.VpcConfig !== undefined).toBe(state === 'CreateModelInVpc');
    }
    const requests = built.modelsToCreate.map((item) => renderParameters(task('CreateModels', state), item));
    expect(
      awsRequestProblems(
        requests.map((params) => ({ service: 'sagemaker', operation: 'CreateModel', params })),
      ),
    ).toEqual(requests.map(() => []));

    for (const [index, item] of built.modelsToCreate.entries()) {
      const request = requests[index] as Record<string, unknown>;
      expect(await exists(item.ModelName)).toBe(false);

      await sageMaker.send(new CreateModelCommand(request as unknown as CreateModelCommandInput));

      expect(await exists(item.ModelName)).toBe(true);
      const described = await sageMaker.send(new DescribeModelCommand({ ModelName: item.ModelName }));
      expect(described.ExecutionRoleArn).toBe(settings.sagemakerRoleArn);
      expect(described.PrimaryContainer).toMatchObject(item.PrimaryContainer);
      if (settings.vpcConfig) expect(described.VpcConfig).toEqual(settings.vpcConfig);
      // moto 5.2.1 does not keep EnableNetworkIsolation (DescribeModel answers false whatever was
      // sent), so it is checked on the request: isolated unless the variant opts out.
      expect(request.EnableNetworkIsolation).toBe(item.ModelName.startsWith('bt-a-'));
    }
  });

  it("starts each transform job with a request AWS's model accepts and moto describes back field by field", async () => {
    const { jobs } = await plan(settings, uniqueName('jobs').slice(0, 32).replace(/-$/, 'x'));
    expect(jobs.map((j) => `${j.variant}/${j.shardId}`)).toEqual(['a/0000', 'a/0001', 'b/0000', 'b/0001']);

    const requests = jobs.map((job) => renderParameters(task('RunTransforms', 'RunTransformJob'), job));
    expect(
      awsRequestProblems(
        requests.map((params) => ({ service: 'sagemaker', operation: 'CreateTransformJob', params })),
      ),
    ).toEqual(requests.map(() => []));

    for (const [index, job] of jobs.entries()) {
      const request = requests[index] as Record<string, unknown>;

      await sageMaker.send(
        new CreateTransformJobCommand(request as unknown as CreateTransformJobCommandInput),
      );

      const described = await sageMaker.send(
        new DescribeTransformJobCommand({ TransformJobName: job.transformRequest.TransformJobName }),
      );
      const { Tags: _tags, ...fields } = request;
      for (const [field, value] of Object.entries(fields)) {
        expect(described[field as keyof typeof described], field).toEqual(value);
      }
      expect(request.TransformOutput).toMatchObject(
        settings.transformKmsKeyId ? { KmsKeyId: KEY } : { S3OutputPath: expect.stringMatching(/^s3:\/\//) },
      );
    }
  });
});

describe("AWS's model as the reference", () => {
  it('finds what SageMaker would refuse in a request (so an empty list above means something)', () => {
    const [job] = [
      {
        TransformJobName: 'job_with_underscores',
        ModelName: 'm',
        MaxPayloadInMB: '6',
        TransformInput: { DataSource: { S3DataSource: { S3DataType: 'Manifest', S3Uri: 's3://b/m' } } },
        TransformOutput: { S3OutputPath: 's3://b/out/', AssembleWith: 'Lines' },
        TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1 },
        SplitType: 'Line',
      },
    ];
    const [problems] = awsRequestProblems([
      { service: 'sagemaker', operation: 'CreateTransformJob', params: job },
    ]);
    expect(problems).toEqual([
      expect.stringContaining('Unknown parameter in input: "SplitType"'),
      expect.stringContaining('Invalid type for parameter MaxPayloadInMB'),
      expect.stringContaining("TransformJobName: 'job_with_underscores' does not match"),
      expect.stringContaining("S3DataType: 'Manifest' is not one of"),
      expect.stringContaining("AssembleWith: 'Lines' is not one of"),
    ]);
  });
});
