import { describe, expect, it } from 'vitest';
import { failureMessage, recordFailure } from '../../src/core/record-failure.js';
import type { ObjectStore } from '../../src/ports.js';

function memoryStore() {
  const objects = new Map<string, string>();
  const store = {
    put: async (uri: string, body: string | Uint8Array) => {
      objects.set(uri, typeof body === 'string' ? body : Buffer.from(body).toString());
    },
    head: async (uri: string) =>
      objects.has(uri) ? { uri, size: objects.get(uri)?.length ?? 0 } : undefined,
    getBytes: async (uri: string) => Buffer.from(objects.get(uri) ?? ''),
  } as unknown as ObjectStore;
  return { store, objects };
}

describe('recordFailure', () => {
  it('writes failure.json under the run with the failed state, error and the job FailureReason', async () => {
    const { store, objects } = memoryStore();
    const cause = JSON.stringify({
      TransformJobStatus: 'Failed',
      FailureReason: 'ClientError: bad record 7',
    });
    const record = await recordFailure(
      {
        executionName: 'exec-1',
        state: {
          runId: 'nightly',
          failedState: 'RunTransforms',
          failure: { Error: 'States.TaskFailed', Cause: cause },
        },
      },
      { store, bucket: 'bkt', now: () => new Date('2026-11-21T00:00:00Z') },
    );
    expect(record).toMatchObject({
      runId: 'nightly',
      failedState: 'RunTransforms',
      error: 'States.TaskFailed',
      message: 'ClientError: bad record 7',
      uri: 's3://bkt/runs/nightly/failure.json',
    });
    expect(JSON.parse(objects.get('s3://bkt/runs/nightly/failure.json') ?? '{}')).toEqual(record);
    // And a failure report beside it, saying what failed.
    const report = objects.get('s3://bkt/runs/nightly/report.html') ?? '';
    expect(report).toContain('<p class="explain" id="failure-message">ClientError: bad record 7</p>');
    expect(report).toContain('<td>Failed state</td><td>RunTransforms (running the transform jobs)</td>');
  });

  it('falls back to the request run id, then to the execution name, when the plan never existed', async () => {
    const { store } = memoryStore();
    const deps = { store, bucket: 'bkt', now: () => new Date() };
    const fromRequest = await recordFailure(
      { executionName: 'e', state: { request: { runId: 'r1' }, failure: {} } },
      deps,
    );
    expect(fromRequest.runId).toBe('r1');
    const fromName = await recordFailure({ executionName: 'Exec_9', state: { failure: {} } }, deps);
    expect(fromName.runId).toBe('exec-9');
  });
});

describe('failureMessage', () => {
  it('reads a Lambda error cause', () => {
    expect(
      failureMessage(JSON.stringify({ errorType: 'InvalidInputError', errorMessage: 'x.csv line 3: bad' })),
    ).toBe('x.csv line 3: bad');
  });

  it('returns a plain-text cause as it is', () => {
    expect(failureMessage('something broke')).toBe('something broke');
  });
});
