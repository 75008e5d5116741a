/**
 * SIGKILL during RegisterTable, then a re-run. A child process runs the whole local pipeline on a home
 * and is killed with SIGKILL at a chosen point inside RegisterTable: right after the registering marker
 * is written (nothing switched), between the results table's switch and the statistics table's, and
 * right after both switches (before RunQueries). The child pauses there (an endless await in a wrapper
 * of the real store or catalog call) so the kill lands at that point every time.
 *
 * Afterwards every query works, and the run's rows are exactly the published run's or exactly the
 * killed attempt's (never a mix, never an error); the re-run of the same request succeeds and leaves
 * only its own attempt.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRequest } from '../../src/core/run-request.js';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { type FaultyContainer, SAMPLE_INPUT_DIR, startFaultyContainer } from '../helpers/model-containers.js';
import { listFilesUnder, sampleLines } from '../helpers/records.js';

const RECORDS = 30;
const RUN_ID = 'nightly';

/** The child: runs `request.json` on the home, pausing (for the kill) at the point named in argv. */
const CHILD = `
import { readFileSync } from 'node:fs';
import { LocalPipeline } from ${JSON.stringify(join(PROJECT_ROOT, 'src/local/local-pipeline.ts'))};
const [home, requestFile, pauseAt] = process.argv.slice(2);
const pipeline = await LocalPipeline.open({ home });
const pause = async (where) => {
  process.stdout.write('PAUSED ' + where + '\\n');
  await new Promise(() => undefined);
};
const put = pipeline.store.put.bind(pipeline.store);
pipeline.store.put = async (uri, body, options) => {
  const result = await put(uri, body, options);
  if (pauseAt === 'marker' && uri.endsWith('/registering.json')) await pause('after the registering marker');
  return result;
};
const switchRun = pipeline.catalog.switchRunPartitions.bind(pipeline.catalog);
let switches = 0;
pipeline.catalog.switchRunPartitions = async (table, run, partitions) => {
  switches += 1;
  if (pauseAt === 'between' && switches === 2) await pause('before switching ' + table.name);
  const previous = await switchRun(table, run, partitions);
  if (pauseAt === 'switched' && switches === 2) await pause('after switching ' + table.name);
  return previous;
};
const result = await pipeline.run(JSON.parse(readFileSync(requestFile, 'utf8')));
process.stdout.write('ENDED ' + result.status + '\\n');
await pipeline.close();
`;

describe('SIGKILL during RegisterTable, then a re-run', () => {
  let work: string;
  let home: string;
  let container: FaultyContainer;
  let oldRows: unknown[];
  const s3 = () => join(home, 's3', LOCAL_BUCKET);

  /** Two variants, so a mix of attempts would show as rows of both. */
  const request = (input: string): RunRequest => ({
    runId: RUN_ID,
    input: `s3://${LOCAL_BUCKET}/incoming/${input}/`,
    models: [
      { variant: 'a', modelName: 'model' },
      { variant: 'b', modelName: 'model' },
    ],
    transform: { BatchStrategy: 'MultiRecord', MaxPayloadInMB: 1 },
    results: { table: 'predictions', labels: ['malignant', 'benign'] },
  });

  async function withPipeline<T>(work: (pipeline: LocalPipeline) => Promise<T>): Promise<T> {
    const pipeline = await LocalPipeline.open({ home, retryIntervalOverrides: { RegisterTable: 0 } });
    try {
      return await work(pipeline);
    } finally {
      await pipeline.close();
    }
  }

  /** What a user sees of the run: its rows (through both names), its partitions and their attempts. */
  const visible = () =>
    withPipeline(async (pipeline) => {
      const sql = 'SELECT variant, source, record, score FROM predictions WHERE run_id = ? ORDER BY ALL';
      const { rows } = await pipeline.catalog.runQuery(sql, [RUN_ID]);
      const qualified = await pipeline.catalog.runQuery(
        sql.replace('FROM predictions', 'FROM local.predictions'),
        [RUN_ID],
      );
      expect(qualified.rows).toEqual(rows);
      const attempts = async (table: string) =>
        (await pipeline.catalog.listPartitions('local', table))
          .filter((p) => p.values[1] === RUN_ID)
          .map((p) => /attempt=([0-9a-f]{12})\//.exec(p.location)?.[1]);
      const all = await pipeline.catalog.runQuery(
        'SELECT run_id, count(*) AS n FROM predictions GROUP BY run_id ORDER BY run_id',
      );
      return {
        rows,
        predictions: await attempts('predictions'),
        stats: await attempts('predictions_stats'),
        all: all.rows,
      };
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'register-kill-'));
    home = join(work, 'home');
    container = await startFaultyContainer();
    const lines = await sampleLines(SAMPLE_INPUT_DIR, 2 * RECORDS);
    await withPipeline(async (pipeline) => {
      await pipeline.models.put({ ModelName: 'model', PrimaryContainer: { Image: container.url } });
      // Two inputs of different records: the published run's rows and a re-run's cannot be confused.
      const first = lines.slice(0, RECORDS).join('\n');
      const second = lines.slice(RECORDS).join('\n');
      await pipeline.store.put(`s3://${LOCAL_BUCKET}/incoming/first/first.csv`, `${first}\n`);
      await pipeline.store.put(`s3://${LOCAL_BUCKET}/incoming/second/second.csv`, `${second}\n`);
      expect((await pipeline.run({ ...request('first'), runId: 'other' })).status).toBe('SUCCEEDED');
      expect((await pipeline.run(request('first'))).status).toBe('SUCCEEDED');
    });
    await writeFile(join(work, 'request.json'), JSON.stringify(request('second')));
    await writeFile(join(work, 'child.mts'), CHILD);
    oldRows = (await visible()).rows;
    expect(oldRows).toHaveLength(2 * RECORDS);
  }, 120_000);

  afterAll(async () => {
    await container?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Runs the re-run in a child and SIGKILLs it once it has paused at `pauseAt`. */
  async function killDuringRegisterTable(pauseAt: string): Promise<string> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(work, 'child.mts'), home, join(work, 'request.json'), pauseAt],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const closed = once(child, 'close');
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('PAUSED')) resolve();
      });
      closed.then(() => reject(new Error(`the child ended before pausing: ${stdout}${stderr}`)));
    });
    child.kill('SIGKILL');
    const [, signal] = await closed;
    expect(signal).toBe('SIGKILL');
    return stdout.trim();
  }

  it.each([
    ['marker', 'after the registering marker'],
    ['between', 'before switching predictions_stats'],
    ['switched', 'after switching predictions_stats'],
  ])(
    'killed at %s: the table stays queryable with the old or the new rows, and the re-run succeeds',
    async (pauseAt, where) => {
      expect(await killDuringRegisterTable(pauseAt)).toBe(`PAUSED ${where}`);

      const afterKill = await visible();
      // Never an error (visible() queried both names), never a mix of attempts within a table.
      expect(new Set(afterKill.predictions).size).toBe(1);
      expect(new Set(afterKill.stats).size).toBe(1);
      expect(afterKill.rows).toHaveLength(2 * RECORDS);
      expect(afterKill.all).toEqual([
        { run_id: RUN_ID, n: 2 * RECORDS },
        { run_id: 'other', n: 2 * RECORDS },
      ]);
      const sources = new Set(afterKill.rows.map((r) => (r as { source: string }).source));
      expect(sources.size).toBe(1);
      if (pauseAt === 'marker') expect(afterKill.rows).toEqual(oldRows);
      else expect(afterKill.rows).not.toEqual(oldRows);

      const rerun = await withPipeline(async (pipeline) => pipeline.run(request('second')));
      expect(rerun.status).toBe('SUCCEEDED');
      const after = await visible();
      expect(after.rows).toHaveLength(2 * RECORDS);
      const rerunSources = [...new Set(after.rows.map((r) => String((r as { source: string }).source)))];
      expect(rerunSources).toHaveLength(1);
      expect(rerunSources[0]).toMatch(/second\.csv$/);
      if (pauseAt !== 'marker') expect(after.rows).toEqual(afterKill.rows);
      // Only the re-run's attempt is left: in both tables, in the results folders and in the scratch.
      const [attempt] = after.predictions;
      expect(after.predictions).toEqual([attempt, attempt]);
      expect(after.stats).toEqual([attempt, attempt]);
      const results = (await listFilesUnder(join(s3(), 'results'))).filter((f) =>
        f.includes(`/run_id=${RUN_ID}/`),
      );
      expect(results.length).toBeGreaterThan(0);
      expect(results.every((f) => f.includes(`/attempt=${attempt}/`))).toBe(true);
      const scratch = await listFilesUnder(join(s3(), 'runs', RUN_ID, 'attempts'));
      expect(scratch.every((f) => f.startsWith(`${attempt}/`))).toBe(true);

      // Back to the first input for the next case, so each starts from the same published run.
      expect((await withPipeline(async (pipeline) => pipeline.run(request('first')))).status).toBe(
        'SUCCEEDED',
      );
      expect((await visible()).rows).toEqual(oldRows);
    },
    180_000,
  );
});
