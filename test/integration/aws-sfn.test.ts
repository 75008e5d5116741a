/**
 * SfnStarter (startRun's adapter) against moto_server's Step Functions: StartExecution is idempotent by
 * name as AWS documents it for Standard workflows. The same name with the same input, while the
 * execution runs, answers with that execution; the same name with another input is refused
 * (ExecutionAlreadyExists). Either way one execution exists, and startRun starts nothing new.
 * (Throttling and other errors, which moto does not produce, stay in test/unit/aws-sfn.test.ts.)
 */
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionArnFor, SfnStarter } from '../../src/aws/sfn-starter.js';
import { MOTO_CREDENTIALS, MOTO_REGION, type Moto, startMoto, uniqueName } from '../helpers/moto.js';

let moto: Moto;
let sfn: SFNClient;
let stateMachineArn: string;

beforeAll(async () => {
  moto = await startMoto();
  sfn = new SFNClient({ endpoint: moto.endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS });
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name: uniqueName('batch-transform'),
      roleArn: 'arn:aws:iam::123456789012:role/states',
      // Runs for 10 minutes: the executions stay RUNNING while the test starts them again.
      definition: JSON.stringify({
        StartAt: 'Wait',
        States: { Wait: { Type: 'Wait', Seconds: 600, End: true } },
      }),
    }),
  );
  stateMachineArn = created.stateMachineArn ?? '';
}, 60_000);

afterAll(async () => {
  sfn?.destroy();
  await moto?.stop();
});

const executionsNamed = async (name: string) =>
  ((await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? []).filter(
    (e) => e.name === name,
  );

describe('SfnStarter against Step Functions (moto)', () => {
  it('starts a named execution with the input as JSON, at the ARN derived from the state machine', async () => {
    const name = uniqueName('day-1');
    const input = { input: 's3://bucket/incoming/day-1/', models: [{ variant: 'a', modelName: 'm' }] };

    const started = await new SfnStarter(sfn, stateMachineArn).start(name, input);

    expect(started).toEqual({ executionArn: executionArnFor(stateMachineArn, name), alreadyStarted: false });
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(described).toMatchObject({ name, status: 'RUNNING' });
    expect(JSON.parse(described.input ?? '')).toEqual(input);
  });

  it('answers the same name and input with the same execution, and starts no second one', async () => {
    const name = uniqueName('day-2');
    const starter = new SfnStarter(sfn, stateMachineArn);

    const first = await starter.start(name, { input: 's3://bucket/incoming/day-2/' });
    const again = await starter.start(name, { input: 's3://bucket/incoming/day-2/' });

    expect(again.executionArn).toBe(first.executionArn);
    expect(await executionsNamed(name)).toHaveLength(1);
  });

  it('takes ExecutionAlreadyExists (same name, other input) as the run existing, keeping its input', async () => {
    const name = uniqueName('day-3');
    const starter = new SfnStarter(sfn, stateMachineArn);
    const first = await starter.start(name, { input: 's3://bucket/incoming/day-3/' });

    const other = await starter.start(name, { input: 's3://bucket/incoming/elsewhere/' });

    expect(other).toEqual({ executionArn: first.executionArn, alreadyStarted: true });
    expect(await executionsNamed(name)).toHaveLength(1);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: first.executionArn }));
    expect(JSON.parse(described.input ?? '')).toEqual({ input: 's3://bucket/incoming/day-3/' });
  });
});
