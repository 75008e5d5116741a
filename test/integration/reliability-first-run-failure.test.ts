/**
 * A run that fails inside RunQueries after it wrote its summary.json (and report.html), before its
 * commit: RunQueries' write of the summary goes through, then the step throws (as a disk that fills
 * right after, or any later error before the commit, would), and the state machine's Catch runs
 * RecordFailure, in process, as `npm start -- run` does.
 *
 * A first run of an id (nothing published before) then leaves no summary.json and no report of its
 * results: its folder holds its failure (failure.json, and the failure report as report.html), and
 * `runs` lists it FAILED with no records. A re-run of a published id leaves the published pair, and
 * `runs` shows the time the published run finished (summary.json's `finishedAt`), not the time
 * RecordFailure put the summary back.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listRuns, runsListCommand } from '../../src/cli/runs-command.js';
import type { RunRequest } from '../../src/core/run-request.js';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import { type FaultyContainer, SAMPLE_INPUT_DIR, startFaultyContainer } from '../helpers/model-containers.js';
import { listFilesUnder, sampleLines } from '../helpers/records.js';

const RECORDS = 40;

describe('a run failing in RunQueries after writing its summary, before its commit', () => {
  let work: string;
  let home: string;
  let pipeline: LocalPipeline;
  let container: FaultyContainer;
  const runFolder = (runId: string) => join(home, 's3', LOCAL_BUCKET, 'runs', runId);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'first-run-failure-'));
    home = join(work, 'home');
    pipeline = await LocalPipeline.open({ home, retryIntervalOverrides: { RunQueries: 0 } });
    const lines = await sampleLines(SAMPLE_INPUT_DIR, RECORDS);
    await pipeline.store.put(`s3://${LOCAL_BUCKET}/incoming/data/records.csv`, `${lines.join('\n')}\n`);
    container = await startFaultyContainer();
    await pipeline.models.put({ ModelName: 'model', PrimaryContainer: { Image: container.url } });
  });
  afterAll(async () => {
    await pipeline?.close();
    await container?.close();
    await rm(work, { recursive: true, force: true });
  });

  const request = (runId: string): RunRequest => ({
    runId,
    input: `s3://${LOCAL_BUCKET}/incoming/data/`,
    models: [{ variant: 'xgb', modelName: 'model' }],
    transform: { BatchStrategy: 'MultiRecord', MaxPayloadInMB: 1 },
    results: { table: 'predictions', labels: ['malignant', 'benign'] },
  });

  /** Runs the request with the store failing right after RunQueries wrote the run's summary.json. */
  async function runFailingAfterSummary(runId: string) {
    const put = pipeline.store.put.bind(pipeline.store);
    let wrote: string | undefined;
    pipeline.store.put = async (uri, body, options) => {
      await put(uri, body, options);
      if (uri === `s3://${LOCAL_BUCKET}/runs/${runId}/summary.json` && !wrote) {
        wrote = Buffer.from(body).toString();
        throw new Error('No space left on device (from the test, after the summary was written)');
      }
    };
    try {
      const result = await pipeline.run(request(runId));
      expect(wrote, 'the summary was written before the failure').toContain('"status": "SUCCEEDED"');
      return result;
    } finally {
      pipeline.store.put = put;
    }
  }

  /** What `npm start -- runs` prints (its table). */
  async function runsPrinted(): Promise<string> {
    let out = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    try {
      expect(await runsListCommand(home, 'table')).toBe(0);
    } finally {
      write.mockRestore();
    }
    return out;
  }

  it('a first run: nothing of it stays published, its folder holds its failure only, and runs lists it FAILED', async () => {
    const result = await runFailingAfterSummary('fresh');
    expect(result.status).toBe('FAILED');

    // No summary.json, and report.html is the failure report, not the failed attempt's results report.
    expect((await readdir(runFolder('fresh'))).sort()).toEqual([
      'failure.json',
      'plan.json',
      'report.html',
      'request.json',
    ]);
    const failure = JSON.parse(await readFile(join(runFolder('fresh'), 'failure.json'), 'utf8'));
    expect(failure).toMatchObject({
      runId: 'fresh',
      failedState: 'RunQueries',
      message: 'No space left on device (from the test, after the summary was written)',
      reportUri: `s3://${LOCAL_BUCKET}/runs/fresh/report.html`,
      attempt: {
        files: 'cleaned',
        catalog:
          "the run had no partitions before: the partitions of this attempt were removed; this attempt's report.html and summary.json were removed",
      },
    });
    expect(failure.publishedReportUri).toBeUndefined();
    const report = await readFile(join(runFolder('fresh'), 'report.html'), 'utf8');
    expect(report).toContain('No space left on device (from the test, after the summary was written)');
    expect(report).toContain('<td>Failed state</td><td>RunQueries');
    // Nothing of it in the catalog, the results folders or its scratch.
    const { rows } = await pipeline.catalog.runQuery(
      "SELECT count(*) AS n FROM predictions WHERE run_id = 'fresh'",
    );
    expect(rows).toEqual([{ n: 0 }]);
    expect(
      (await listFilesUnder(join(home, 's3', LOCAL_BUCKET, 'results'))).filter((f) =>
        f.includes('/run_id=fresh/'),
      ),
    ).toEqual([]);
    expect(await listFilesUnder(join(runFolder('fresh'), 'attempts'))).toEqual([]);

    expect(await listRuns(home)).toEqual([
      expect.objectContaining({
        run_id: 'fresh',
        status: 'FAILED',
        finished: failure.recordedAt,
        records: null,
        variants: null,
        detail: 'RunQueries: No space left on device (from the test, after the summary was written)',
      }),
    ]);
    expect(await runsPrinted()).toMatch(/^fresh +FAILED +\S+ +NULL +NULL .*RunQueries: No space left/m);
  }, 60_000);

  it('a re-run of a published run: the published summary is put back, and runs shows when that run finished', async () => {
    expect((await pipeline.run(request('keep'))).status).toBe('SUCCEEDED');
    const summaryPath = join(runFolder('keep'), 'summary.json');
    const published = {
      summary: await readFile(summaryPath, 'utf8'),
      report: await readFile(join(runFolder('keep'), 'report.html'), 'utf8'),
    };
    const listed = (await listRuns(home)).find((r) => r.run_id === 'keep');
    expect(listed).toMatchObject({ status: 'SUCCEEDED', records: RECORDS });
    const finished = listed?.finished;

    // Later, so that a time taken from the put-back file would differ.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const rerun = await runFailingAfterSummary('keep');
    expect(rerun.status).toBe('FAILED');
    expect(await readFile(summaryPath, 'utf8')).toBe(published.summary);
    expect(await readFile(join(runFolder('keep'), 'report.html'), 'utf8')).toBe(published.report);

    expect((await listRuns(home)).find((r) => r.run_id === 'keep')).toMatchObject({
      status: 'SUCCEEDED (last attempt FAILED)',
      finished,
      records: RECORDS,
      variants: 'xgb',
    });
    // The time the summary states: when the published run finished (the report shows the same).
    const { finishedAt } = JSON.parse(published.summary) as { finishedAt?: string };
    expect(finished).toBe(finishedAt);
    expect(published.report).toContain(String(finishedAt));
  }, 60_000);
});
