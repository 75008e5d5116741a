import {
  ExecutionAlreadyExists,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { executionArnFor, SfnStarter } from '../../src/aws/sfn-starter.js';
import { TransientError } from '../../src/errors.js';

const sfn = mockClient(SFNClient);
const STATE_MACHINE =
  'arn:aws:states:us-east-1:123456789012:stateMachine:sagemaker-batch-pipeline-dev-batch-transform';
const starter = () => new SfnStarter(new SFNClient({ region: 'us-east-1' }), STATE_MACHINE);

beforeEach(() => {
  sfn.reset();
});

describe('SfnStarter.start', () => {
  it('starts a named execution of the state machine with the input as JSON', async () => {
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${executionArnFor(STATE_MACHINE, 'day-1-abc')}`,
      startDate: new Date(0),
    });

    const started = await starter().start('day-1-abc', { input: 's3://bucket/incoming/day-1/', models: [] });

    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE,
      name: 'day-1-abc',
      input: '{"input":"s3://bucket/incoming/day-1/","models":[]}',
    });
    expect(started).toEqual({
      executionArn:
        'arn:aws:states:us-east-1:123456789012:execution:sagemaker-batch-pipeline-dev-batch-transform:day-1-abc',
      alreadyStarted: false,
    });
  });

  it('treats ExecutionAlreadyExists as success and returns the existing execution ARN', async () => {
    sfn.on(StartExecutionCommand).rejects(
      new ExecutionAlreadyExists({
        message: 'Execution Already Exists',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const started = await starter().start('day-1-abc', {});

    expect(started).toEqual({
      executionArn:
        'arn:aws:states:us-east-1:123456789012:execution:sagemaker-batch-pipeline-dev-batch-transform:day-1-abc',
      alreadyStarted: true,
    });
  });

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
