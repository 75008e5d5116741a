import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SfnStarter } from '../../src/aws/sfn-starter.js';
import { type S3ObjectCreatedEvent, startRun } from '../../src/core/start-run.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:batch-transform';

/**
 * Step Functions' StartExecution as documented for standard workflows: a new name starts an execution;
 * the same name with the same input while it runs answers with the same ARN (idempotent); otherwise a
 * used name fails with ExecutionAlreadyExists.
 */
class FakeStepFunctions {
  readonly executions = new Map<string, { input: string; running: boolean }>();

  readonly client = {
    send: async (command: StartExecutionCommand) => {
      // A turn of the event loop, as a network call has: concurrent deliveries interleave here.
      await new Promise((resolve) => setImmediate(resolve));
      const { name, input = '' } = command.input;
      const arn = `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:${name}`;
      const existing = this.executions.get(name as string);
      if (!existing) {
        this.executions.set(name as string, { input, running: true });
        return { executionArn: arn, startDate: new Date() };
      }
      if (existing.running && existing.input === input) return { executionArn: arn, startDate: new Date() };
      const error = new Error(`Execution Already Exists: '${arn}'`);
      error.name = 'ExecutionAlreadyExists';
      throw error;
    },
  } as unknown as SFNClient;

  finishAll(): void {
    for (const execution of this.executions.values()) execution.running = false;
  }
}

function objectCreated(key: string, etag: string): S3ObjectCreatedEvent {
  return {
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: 'pipeline-bucket' }, object: { key, size: 1024, etag, sequencer: '00A1' } },
  };
}

describe('the same S3 event delivered more than once', () => {
  let root: string;
  let sfn: FakeStepFunctions;
  let deps: Parameters<typeof startRun>[1];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'duplicate-events-'));
    const store = new FileObjectStore(root);
    await store.put(
      's3://pipeline-bucket/config/run-template.json',
      JSON.stringify({ models: [{ variant: 'a', modelName: 'churn-xgb' }] }),
    );
    sfn = new FakeStepFunctions();
    deps = {
      starter: new SfnStarter(sfn.client, STATE_MACHINE),
      store,
      settings: {
        bucket: 'pipeline-bucket',
        inputPrefix: 'incoming/',
        inputSuffixes: ['.csv'],
        runTemplateUri: 's3://pipeline-bucket/config/run-template.json',
      },
    };
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('starts one execution when both deliveries arrive at once', async () => {
    const event = objectCreated('incoming/day/orders.csv', '"etag-1"');
    const results = await Promise.all([startRun(event, deps), startRun(structuredClone(event), deps)]);
    expect(sfn.executions.size).toBe(1);
    expect(new Set(results.map((r) => r.executionName)).size).toBe(1);
  });

  it('starts nothing when a delivery arrives after the execution has ended', async () => {
    const event = objectCreated('incoming/day/orders.csv', '"etag-1"');
    const first = await startRun(event, deps);
    sfn.finishAll();
    const late = await startRun(structuredClone(event), deps);
    expect(first.started).toBe(true);
    expect(late).toMatchObject({ started: false, executionName: first.executionName });
    expect(sfn.executions.size).toBe(1);
  });
});
