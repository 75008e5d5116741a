// aws-sdk-client-mock only for what moto_server cannot answer: a ValidationException other than "Could
// not find model". A model that exists and one that does not are asked of moto, after CreateModel, in
// test/integration/aws-sagemaker-requests.test.ts.
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
  it('rethrows any other validation error', async () => {
    sageMaker.on(DescribeModelCommand).rejects(validation('1 validation error detected: ModelName'));
    await expect(modelExists()('bad name')).rejects.toThrow('1 validation error detected');
  });
});
