import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRequest } from '../../src/core/run-request.js';
import { QueryFailedError } from '../../src/errors.js';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import { type FaultyContainer, SAMPLE_INPUT_DIR, startFaultyContainer } from '../helpers/model-containers.js';
import { listFilesUnder, sampleLines, sha256 } from '../helpers/records.js';

const RECORDS = 200;

/** A container that passes /ping and answers every invocation 400: a model that cannot serve this data. */
async function startBrokenContainer(): Promise<{
  url: string;
  invocations: () => number;
  close(): Promise<void>;
}> {
  let invocations = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/ping') return void res.writeHead(200).end();
      invocations += 1;
      res.writeHead(400, { 'content-type': 'text/plain' }).end('broken model: cannot read this input\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    invocations: () => invocations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('publishing: a failed run never publishes, and never loses what was published', () => {
  let work: string;
  let pipeline: LocalPipeline;
  let good: FaultyContainer;
  let broken: Awaited<ReturnType<typeof startBrokenContainer>>;
  const s3 = () => join(work, 'home', 's3', LOCAL_BUCKET);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'publish-'));
    const lines = await sampleLines(SAMPLE_INPUT_DIR, RECORDS);
    pipeline = await LocalPipeline.open({
      home: join(work, 'home'),
      retryIntervalOverrides: { BuildManifest: 0, ParseResults: 0, RegisterTable: 0, RunQueries: 0 },
    });
    await pipeline.store.put(`s3://${LOCAL_BUCKET}/incoming/data/records.csv`, `${lines.join('\n')}\n`);
    good = await startFaultyContainer();
    broken = await startBrokenContainer();
    await pipeline.models.put({ ModelName: 'good', PrimaryContainer: { Image: good.url } });
    await pipeline.models.put({ ModelName: 'broken', PrimaryContainer: { Image: broken.url } });
  });
  afterAll(async () => {
    await pipeline?.close();
    await good?.close();
    await broken?.close();
    await rm(work, { recursive: true, force: true });
  });

  const run = (runId: string, models: RunRequest['models'], extra: Partial<RunRequest> = {}) =>
    pipeline.run({
      runId,
      input: `s3://${LOCAL_BUCKET}/incoming/data/`,
      models,
      transform: { BatchStrategy: 'MultiRecord', MaxPayloadInMB: 1 },
      results: { table: 'predictions', labels: ['malignant', 'benign'] },
      ...extra,
    });

  /** Every row of a run, as a user's query returns them. */
  const rowsOf = async (runId: string) =>
    (
      await pipeline.catalog.runQuery(
        'SELECT variant, source, record, score, label FROM predictions WHERE run_id = ? ORDER BY variant, source, record',
        [runId],
      )
    ).rows;

  /** Result files (with their bytes' hashes) and transform outputs a run has on disk. */
  async function filesOf(runId: string) {
    const results = (await listFilesUnder(join(s3(), 'results'))).filter((f) =>
      f.includes(`/run_id=${runId}/`),
    );
    const hashes: Record<string, string> = {};
    for (const f of results) hashes[f] = sha256(await readFile(join(s3(), 'results', f)));
    const outs = (await listFilesUnder(join(s3(), 'runs', runId))).filter((f) => f.endsWith('.out'));
    return { hashes, outs };
  }

  it('keeps the published 200 rows when a re-run fails, and the table stays queryable', async () => {
    expect((await run('nightly', [{ variant: 'xgb', modelName: 'good' }])).status).toBe('SUCCEEDED');
    expect((await run('other', [{ variant: 'xgb', modelName: 'good' }])).status).toBe('SUCCEEDED');
    const before = await rowsOf('nightly');
    const filesBefore = await filesOf('nightly');
    expect(before).toHaveLength(RECORDS);

    const rerun = await run('nightly', [{ variant: 'xgb', modelName: 'broken' }]);
    expect(rerun.status).toBe('FAILED');
    expect(rerun.cause).toContain('broken model: cannot read this input');

    expect(await rowsOf('nightly')).toEqual(before);
    const { rows } = await pipeline.catalog.runQuery(
      'SELECT run_id, count(*) AS n FROM predictions GROUP BY run_id ORDER BY run_id',
    );
    expect(rows).toEqual([
      { run_id: 'nightly', n: RECORDS },
      { run_id: 'other', n: RECORDS },
    ]);
    // The published files are byte for byte the same, and the failed attempt left no output behind.
    expect(await filesOf('nightly')).toEqual(filesBefore);
    const failure = JSON.parse(
      Buffer.from(await pipeline.store.getBytes(`s3://${LOCAL_BUCKET}/runs/nightly/failure.json`)).toString(),
    );
    expect(failure.attempt).toMatchObject({ files: 'cleaned' });
  }, 60_000);

  it('switches the run back when a re-run fails after RegisterTable (its query step fails): the first rows exactly', async () => {
    const before = await rowsOf('nightly');
    expect(before).toHaveLength(RECORDS);
    const statsOf = async () =>
      (
        await pipeline.catalog.runQuery(
          'SELECT * FROM local.predictions_stats WHERE run_id = ? ORDER BY ALL',
          ['nightly'],
        )
      ).rows;
    const statsBefore = await statsOf();
    expect(statsBefore.length).toBeGreaterThan(0);
    const partitionsBefore = await pipeline.catalog.listPartitions('local', 'predictions');
    const filesBefore = await filesOf('nightly');

    // The query engine fails at run time, once RegisterTable has switched the run to the new attempt
    // (as Athena failing, or DuckDB reading a broken file, would).
    const runQuery = pipeline.catalog.runQuery.bind(pipeline.catalog);
    let sawNewAttempt = false;
    pipeline.catalog.runQuery = async () => {
      const published = await pipeline.catalog.listPartitions('local', 'predictions');
      sawNewAttempt ||= JSON.stringify(published) !== JSON.stringify(partitionsBefore);
      throw new QueryFailedError('Query engine unavailable (test)');
    };
    let rerun: Awaited<ReturnType<typeof run>>;
    try {
      rerun = await run('nightly', [{ variant: 'xgb', modelName: 'good' }]);
    } finally {
      pipeline.catalog.runQuery = runQuery;
    }
    expect(rerun.status).toBe('FAILED');
    expect(rerun.cause).toContain('Query engine unavailable (test)');
    // The failure came after the switch: the new attempt was what the catalog published then.
    expect(sawNewAttempt).toBe(true);

    // Switched back: the first run's partitions, rows and statistics exactly, its files untouched.
    expect(await pipeline.catalog.listPartitions('local', 'predictions')).toEqual(partitionsBefore);
    expect(await rowsOf('nightly')).toEqual(before);
    expect(await statsOf()).toEqual(statsBefore);
    // Nothing of the failed attempt is left outside its scratch (nor in it: RecordFailure cleaned it).
    expect(await filesOf('nightly')).toEqual(filesBefore);
    const failure = JSON.parse(
      Buffer.from(await pipeline.store.getBytes(`s3://${LOCAL_BUCKET}/runs/nightly/failure.json`)).toString(),
    );
    expect(failure).toMatchObject({ failedState: 'RunQueries' });
    expect(failure.attempt).toMatchObject({
      files: 'cleaned',
      catalog:
        'switched back to the partitions the run had before (local.predictions: 1, local.predictions_stats: 1)',
    });
    const attempts = (await listFilesUnder(join(s3(), 'runs', 'nightly', 'attempts'))).map(
      (f) => f.split('/')[0],
    );
    expect(new Set(attempts).size).toBe(1);
  }, 60_000);

  it('publishes nothing, and stops the sibling, when one variant of a run fails', async () => {
    // The good variant answers slowly, so it is still transforming when the broken one fails.
    good.setDelay(150);
    const startedWith = good.invocations.length;
    const result = await run(
      'pair',
      [
        { variant: 'slow', modelName: 'good' },
        { variant: 'bad', modelName: 'broken' },
      ],
      { transform: { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 1 } },
    );
    const invokedByEnd = good.invocations.length;
    good.setDelay(0);
    expect(result.status).toBe('FAILED');
    expect(broken.invocations()).toBeGreaterThan(0);
    // Stopped long before its 200 records: a record each 150 ms would take 30 s.
    expect(invokedByEnd - startedWith).toBeLessThan(RECORDS / 2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(good.invocations.length).toBe(invokedByEnd);

    expect(await rowsOf('pair')).toEqual([]);
    expect(
      (await pipeline.catalog.listPartitions('local', 'predictions')).map((p) => p.values[1]),
    ).not.toContain('pair');
    expect(await filesOf('pair')).toEqual({ hashes: {}, outs: [] });
  }, 60_000);

  it('fails an unknown query name before any job runs, publishing nothing', async () => {
    const invoked = good.invocations.length;
    const result = await run('asks', [{ variant: 'xgb', modelName: 'good' }], {
      queries: ['summary', 'nope'],
    });
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/queries names "nope", which is not a named query: use one of .*summary/);
    expect(good.invocations.length).toBe(invoked);
    expect(await rowsOf('asks')).toEqual([]);
    expect(await filesOf('asks')).toEqual({ hashes: {}, outs: [] });
  }, 30_000);

  it('replaces a run whose variants changed: the dropped variant goes, the other runs stay', async () => {
    const result = await run('other', [
      { variant: 'xgb-a', modelName: 'good' },
      { variant: 'xgb-b', modelName: 'good' },
    ]);
    expect(result.status).toBe('SUCCEEDED');
    const variants = (
      await pipeline.catalog.runQuery(
        'SELECT variant, count(*) AS n FROM predictions WHERE run_id = ? GROUP BY variant ORDER BY variant',
        ['other'],
      )
    ).rows;
    expect(variants).toEqual([
      { variant: 'xgb-a', n: RECORDS },
      { variant: 'xgb-b', n: RECORDS },
    ]);
    expect(await rowsOf('nightly')).toHaveLength(RECORDS);
    const files = Object.keys((await filesOf('other')).hashes);
    expect(files.some((f) => f.includes('/variant=xgb/'))).toBe(false);
    await writeFile(join(work, 'done'), '');
  }, 60_000);
});
