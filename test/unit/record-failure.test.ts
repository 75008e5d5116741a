import { describe, expect, it } from 'vitest';
import { failureMessage, recordFailure, rewriteCause } from '../../src/core/record-failure.js';
import { keepReplacedRunFiles, restoreReplacedRunFiles } from '../../src/core/register-table-commit.js';
import { attemptIdFor } from '../../src/core/run-attempt.js';
import { CatalogError } from '../../src/errors.js';
import type { Catalog, ObjectStore } from '../../src/ports.js';

function memoryStore() {
  const objects = new Map<string, string>();
  const store = {
    put: async (uri: string, body: string | Uint8Array) => {
      objects.set(uri, typeof body === 'string' ? body : Buffer.from(body).toString());
    },
    head: async (uri: string) =>
      objects.has(uri) ? { uri, size: objects.get(uri)?.length ?? 0 } : undefined,
    getBytes: async (uri: string) => Buffer.from(objects.get(uri) ?? ''),
    delete: async (uri: string) => {
      objects.delete(uri);
    },
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
      // Nothing of the run id was published: the failure report is the run's report.
      reportUri: 's3://bkt/runs/nightly/report.html',
    });
    expect(record.publishedReportUri).toBeUndefined();
    expect(JSON.parse(objects.get('s3://bkt/runs/nightly/failure.json') ?? '{}')).toEqual(record);
    expect(objects.has('s3://bkt/runs/nightly/failure-report.html')).toBe(false);
    // And a failure report beside it, saying what failed.
    const report = objects.get('s3://bkt/runs/nightly/report.html') ?? '';
    expect(report).toContain('<p class="explain" id="failure-message">ClientError: bad record 7</p>');
    expect(report).toContain('<td>Failed state</td><td>RunTransforms (running the transform jobs)</td>');
  });

  /** runs/nightly/ as a succeeded attempt leaves it: its summary (naming its attempt) and its report. */
  const publishedRun = (attemptId: string) => {
    const { store, objects } = memoryStore();
    const summary = JSON.stringify({
      runId: 'nightly',
      status: 'SUCCEEDED',
      recordsIn: 285,
      partitions: [
        {
          values: ['2026-11-30', 'nightly', 'a'],
          location: `s3://bkt/results/predictions/run_date=2026-11-30/run_id=nightly/variant=a/attempt=${attemptId}/`,
        },
      ],
    });
    objects.set('s3://bkt/runs/nightly/summary.json', summary);
    objects.set('s3://bkt/runs/nightly/report.html', '<h2 id="scores">Scores</h2> 285 rows');
    return { store, objects, summary };
  };
  const failedRerun = (executionName: string) => ({
    executionName,
    state: {
      runId: 'nightly',
      failedState: 'RunTransforms',
      failure: { Error: 'States.TaskFailed', Cause: 'Record 50 has 29 values' },
    },
  });

  it("leaves a published run's report.html and summary.json as they were, writing failure-report.html beside them", async () => {
    const { store, objects, summary } = publishedRun(attemptIdFor('exec-published'));
    const record = await recordFailure(failedRerun('exec-rerun'), {
      store,
      bucket: 'bkt',
      now: () => new Date('2026-12-01T00:00:00Z'),
    });
    expect(record).toMatchObject({
      uri: 's3://bkt/runs/nightly/failure.json',
      reportUri: 's3://bkt/runs/nightly/failure-report.html',
      publishedReportUri: 's3://bkt/runs/nightly/report.html',
    });
    expect(objects.get('s3://bkt/runs/nightly/report.html')).toBe('<h2 id="scores">Scores</h2> 285 rows');
    expect(objects.get('s3://bkt/runs/nightly/summary.json')).toBe(summary);
    const failureReport = objects.get('s3://bkt/runs/nightly/failure-report.html') ?? '';
    expect(failureReport).toContain('Record 50 has 29 values');
    expect(failureReport).toContain('<td>Published report</td><td>s3://bkt/runs/nightly/report.html</td>');
    expect(failureReport).toContain('still published, unchanged');
  });

  it('writes report.html over a summary its own attempt wrote before failing uncommitted (nothing of it is published)', async () => {
    const { store, objects } = publishedRun(attemptIdFor('exec-late'));
    const record = await recordFailure(failedRerun('exec-late'), {
      store,
      bucket: 'bkt',
      now: () => new Date(),
    });
    expect(record.reportUri).toBe('s3://bkt/runs/nightly/report.html');
    expect(objects.get('s3://bkt/runs/nightly/report.html')).toContain('Record 50 has 29 values');
    expect(objects.has('s3://bkt/runs/nightly/failure-report.html')).toBe(false);
  });

  it('keeps the report of its own attempt once that attempt committed (the failure came after publishing)', async () => {
    const attemptId = attemptIdFor('exec-committed');
    const { store, objects } = publishedRun(attemptId);
    objects.set(`s3://bkt/runs/nightly/attempts/${attemptId}/published.json`, '{}');
    const record = await recordFailure(failedRerun('exec-committed'), {
      store,
      bucket: 'bkt',
      now: () => new Date(),
    });
    expect(record.reportUri).toBe('s3://bkt/runs/nightly/failure-report.html');
    expect(objects.get('s3://bkt/runs/nightly/report.html')).toBe('<h2 id="scores">Scores</h2> 285 rows');
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

describe("recordFailure of an attempt that reached RegisterTable's switch", () => {
  const attemptId = attemptIdFor('exec-switched');
  const marker = `s3://bkt/runs/nightly/attempts/${attemptId}/registering.json`;
  const table = {
    database: 'local',
    name: 'predictions',
    location: 's3://bkt/results/predictions/',
    columns: [{ name: 'score', type: 'double' }],
    partitionKeys: [
      { name: 'run_date', type: 'string' },
      { name: 'run_id', type: 'string' },
      { name: 'variant', type: 'string' },
    ],
  };
  const at = (attempt: string) =>
    `s3://bkt/results/predictions/run_date=2026-11-30/run_id=nightly/variant=a/attempt=${attempt}/`;
  const event = {
    executionName: 'exec-switched',
    state: {
      runId: 'nightly',
      failedState: 'RunQueries',
      failure: { Error: 'QueryFailedError', Cause: 'x' },
    },
  };
  const withMarker = () => {
    const memory = memoryStore();
    memory.objects.set(
      marker,
      JSON.stringify({
        attemptId,
        resultsPrefix: 's3://bkt/results/',
        runDate: '2026-11-30',
        runId: 'nightly',
        tables: [
          {
            definition: table,
            partitions: [{ values: ['2026-11-30', 'nightly', 'a'], location: at(attemptId) }],
            previous: [{ values: ['2026-11-30', 'nightly', 'a'], location: at('aaaaaaaaaaaa') }],
          },
        ],
      }),
    );
    return memory;
  };

  it('keeps its files, saying why, when there is no catalog to switch it back in', async () => {
    const { store, objects } = withMarker();
    const record = await recordFailure(event, { store, bucket: 'bkt', now: () => new Date() });
    expect(record.attempt).toEqual({
      attemptId,
      files: 'kept',
      deletedObjects: 0,
      catalog: 'not switched back: no catalog',
    });
    expect(objects.has(marker)).toBe(true);
  });

  it('keeps its files when the catalog refuses to switch it back, naming the catalog error', async () => {
    const { store, objects } = withMarker();
    const catalog: Catalog = {
      registerTable: async () => undefined,
      runPartitions: async () => [{ values: ['2026-11-30', 'nightly', 'a'], location: at(attemptId) }],
      switchRunPartitions: async () => {
        throw new CatalogError('Glue said no');
      },
    };
    const record = await recordFailure(event, { store, bucket: 'bkt', now: () => new Date(), catalog });
    expect(record.attempt).toMatchObject({
      files: 'kept',
      catalog: expect.stringContaining('not switched back (Glue said no)'),
    });
    expect(objects.has(marker)).toBe(true);
  });
});

describe('recordFailure with userText (a local run of the CLI)', () => {
  it('puts the message and every cause in the user terms, keeping the causes valid JSON', async () => {
    const { store, objects } = memoryStore();
    const reason = 'Model container rejected s3://bkt/copy/x.csv line 3: "bad"';
    const jobCause = JSON.stringify({ TransformJobStatus: 'Failed', FailureReason: reason });
    const mapCause = JSON.stringify({ message: `${reason} (child execution 0 of 1)`, cause: jobCause });
    // A rewrite that inserts quotes, as naming a column does.
    const userText = (text: string) => text.replace('s3://bkt/copy/x.csv line 3', '/me/"x".csv line 4');
    const record = await recordFailure(
      {
        executionName: 'exec-1',
        state: {
          runId: 'nightly',
          failedState: 'RunTransforms',
          failure: { Error: 'States.TaskFailed', Cause: mapCause },
        },
      },
      { store, bucket: 'bkt', now: () => new Date(), userText },
    );
    expect(record.message).toBe(
      'Model container rejected /me/"x".csv line 4: "bad" (child execution 0 of 1)',
    );
    const cause = JSON.parse(record.cause) as { message: string; cause: string };
    expect(cause.message).toBe(record.message);
    expect(JSON.parse(cause.cause)).toEqual({
      TransformJobStatus: 'Failed',
      FailureReason: 'Model container rejected /me/"x".csv line 4: "bad"',
    });
    expect(objects.get('s3://bkt/runs/nightly/failure.json')).not.toContain('s3://bkt/copy/');
  });

  it('records the failure as it was when userText throws', async () => {
    const { store } = memoryStore();
    const record = await recordFailure(
      {
        executionName: 'exec-1',
        state: { runId: 'nightly', failedState: 'BuildManifest', failure: { Error: 'X', Cause: 'plain' } },
      },
      {
        store,
        bucket: 'bkt',
        now: () => new Date(),
        userText: () => {
          throw new Error('no');
        },
      },
    );
    expect(record.message).toBe('plain');
  });
});

describe('rewriteCause', () => {
  it('rewrites plain text whole, and JSON string by string', () => {
    const upper = (text: string) => text.toUpperCase();
    expect(rewriteCause('plain', upper)).toBe('PLAIN');
    expect(JSON.parse(rewriteCause(JSON.stringify({ a: 'x', n: 1, list: ['y'] }), upper))).toEqual({
      a: 'X',
      n: 1,
      list: ['Y'],
    });
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

describe('keepReplacedRunFiles and restoreReplacedRunFiles', () => {
  const runPrefix = 's3://bkt/runs/nightly/';
  const attemptId = attemptIdFor('exec-2');
  const summaryOf = (attempt: string) =>
    JSON.stringify({ partitions: [{ location: `s3://bkt/results/p/variant=a/attempt=${attempt}/` }] });

  it('keeps the published pair once per attempt: a retried RunQueries, having written its own report, copies nothing more', async () => {
    const { store, objects } = memoryStore();
    objects.set(`${runPrefix}summary.json`, summaryOf('0123456789ab'));
    objects.set(`${runPrefix}report.html`, '<p>published</p>');

    await keepReplacedRunFiles(store, runPrefix, attemptId);
    // The first try wrote its report, then failed on the summary; the retry keeps the first copy.
    objects.set(`${runPrefix}report.html`, '<p>the failed attempt</p>');
    await keepReplacedRunFiles(store, runPrefix, attemptId);
    objects.set(`${runPrefix}summary.json`, summaryOf(attemptId));

    expect(await restoreReplacedRunFiles(store, runPrefix, attemptId)).toEqual({
      putBack: ['report.html', 'summary.json'],
      removed: [],
    });
    expect(objects.get(`${runPrefix}report.html`)).toBe('<p>published</p>');
    expect(objects.get(`${runPrefix}summary.json`)).toBe(summaryOf('0123456789ab'));
  });

  it('removes the summary and report a first run wrote (none was there before), putting back what was', async () => {
    const { store, objects } = memoryStore();
    objects.set(`${runPrefix}report.html`, '<p>an earlier attempt’s failure report</p>');
    await keepReplacedRunFiles(store, runPrefix, attemptId);
    objects.set(`${runPrefix}report.html`, '<p>the failed attempt’s results</p>');
    objects.set(`${runPrefix}summary.json`, summaryOf(attemptId));

    expect(await restoreReplacedRunFiles(store, runPrefix, attemptId)).toEqual({
      putBack: ['report.html'],
      removed: ['summary.json'],
    });
    expect(objects.has(`${runPrefix}summary.json`)).toBe(false);
    expect(objects.get(`${runPrefix}report.html`)).toBe('<p>an earlier attempt’s failure report</p>');

    const { store: empty, objects: emptyObjects } = memoryStore();
    await keepReplacedRunFiles(empty, runPrefix, attemptId);
    emptyObjects.set(`${runPrefix}report.html`, '<p>the failed attempt’s results</p>');
    emptyObjects.set(`${runPrefix}summary.json`, summaryOf(attemptId));
    expect(await restoreReplacedRunFiles(empty, runPrefix, attemptId)).toEqual({
      putBack: [],
      removed: ['report.html', 'summary.json'],
    });
    expect([...emptyObjects.keys()].filter((uri) => !uri.includes('/attempts/'))).toEqual([]);
  });

  it('keeps nothing when the summary is the attempt’s own (committed), and then restores nothing', async () => {
    const { store, objects } = memoryStore();
    objects.set(`${runPrefix}summary.json`, summaryOf(attemptId));
    await keepReplacedRunFiles(store, runPrefix, attemptId);

    expect([...objects.keys()].filter((uri) => uri.includes('/attempts/'))).toEqual([]);
    expect(await restoreReplacedRunFiles(store, runPrefix, attemptId)).toBeUndefined();
  });
});
