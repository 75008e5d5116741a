import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ExecutionStarter, StartedExecution } from '../core/start-run.js';
import { errorNameOf, rethrowSdkError } from './sdk-errors.js';

/**
 * Starts executions of one state machine. A name that was used already (a duplicated S3 event, a
 * re-sent request) is not an error: the existing execution's ARN is returned with `alreadyStarted`.
 */
export class SfnStarter implements ExecutionStarter {
  private readonly client: SFNClient;
  private readonly stateMachineArn: string;

  constructor(client: SFNClient, stateMachineArn: string) {
    this.client = client;
    this.stateMachineArn = stateMachineArn;
  }

  async start(name: string, input: unknown): Promise<StartedExecution> {
    try {
      const output = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return {
        executionArn: output.executionArn ?? executionArnFor(this.stateMachineArn, name),
        alreadyStarted: false,
      };
    } catch (error) {
      // Standard workflows keep names for 90 days: the same name with the same input while running is
      // answered with success by SFN itself, otherwise with ExecutionAlreadyExists. Either way the run
      // this name stands for exists.
      if (errorNameOf(error) === 'ExecutionAlreadyExists') {
        return { executionArn: executionArnFor(this.stateMachineArn, name), alreadyStarted: true };
      }
      rethrowSdkError(error, `Step Functions StartExecution ${name}`);
    }
  }
}

/**
 * The ARN of a named execution: `arn:aws:states:<region>:<account>:execution:<stateMachine>:<name>`,
 * derived from the state machine's ARN (the shape is fixed, so no extra API call is needed).
 */
export function executionArnFor(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}
