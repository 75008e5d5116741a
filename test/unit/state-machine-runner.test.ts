import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from '../../src/errors.js';
import {
  type Definition,
  type MapObjectStore,
  PAYLOAD_LIMIT_BYTES,
  runStateMachine,
} from '../../src/local/state-machine-runner.js';

/** An in-memory S3 for ItemReader/ResultWriter. */
class MemoryStore implements MapObjectStore {
  readonly objects = new Map<string, string>();
  async getBytes(uri: string): Promise<Uint8Array> {
    const body = this.objects.get(uri);
    if (body === undefined) throw new ObjectNotFoundError(`Object not found: ${uri}`);
    return Buffer.from(body);
  }
  async put(uri: string, body: string | Uint8Array): Promise<void> {
    this.objects.set(uri, typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  }
  json(uri: string): unknown {
    return JSON.parse(this.objects.get(uri) ?? 'null');
  }
}

const LAMBDA = (name: string) => ({ 'Fn::GetAtt': [name, 'Arn'] });

/** A Pass state whose output is a JSON string of exactly `bytes` bytes of UTF-8 JSON. */
const passOfBytes = (bytes: number, next: Record<string, unknown>) => ({
  Type: 'Pass',
  Result: 'x'.repeat(bytes - 2),
  ...next,
});

describe('the local runner enforces Step Functions payload limit (262,144 bytes of UTF-8 JSON)', () => {
  it('fails a Pass state whose output is one byte over, naming the state; the next state never runs', async () => {
    let recorded = 0;
    const definition: Definition = {
      StartAt: 'Big',
      States: {
        Big: passOfBytes(PAYLOAD_LIMIT_BYTES + 1, { Next: 'Record' }),
        Record: { Type: 'Task', Resource: LAMBDA('record'), End: true },
      },
    };
    const result = await runStateMachine(definition, {}, { 'lambda:record': async () => ++recorded });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toMatch(
      /output of state "Big" is 262,145 bytes, over Step Functions' payload limit of 262,144 bytes/,
    );
    expect(recorded).toBe(0);
  });

  it('lets a payload of exactly 262,144 bytes through', async () => {
    const definition: Definition = {
      StartAt: 'Exact',
      States: { Exact: passOfBytes(PAYLOAD_LIMIT_BYTES, { End: true }) },
    };
    const result = await runStateMachine(definition, {}, {});
    expect(result.status).toBe('SUCCEEDED');
    expect(result.largestPayload).toEqual({ bytes: PAYLOAD_LIMIT_BYTES, state: 'Exact', what: 'output' });
  });

  it('counts UTF-8 bytes, not characters', async () => {
    // 'é' is one character but two bytes: 131,072 of them are 262,144 bytes, plus the quotes.
    const definition: Definition = {
      StartAt: 'Accents',
      States: { Accents: { Type: 'Pass', Result: 'é'.repeat(131_072), End: true } },
    };
    const result = await runStateMachine(definition, {}, {});
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toMatch(/262,146 bytes/);
  });

  it('refuses an execution input over the limit before any state runs', async () => {
    let ran = 0;
    const definition: Definition = {
      StartAt: 'Work',
      States: { Work: { Type: 'Task', Resource: LAMBDA('work'), End: true } },
    };
    const result = await runStateMachine(
      definition,
      { blob: 'y'.repeat(PAYLOAD_LIMIT_BYTES) },
      { 'lambda:work': async () => ++ran },
    );
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toMatch(/input of the execution is 262,15\d bytes/);
    expect(ran).toBe(0);
  });

  it('fails a task whose result is over the limit even when ResultPath would drop it, and no Catch catches it', async () => {
    const definition: Definition = {
      StartAt: 'Fetch',
      States: {
        Fetch: {
          Type: 'Task',
          Resource: LAMBDA('fetch'),
          ResultPath: null,
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          Next: 'Done',
        },
        Caught: { Type: 'Succeed' },
        Done: { Type: 'Succeed' },
      },
    };
    const result = await runStateMachine(definition, {}, { 'lambda:fetch': async () => 'z'.repeat(300_000) });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toMatch(/task result of state "Fetch" is 300,002 bytes/);
  });

  it('fails a task whose effective input (after Parameters) is over the limit before calling it', async () => {
    let called = 0;
    const definition: Definition = {
      StartAt: 'Send',
      States: {
        Send: {
          Type: 'Task',
          Resource: LAMBDA('send'),
          Parameters: { 'a.$': '$.third', 'b.$': '$.third', 'c.$': '$.third' },
          End: true,
        },
      },
    };
    const send = { 'lambda:send': async () => ++called };
    // The state's input (90 KB) is under the limit; the Parameters it sends (270 KB) are over.
    const result = await runStateMachine(definition, { third: 'h'.repeat(90_000) }, send);
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toMatch(/task input \(after Parameters\) of state "Send" is 270,0\d\d bytes/);
    expect(called).toBe(0);
    expect((await runStateMachine(definition, { third: 'h'.repeat(80_000) }, send)).status).toBe('SUCCEEDED');
    expect(called).toBe(1);
  });

  it('fails the whole execution when an inline Map iteration goes over, whatever the Map catches', async () => {
    const definition: Definition = {
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemProcessor: {
            ProcessorConfig: { Mode: 'INLINE' },
            StartAt: 'Blow',
            States: { Blow: { Type: 'Task', Resource: LAMBDA('blow'), End: true } },
          },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          ResultPath: null,
          End: true,
        },
        Caught: { Type: 'Succeed' },
      },
    };
    const result = await runStateMachine(
      definition,
      { items: [1, 2, 3] },
      {
        'lambda:blow': async (n) => (n === 2 ? 'b'.repeat(PAYLOAD_LIMIT_BYTES) : n),
      },
    );
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.DataLimitExceeded');
    expect(result.cause).toMatch(/state "Blow"/);
  });
});

/** A definition with one Distributed Map over `s3://bucket/jobs.json`, its results written to S3. */
function distributedDefinition(overrides: Record<string, unknown> = {}): Definition {
  return {
    StartAt: 'Plan',
    States: {
      Plan: { Type: 'Task', Resource: LAMBDA('plan'), Next: 'Work' },
      Work: {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { 'Bucket.$': '$.jobList.bucket', 'Key.$': '$.jobList.key' },
        },
        ItemSelector: { 'job.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index', 'runId.$': '$.runId' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'DoJob',
          States: {
            DoJob: { Type: 'Task', Resource: LAMBDA('job'), ResultPath: '$.done', Next: 'Small' },
            Small: { Type: 'Pass', Parameters: { 'index.$': '$.index', 'done.$': '$.done' }, End: true },
          },
        },
        MaxConcurrency: 4,
        ToleratedFailurePercentage: 0,
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: 'bucket', 'Prefix.$': "States.Format('runs/{}/map', $.runId)" },
        },
        ResultPath: '$.mapRun',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Failed' }],
        Next: 'Done',
        ...overrides,
      },
      Failed: { Type: 'Pass', Result: 'caught', ResultPath: '$.handled', End: true },
      Done: { Type: 'Succeed' },
    },
  };
}

describe('the local runner runs a Distributed Map', () => {
  it('reads its items from the store, runs them as children with MaxConcurrency, and keeps the state small', async () => {
    const store = new MemoryStore();
    const jobs = Array.from({ length: 60 }, (_, i) => ({ id: `job-${i}`, padding: 'p'.repeat(5_000) }));
    await store.put('s3://bucket/jobs.json', JSON.stringify(jobs));
    let running = 0;
    let maxRunning = 0;
    const seen: unknown[] = [];
    const result = await runStateMachine(
      distributedDefinition(),
      {},
      {
        'lambda:plan': async () => ({ runId: 'r1', jobList: { bucket: 'bucket', key: 'jobs.json' } }),
        'lambda:job': async (input) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          seen.push(input);
          await sleep(5);
          running -= 1;
          return (input as { job: { id: string } }).job.id;
        },
      },
      { store },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(maxRunning).toBe(4);
    expect(seen).toHaveLength(60);
    expect(seen).toContainEqual({ job: jobs[17], index: 17, runId: 'r1' });

    // 60 jobs of 5 KB (300 KB) never rode in the state: the Map's output is a pointer.
    const output = result.output as {
      mapRun: { MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } };
    };
    expect(output.mapRun.ResultWriterDetails.Bucket).toBe('bucket');
    expect(output.mapRun.ResultWriterDetails.Key).toMatch(/^runs\/r1\/map\/[0-9a-f-]{36}\/manifest\.json$/);
    expect(result.largestPayload?.bytes).toBeLessThan(1_000);
    expect(result.largestChildPayload?.bytes).toBeGreaterThan(5_000);
    expect(result.largestChildPayload?.bytes).toBeLessThan(6_000);

    const manifest = store.json(`s3://bucket/${output.mapRun.ResultWriterDetails.Key}`) as {
      MapRunArn: string;
      ResultFiles: Record<string, { Key: string }[]>;
    };
    expect(manifest.MapRunArn).toBe(output.mapRun.MapRunArn);
    expect(manifest.ResultFiles.FAILED).toEqual([]);
    const succeeded = store.json(`s3://bucket/${manifest.ResultFiles.SUCCEEDED?.[0]?.Key}`) as {
      Status: string;
      Output: string;
    }[];
    expect(succeeded).toHaveLength(60);
    expect(succeeded.every((e) => e.Status === 'SUCCEEDED')).toBe(true);
    expect(succeeded.map((e) => JSON.parse(e.Output)).sort((a, b) => a.index - b.index)[42]).toEqual({
      index: 42,
      done: 'job-42',
    });
  });

  it('fails fast: after the first failed child no new child starts, running ones are stopped and awaited', async () => {
    const store = new MemoryStore();
    await store.put('s3://bucket/jobs.json', JSON.stringify(Array.from({ length: 50 }, (_, i) => i)));
    const started: number[] = [];
    const finished: number[] = [];
    let stoppedBySignal = 0;
    const result = await runStateMachine(
      distributedDefinition(),
      {},
      {
        'lambda:plan': async () => ({ runId: 'r2', jobList: { bucket: 'bucket', key: 'jobs.json' } }),
        'lambda:job': async (input, { signal }) => {
          const index = (input as { index: number }).index;
          started.push(index);
          try {
            if (index === 5) throw Object.assign(new Error('job 5 is broken'), { name: 'JobBrokenError' });
            // A long job: ends early only when the Map stops it.
            await sleep(index < 5 ? 1 : 2_000, undefined, { signal }).catch(() => {
              stoppedBySignal += 1;
              throw new Error(`job ${index} stopped`);
            });
            return index;
          } finally {
            finished.push(index);
          }
        },
      },
      { store },
    );
    expect(result.status).toBe('SUCCEEDED'); // the Catch handled the Map's failure
    const output = result.output as { failure: { Error: string; Cause: string }; handled: string };
    expect(output.handled).toBe('caught');
    expect(output.failure.Error).toBe('States.ExceedToleratedFailureThreshold');
    const cause = JSON.parse(output.failure.Cause) as { message: string; failedItem: number; error: string };
    expect(cause.failedItem).toBe(5);
    expect(cause.error).toBe('JobBrokenError');
    expect(cause.message).toMatch(/^job 5 is broken \(child execution 5 of 50 in Distributed Map "Work"/);
    // At most MaxConcurrency - 1 others were running when 5 failed; nothing started after.
    expect(started.length).toBeLessThanOrEqual(6 + 3);
    expect(stoppedBySignal).toBeGreaterThan(0);
    expect(finished.sort((a, b) => a - b)).toEqual(started.sort((a, b) => a - b));

    const failedFiles = [...store.objects.keys()].filter((k) => k.endsWith('FAILED_0.json'));
    expect(failedFiles).toHaveLength(1);
    const failedEntries = store.json(failedFiles[0] ?? '') as {
      Status: string;
      Error: string;
      Cause: string;
    }[];
    expect(failedEntries).toContainEqual(
      expect.objectContaining({ Status: 'FAILED', Error: 'JobBrokenError', Cause: 'job 5 is broken' }),
    );
    expect(failedEntries.filter((e) => e.Status === 'ABORTED').length).toBe(stoppedBySignal);
  });

  it('counts a child over the payload limit as a failed child, which the Map may catch', async () => {
    const store = new MemoryStore();
    await store.put('s3://bucket/jobs.json', JSON.stringify([0, 1, 2]));
    const result = await runStateMachine(
      distributedDefinition({ MaxConcurrency: 1 }),
      {},
      {
        'lambda:plan': async () => ({ runId: 'r3', jobList: { bucket: 'bucket', key: 'jobs.json' } }),
        'lambda:job': async (input) =>
          (input as { index: number }).index === 1 ? 'q'.repeat(PAYLOAD_LIMIT_BYTES) : 0,
      },
      { store },
    );
    const output = result.output as { failure: { Error: string; Cause: string } };
    expect(output.failure.Error).toBe('States.ExceedToleratedFailureThreshold');
    expect(JSON.parse(output.failure.Cause)).toMatchObject({
      failedItem: 1,
      error: 'States.DataLimitExceeded',
    });
  });

  it('tolerates failures up to ToleratedFailureCount', async () => {
    const store = new MemoryStore();
    await store.put('s3://bucket/jobs.json', JSON.stringify([0, 1, 2, 3]));
    const run = (tolerated: number) =>
      runStateMachine(
        distributedDefinition({ ToleratedFailurePercentage: undefined, ToleratedFailureCount: tolerated }),
        {},
        {
          'lambda:plan': async () => ({ runId: 'r4', jobList: { bucket: 'bucket', key: 'jobs.json' } }),
          'lambda:job': async (input) => {
            if ((input as { index: number }).index % 2 === 1) throw new Error('odd');
            return 'even';
          },
        },
        { store },
      );
    expect(((await run(2)).output as { failure?: unknown }).failure).toBeUndefined();
    expect(((await run(1)).output as { failure?: { Error: string } }).failure?.Error).toBe(
      'States.ExceedToleratedFailureThreshold',
    );
  });

  it('fails with States.ItemReaderFailed naming the object when the job list is missing', async () => {
    const result = await runStateMachine(
      distributedDefinition(),
      {},
      {
        'lambda:plan': async () => ({ runId: 'r5', jobList: { bucket: 'bucket', key: 'nope.json' } }),
        'lambda:job': async () => 0,
      },
      { store: new MemoryStore() },
    );
    const output = result.output as { failure: { Error: string; Cause: string } };
    expect(output.failure.Error).toBe('States.ItemReaderFailed');
    expect(output.failure.Cause).toMatch(/s3:\/\/bucket\/nope\.json/);
  });

  it('refuses, before anything runs, Map features it does not implement and Parallel states', async () => {
    let planned = 0;
    const implementations = { 'lambda:plan': async () => ++planned, 'lambda:job': async () => 0 };
    await expect(
      runStateMachine(distributedDefinition({ ItemBatcher: { MaxItemsPerBatch: 2 } }), {}, implementations),
    ).rejects.toThrow(/Map state "Work": the local runner does not support ItemBatcher/);
    await expect(
      runStateMachine(
        { StartAt: 'P', States: { P: { Type: 'Parallel', Branches: [], End: true } } },
        {},
        implementations,
      ),
    ).rejects.toThrow(/Parallel state/);
    expect(planned).toBe(0);
  });
});
