import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { queryJson, runCli } from '../helpers/cli.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/cli');
const MODEL = join(FIXTURES, 'model.json');

/**
 * What a user sees of a run id across attempts: a published run survives a failed re-run whole (rows,
 * report, summary, the input copy its `source` column names), and each run's header-free input copy is
 * its own. Inputs are the pandas to_csv fixture (header and index column), cut or broken here.
 */
describe('a failed re-run, and runs of same-named files, leave every published run whole', () => {
  let work: string;
  let home: string;
  let s3: string;
  let csvLines: string[];
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cli-rerun-'));
    home = join(work, 'home');
    s3 = join(home, 's3/local-pipeline');
    csvLines = (await readFile(join(FIXTURES, 'test.csv'), 'utf8')).trimEnd().split('\n');
    // Record 20 loses its last cell: the model container rejects the request, as with a ragged CSV.
    const ragged = csvLines.map((line, i) => (i === 20 ? line.slice(0, line.lastIndexOf(',')) : line));
    await writeFile(join(work, 'ragged.csv'), `${ragged.join('\n')}\n`);
    await mkdir(join(work, 'dirA'));
    await mkdir(join(work, 'dirB'));
    await writeFile(join(work, 'dirA/data.csv'), `${csvLines.slice(0, 21).join('\n')}\n`);
    await writeFile(join(work, 'dirB/data.csv'), `${[csvLines[0], ...csvLines.slice(31)].join('\n')}\n`);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const query = (sql: string) => queryJson(home, sql);
  const count = async (runId: string) =>
    (await query(`SELECT count(*) AS n FROM predictions WHERE run_id = '${runId}'`))[0]?.n;
  /** The distinct `source` values of a run's rows. */
  const sources = async (runId: string) =>
    (await query(`SELECT DISTINCT source FROM predictions WHERE run_id = '${runId}'`)).map((r) =>
      String(r.source),
    );
  /** A store URI's file in the home. */
  const fileOf = (uri: string) => join(s3, uri.slice('s3://local-pipeline/'.length));
  const lineCount = async (path: string) => (await readFile(path, 'utf8')).trimEnd().split('\n').length;
  const runsListed = async () => {
    const { stdout } = await runCli(['runs', '--format', 'json'], home);
    return JSON.parse(stdout) as Array<{ run_id: string; status: string; records: number | null }>;
  };
  /** Files of the store under `runs/<runId>/`, relative to it, sorted. */
  const runFiles = async (runId: string) =>
    (await readdir(join(s3, 'runs', runId), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(join(s3, 'runs', runId).length + 1))
      .sort();

  it("keeps a published run's rows, report, summary and input copy when a re-run of its id fails", async () => {
    const first = await runCli(
      ['run', join(FIXTURES, 'test.csv'), '--model', MODEL, '--run-id', 'keep'],
      home,
    );
    expect(first.code, first.stderr).toBe(0);
    const report = await readFile(join(s3, 'runs/keep/report.html'), 'utf8');
    const summary = await readFile(join(s3, 'runs/keep/summary.json'), 'utf8');
    const [source] = await sources('keep');
    // The copy without the header is in the attempt's own folder, and holds the 40 records.
    expect(source).toMatch(/^s3:\/\/local-pipeline\/runs\/keep\/attempts\/[0-9a-f]{12}\/input\/test\.csv$/);
    expect(await lineCount(fileOf(source ?? ''))).toBe(40);

    const rerun = await runCli(['run', join(work, 'ragged.csv'), '--model', MODEL, '--run-id', 'keep'], home);
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toContain('ragged.csv line 21 (record 20 of the request');
    expect(rerun.stderr).toMatch(/^ {2}failure: {4}\S*runs\/keep\/failure\.json$/m);
    expect(rerun.stderr).toMatch(/^ {2}report: {5}\S*runs\/keep\/failure-report\.html$/m);
    expect(rerun.stderr).toMatch(
      /^ {2}published: {2}run keep's earlier results are still published, unchanged \(report: \S*runs\/keep\/report\.html\)$/m,
    );

    expect(await count('keep')).toBe(40);
    expect(await readFile(join(s3, 'runs/keep/report.html'), 'utf8')).toBe(report);
    expect(await readFile(join(s3, 'runs/keep/summary.json'), 'utf8')).toBe(summary);
    const failureReport = await readFile(join(s3, 'runs/keep/failure-report.html'), 'utf8');
    expect(failureReport).toContain('<h2 id="failure">What failed</h2>');
    const failure = JSON.parse(await readFile(join(s3, 'runs/keep/failure.json'), 'utf8'));
    expect(failure).toMatchObject({
      reportUri: 's3://local-pipeline/runs/keep/failure-report.html',
      publishedReportUri: 's3://local-pipeline/runs/keep/report.html',
    });
    expect((await runsListed()).find((r) => r.run_id === 'keep')).toMatchObject({
      status: 'SUCCEEDED (last attempt FAILED)',
      records: 40,
    });
    const table = await runCli(['runs'], home);
    expect(table.stdout).toMatch(/^keep +SUCCEEDED \(last attempt FAILED\) +\S+ +40 +/m);
    // The published rows still name the data they were scored from; the failed attempt's copy is gone.
    expect(await sources('keep')).toEqual([source]);
    expect(await lineCount(fileOf(source ?? ''))).toBe(40);
    expect((await runFiles('keep')).filter((f) => f.includes('/input/'))).toEqual([
      (source ?? '').slice('s3://local-pipeline/runs/keep/'.length),
    ]);
    expect(existsSync(join(s3, 'incoming'))).toBe(false);
  }, 240_000);

  it("makes a first run's failure report the run's report, and lists the run FAILED", async () => {
    const failed = await runCli(
      ['run', join(work, 'ragged.csv'), '--model', MODEL, '--run-id', 'fresh'],
      home,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^ {2}report: {5}\S*runs\/fresh\/report\.html$/m);
    expect(failed.stderr).not.toContain('published:');
    expect(await readFile(join(s3, 'runs/fresh/report.html'), 'utf8')).toContain('What failed');
    const files = await runFiles('fresh');
    expect(files).toContain('failure.json');
    expect(files).not.toContain('failure-report.html');
    expect(files).not.toContain('summary.json');
    // Nothing of the failed attempt is left: no scratch, no input copy.
    expect(files.filter((f) => f.startsWith('attempts/'))).toEqual([]);
    expect((await runsListed()).find((r) => r.run_id === 'fresh')).toMatchObject({
      status: 'FAILED',
      records: null,
    });
  }, 240_000);

  it('gives two runs of same-named files their own input copies, and runs rm deletes one run’s copy only', async () => {
    for (const [dir, runId] of [
      ['dirA', 'xa'],
      ['dirB', 'xb'],
    ] as const) {
      const result = await runCli(
        ['run', join(work, dir, 'data.csv'), '--model', MODEL, '--run-id', runId],
        home,
      );
      expect(result.code, result.stderr).toBe(0);
    }
    const [xa] = await sources('xa');
    const [xb] = await sources('xb');
    expect(xa).toMatch(/^s3:\/\/local-pipeline\/runs\/xa\/attempts\/[0-9a-f]{12}\/input\/data\.csv$/);
    expect(xb).toMatch(/^s3:\/\/local-pipeline\/runs\/xb\/attempts\/[0-9a-f]{12}\/input\/data\.csv$/);
    // Each copy holds its own run's records: records in = the rows its source names.
    expect(await count('xa')).toBe(20);
    expect(await lineCount(fileOf(xa ?? ''))).toBe(20);
    expect(await count('xb')).toBe(10);
    expect(await lineCount(fileOf(xb ?? ''))).toBe(10);
    expect(await readFile(fileOf(xa ?? ''), 'utf8')).toBe(`${csvLines.slice(1, 21).join('\n')}\n`);

    const removed = await runCli(['runs', 'rm', 'xb'], home);
    expect(removed.code, removed.stderr).toBe(0);
    expect(existsSync(fileOf(xb ?? ''))).toBe(false);
    expect(existsSync(join(s3, 'runs/xb'))).toBe(false);
    expect(await lineCount(fileOf(xa ?? ''))).toBe(20);
    expect(await count('xa')).toBe(20);
    expect(await sources('xa')).toEqual([xa]);
    expect(existsSync(join(s3, 'incoming'))).toBe(false);
    expect((await runsListed()).map((r) => r.run_id).sort()).toEqual(['fresh', 'keep', 'xa']);
  }, 240_000);
});
