import { DescribeModelCommand, SageMakerClient, SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { sageMakerModelExists } from '../../src/aws/sagemaker-models.js';

const sageMaker = mockClient(SageMakerClient);
const modelExists = () => sageMakerModelExists(new SageMakerClient({ region: 'us-east-1' }));
const validation = (message: string) =>
  new SageMakerServiceException({ name: 'ValidationException', $fault: 'client', $metadata: {}, message });

beforeEach(() => {
  sageMaker.reset();
});

describe('sageMakerModelExists', () => {
  it('is true when DescribeModel finds the model', async () => {
    sageMaker
      .on(DescribeModelCommand, { ModelName: 'bt-a-0123456789abcdef' })
      .resolves({ ModelName: 'bt-a' });
    await expect(modelExists()('bt-a-0123456789abcdef')).resolves.toBe(true);
  });

  it('is false when SageMaker cannot find the model', async () => {
    sageMaker
      .on(DescribeModelCommand)
      .rejects(validation('Could not find model "arn:aws:sagemaker:…:model/x".'));
    await expect(modelExists()('x')).resolves.toBe(false);
  });

  it('rethrows any other validation error', async () => {
    sageMaker.on(DescribeModelCommand).rejects(validation('1 validation error detected: ModelName'));
    await expect(modelExists()('bad name')).rejects.toThrow('1 validation error detected');
  });
});
