// aws-sdk-client-mock only for what moto_server cannot answer: Step Functions' throttling and other
// service errors. Starting an execution and StartExecution's idempotency (same name and input: the same
// execution; other input: ExecutionAlreadyExists) run against moto in test/integration/aws-sfn.test.ts.
import { SFNClient, SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SfnStarter } from '../../src/aws/sfn-starter.js';
import { TransientError } from '../../src/errors.js';

const sfn = mockClient(SFNClient);
const STATE_MACHINE =
  'arn:aws:states:us-east-1:123456789012:stateMachine:sagemaker-batch-pipeline-dev-batch-transform';
const starter = () => new SfnStarter(new SFNClient({ region: 'us-east-1' }), STATE_MACHINE);

beforeEach(() => {
  sfn.reset();
});

describe('SfnStarter.start, on errors moto does not produce', () => {
  it('turns throttling into a TransientError so the invocation is retried', async () => {
    sfn.on(StartExecutionCommand).rejects(
      new SFNServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Rate exceeded',
      }),
    );
    await expect(starter().start('x', {})).rejects.toBeInstanceOf(TransientError);
  });

  it('rethrows other errors unchanged', async () => {
    sfn.on(StartExecutionCommand).rejects(
      new SFNServiceException({
        name: 'StateMachineDoesNotExist',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'State Machine Does Not Exist',
      }),
    );
    await expect(starter().start('x', {})).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });
});
