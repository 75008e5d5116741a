/**
 * SIGKILL during RegisterTable, then a re-run. A child process runs the whole local pipeline on a home
 * and is killed with SIGKILL at a chosen point inside RegisterTable: right after the registering marker
 * is written (nothing switched), between the results table's switch and the statistics table's, and
 * right after both switches (before RunQueries); and inside RunQueries, once it wrote the re-run's
 * report.html and summary.json but before its commit. The child pauses there (an endless await in a
 * wrapper of the real store or catalog call) so the kill lands at that point every time.
 *
 * Read-only right after the kill, every query works and each table shows one attempt (never an error).
 * Then the home is opened read-write by another process (as `npm start -- run` would, without running
 * anything): it takes the killed attempt back, as RecordFailure would have, and says so on stderr. From
 * then on both tables show exactly the published run's rows and attempt, the killed attempt's files
 * are gone, and the run's report.html and summary.json are the published run's, before any re-run. The
 * re-run of the same request then succeeds and leaves only its own attempt. A first run killed at
 * those points loses its partitions and files, and (killed in RunQueries) the report.html and
 * summary.json it wrote: `runs` does not list it as succeeded.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRuns } from '../../src/cli/runs-command.js';
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
if (pauseAt === 'open') {
  // Only open the home read-write (what any run does first), then close it.
  await pipeline.close();
  process.exit(0);
}
const pause = async (where) => {
  process.stdout.write('PAUSED ' + where + '\\n');
  await new Promise(() => undefined);
};
const put = pipeline.store.put.bind(pipeline.store);
pipeline.store.put = async (uri, body, options) => {
  if (pauseAt === 'commit' && uri.endsWith('/published.json')) await pause('before the commit');
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

describe('SIGKILL during RegisterTable (or in RunQueries before its commit), then a re-run', () => {
  let work: string;
  let home: string;
  let container: FaultyContainer;
  let oldRows: unknown[];
  let oldStats: unknown[];
  let oldAttempt: string | undefined;
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

  /**
   * What a user sees of the run, through a read-only open (which never takes anything back): its rows
   * (through both names), its statistics rows, its partitions and their attempts.
   */
  const visible = async () => {
    const pipeline = await LocalPipeline.open({ home, readOnly: true });
    try {
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
      const stats = await pipeline.catalog.runQuery(
        'SELECT * FROM predictions_stats WHERE run_id = ? ORDER BY ALL',
        [RUN_ID],
      );
      return {
        rows,
        statsRows: stats.rows,
        predictions: await attempts('predictions'),
        stats: await attempts('predictions_stats'),
        all: all.rows,
      };
    } finally {
      await pipeline.close();
    }
  };

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
    const published = await visible();
    oldRows = published.rows;
    oldStats = published.statsRows;
    oldAttempt = published.predictions[0];
    expect(oldRows).toHaveLength(2 * RECORDS);
    expect(oldStats.length).toBeGreaterThan(0);
    expect(published.stats).toEqual([oldAttempt, oldAttempt]);
  }, 120_000);

  afterAll(async () => {
    await container?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Opens the home read-write in another process, as a run does first; resolves with its stderr. */
  async function openReadWrite(): Promise<string> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(work, 'child.mts'), home, join(work, 'request.json'), 'open'],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const [code] = await once(child, 'close');
    expect(code, stderr).toBe(0);
    return stderr;
  }

  /** The run's files under results/ and its attempts' scratch, relative to the bucket. */
  const runFiles = async () => [
    ...(await listFilesUnder(join(s3(), 'results'))).filter((f) => f.includes(`/run_id=${RUN_ID}/`)),
    ...(await listFilesUnder(join(s3(), 'runs', RUN_ID, 'attempts'))).map((f) => `attempts/${f}`),
  ];

  /** The run's report.html and summary.json as they are on disk. */
  const runFolderFiles = async () => ({
    report: await readFile(join(s3(), 'runs', RUN_ID, 'report.html'), 'utf8'),
    summary: await readFile(join(s3(), 'runs', RUN_ID, 'summary.json'), 'utf8'),
  });

  /** Runs the re-run in a child and SIGKILLs it once it has paused at `pauseAt`. */
  async function killDuringRegisterTable(pauseAt: string, requestFile = 'request.json'): Promise<string> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(work, 'child.mts'), home, join(work, requestFile), pauseAt],
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
    // Inside RunQueries: the re-run's report.html and summary.json are written, its commit is not.
    ['commit', 'before the commit'],
  ])(
    'killed at %s: the next read-write open puts the previous results back in both tables, and the re-run succeeds',
    async (pauseAt, where) => {
      const filesBefore = await runFiles();
      const reportBefore = await runFolderFiles();
      expect(await killDuringRegisterTable(pauseAt)).toBe(`PAUSED ${where}`);
      if (pauseAt === 'commit') expect(await runFolderFiles()).not.toEqual(reportBefore);

      // As the kill left it (a read-only open takes nothing back): never an error, never a mix of
      // attempts within a table; from the results switch on, the killed attempt is what shows.
      const afterKill = await visible();
      expect(new Set(afterKill.predictions).size).toBe(1);
      expect(new Set(afterKill.stats).size).toBe(1);
      expect(afterKill.rows).toHaveLength(2 * RECORDS);
      expect(afterKill.all).toEqual([
        { run_id: RUN_ID, n: 2 * RECORDS },
        { run_id: 'other', n: 2 * RECORDS },
      ]);
      if (pauseAt === 'marker') expect(afterKill.rows).toEqual(oldRows);
      else expect(afterKill.rows).not.toEqual(oldRows);
      // Killed between the switches, the two tables show different attempts until the next open.
      if (pauseAt === 'between') expect(afterKill.stats).toEqual([oldAttempt, oldAttempt]);
      if (pauseAt !== 'marker') expect(afterKill.predictions).not.toEqual([oldAttempt, oldAttempt]);
      expect((await runFiles()).length).toBeGreaterThan(filesBefore.length);

      // The next read-write open (any run does one first) takes the killed attempt back, and says so.
      expect(await openReadWrite()).toBe(
        `run ${RUN_ID} was interrupted after publishing began; its previous results were put back\n`,
      );
      const recovered = await visible();
      expect(recovered.rows).toEqual(oldRows);
      expect(recovered.statsRows).toEqual(oldStats);
      expect(recovered.predictions).toEqual([oldAttempt, oldAttempt]);
      expect(recovered.stats).toEqual([oldAttempt, oldAttempt]);
      expect(recovered.all).toEqual(afterKill.all);
      // The killed attempt's result files and scratch are gone; the published run's files are as they were.
      expect(await runFiles()).toEqual(filesBefore);
      // And the run's report and summary are the published run's, byte for byte.
      expect(await runFolderFiles()).toEqual(reportBefore);
      // Nothing more to take back: a second open says nothing.
      expect(await openReadWrite()).toBe('');

      const rerun = await withPipeline(async (pipeline) => pipeline.run(request('second')));
      expect(rerun.status).toBe('SUCCEEDED');
      const after = await visible();
      expect(after.rows).toHaveLength(2 * RECORDS);
      const rerunSources = [...new Set(after.rows.map((r) => String((r as { source: string }).source)))];
      expect(rerunSources).toHaveLength(1);
      expect(rerunSources[0]).toMatch(/second\.csv$/);
      // Only the re-run's attempt is left: in both tables, in the results folders and in the scratch.
      const [attempt] = after.predictions;
      expect(attempt).not.toBe(oldAttempt);
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
      const restored = await visible();
      expect(restored.rows).toEqual(oldRows);
      oldAttempt = restored.predictions[0];
      oldStats = restored.statsRows;
    },
    180_000,
  );

  it('killed after both switches of a first run: the next read-write open removes its partitions and files', async () => {
    const fresh = { ...request('second'), runId: 'fresh' };
    await writeFile(join(work, 'fresh.json'), JSON.stringify(fresh));
    expect(await killDuringRegisterTable('switched', 'fresh.json')).toBe(
      'PAUSED after switching predictions_stats',
    );
    const count = async () => {
      const pipeline = await LocalPipeline.open({ home, readOnly: true });
      try {
        const { rows } = await pipeline.catalog.runQuery(
          "SELECT count(*) AS n FROM predictions WHERE run_id = 'fresh'",
        );
        const partitions = async (table: string) =>
          (await pipeline.catalog.listPartitions('local', table)).filter((p) => p.values[1] === 'fresh')
            .length;
        return {
          rows: rows[0]?.n,
          predictions: await partitions('predictions'),
          stats: await partitions('predictions_stats'),
        };
      } finally {
        await pipeline.close();
      }
    };
    expect(await count()).toEqual({ rows: 2 * RECORDS, predictions: 2, stats: 2 });
    expect(await openReadWrite()).toBe(
      'run fresh was interrupted after publishing began; it had no previous results, and its own were removed\n',
    );
    expect(await count()).toEqual({ rows: 0, predictions: 0, stats: 0 });
    const files = [
      ...(await listFilesUnder(join(s3(), 'results'))).filter((f) => f.includes('/run_id=fresh/')),
      ...(await listFilesUnder(join(s3(), 'runs', 'fresh', 'attempts'))),
    ];
    expect(files).toEqual([]);
    // The published runs are untouched.
    expect((await visible()).rows).toEqual(oldRows);
  }, 120_000);

  it('killed in RunQueries of a first run, after its report and summary: the next read-write open removes them too', async () => {
    const late = { ...request('second'), runId: 'late' };
    await writeFile(join(work, 'late.json'), JSON.stringify(late));
    const folder = join(s3(), 'runs', 'late');
    expect(await killDuringRegisterTable('commit', 'late.json')).toBe('PAUSED before the commit');
    // As the kill left it: the attempt's report and summary are written, as if it had succeeded.
    expect((await listFilesUnder(folder)).filter((f) => !f.startsWith('attempts/')).sort()).toEqual([
      'plan.json',
      'report.html',
      'request.json',
      'summary.json',
    ]);

    expect(await openReadWrite()).toBe(
      'run late was interrupted after publishing began; it had no previous results, and its own were removed\n',
    );
    // Nothing of it is published any more: no summary, no report of rows the table does not hold.
    expect((await listFilesUnder(folder)).sort()).toEqual(['plan.json', 'request.json']);
    expect((await listFilesUnder(join(s3(), 'results'))).filter((f) => f.includes('/run_id=late/'))).toEqual(
      [],
    );
    // `runs` lists it as a killed run, with no records (it never finished).
    expect((await listRuns(home)).find((r) => r.run_id === 'late')).toMatchObject({
      status: 'INCOMPLETE',
      // It never finished: no time is shown as if it had.
      finished: null,
      records: null,
      variants: null,
      detail: 'no summary or failure (running, or killed)',
    });
    expect((await visible()).rows).toEqual(oldRows);
  }, 120_000);
});
