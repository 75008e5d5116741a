/**
 * Idempotent model creation under concurrency: the real CreateModels state of the ASL, run by the local
 * runner, with the local model registry (which refuses an existing name with SageMaker's own words,
 * as the sagemaker:createModel integration raises them: SageMaker.AmazonSageMakerException, "Cannot
 * create already existing model"). test/integration/aws-sagemaker.test.ts checks those words against
 * moto's SageMaker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CreateModelRequest } from '../../src/core/build-manifest-models.js';
import { SageMakerValidationError } from '../../src/errors.js';
import { LocalModelRegistry } from '../../src/local/model-registry.js';
import { DEFINITION_PATH } from '../../src/local/paths.js';
import { type Definition, loadDefinition, runStateMachine } from '../../src/local/state-machine-runner.js';

let home: string;
let registry: LocalModelRegistry;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'create-model-race-'));
  registry = new LocalModelRegistry(join(home, 'models.json'));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** The ASL's CreateModels state alone, as a state machine of its own (its Catch and Next dropped). */
async function createModelsMachine(): Promise<Definition> {
  const definition = await loadDefinition(DEFINITION_PATH);
  const { Catch: _catch, Next: _next, ...createModels } = definition.States.CreateModels ?? { Type: 'Map' };
  return { StartAt: 'CreateModels', States: { CreateModels: { ...createModels, End: true } } };
}

const model = (name: string): CreateModelRequest => ({
  ModelName: name,
  ExecutionRoleArn: 'arn:aws:iam::123456789012:role/sagemaker',
  PrimaryContainer: {
    Image: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
    ModelDataUrl: 's3://bucket/models/xgboost-model.tar.gz',
    Environment: {},
  },
  EnableNetworkIsolation: true,
  Tags: [],
});

const run = async (models: CreateModelRequest[], create: (input: unknown) => Promise<unknown>) =>
  runStateMachine(
    await createModelsMachine(),
    { modelsToCreate: models },
    { 'arn:aws:states:::sagemaker:createModel': create },
    { retryIntervalOverrides: { CreateModel: 0, CreateModelInVpc: 0 } },
  );

describe('CreateModels', () => {
  it('succeeds when another run created the same content-hashed model first', async () => {
    await registry.create(model('xgb-0123456789abcdef'));

    const result = await run([model('xgb-0123456789abcdef'), model('xgb-fedcba9876543210')], (input) =>
      registry.create(input as CreateModelRequest),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect((await registry.get('xgb-fedcba9876543210')).PrimaryContainer.ModelDataUrl).toBe(
      's3://bucket/models/xgboost-model.tar.gz',
    );
  });

  it('succeeds for two runs creating the same model at the same moment', async () => {
    const create = (input: unknown) => registry.create(input as CreateModelRequest);
    const results = await Promise.all([run([model('xgb-race')], create), run([model('xgb-race')], create)]);
    expect(results.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });

  it('still fails on any other SageMaker error, with its words', async () => {
    const result = await run([model('xgb-denied')], async () => {
      throw new SageMakerValidationError(
        'Could not access model data at s3://bucket/models/xgboost-model.tar.gz. Please ensure that the role has s3:GetObject.',
      );
    });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('SageMaker.AmazonSageMakerException');
    expect(result.cause).toContain('Could not access model data');
  });
});
