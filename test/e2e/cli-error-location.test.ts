import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureRecord } from '../../src/core/record-failure.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { queryJson, runCli } from '../helpers/cli.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/cli');
const MODEL = join(FIXTURES, 'model.json');

/**
 * Where a bad record is, as the user is told: a pandas to_csv file (header and index column,
 * scripts/make_cli_fixtures.py) with "n/a" in "mean compactness" on line 12, the 7th field of the line
 * and the 6th the model gets (the index is kept from it). The terminal and failure.json name the same
 * file, line and column; nothing of the run is published.
 */
describe('a CSV cell of text, located in the user terms', () => {
  let work: string;
  let home: string;
  let s3: string;
  let bad: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cli-location-'));
    home = join(work, 'home');
    s3 = join(home, 's3/local-pipeline');
    bad = join(work, 'text-cell.csv');
    await copyFile(join(FIXTURES, 'text-cell.csv'), bad);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("names the file, its line, the header's column and the fix, the same on the terminal and in failure.json", async () => {
    // A published run first, so the results table exists and "nothing published" is a query.
    const ok = await runCli(['run', join(FIXTURES, 'test.csv'), '--model', MODEL, '--run-id', 'ok'], home);
    expect(ok.code, ok.stderr).toBe(0);

    const result = await runCli(['run', bad, '--model', MODEL], home);
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n');
    expect(lines[1]).toMatch(/^Run text-cell FAILED after [\d.]+s in RunTransforms:$/);
    const message = (lines[2] ?? '').trim();
    expect(message).toContain(`${bad} line 12 (record 11 of the request for lines 2-41 (40 records))`);
    expect(message).toContain(
      'Record 11 has a non-numeric value in column "mean compactness" (field 7): "n/a". ' +
        'The model reads numbers only: write a number there, or leave the cell empty for a missing value ' +
        '(pandas: df["mean compactness"] = pd.to_numeric(df["mean compactness"], errors="coerce"))',
    );
    expect(message).not.toContain('s3://');

    const failure = JSON.parse(
      await readFile(join(s3, 'runs/text-cell/failure.json'), 'utf8'),
    ) as FailureRecord;
    // The record says what the terminal says, word for word: the same file, line and column.
    expect(failure.message).toBe(message);
    const located = (text: string) => /(\S+) line (\d+) /.exec(text)?.slice(1);
    expect(located(failure.message)).toEqual([bad, '12']);
    // Nothing in it names the store's header-free copy, whose lines are one fewer.
    expect(JSON.stringify(failure)).not.toMatch(/attempts\/[0-9a-f]{12}\/input\//);
    expect(failure.cause).toContain(`${bad} line 12 `);
    expect(failure.cause).not.toContain('line 11 ');
    expect(failure.mapRun?.cause).toContain(`${bad} line 12 `);

    // The failure report shows what the run planned and where it failed, and names the user's file, not
    // the store's copy (deleted with the attempt).
    const report = await readFile(join(s3, 'runs/text-cell/report.html'), 'utf8');
    expect(report).not.toContain('failed before its jobs were planned');
    expect(report).toMatch(
      /1 transform job\(s\) for 1 variant\(s\): \w+\. The run failed at RunTransforms \(running the transform jobs\)\./,
    );
    expect(report).toMatch(/<table id="planned-jobs">[\s\S]*<td>text-cell-\w+-0000-[0-9a-f]{6}<\/td>/);
    expect(report).toContain(`<tr><td>Input</td><td>${bad}</td></tr>`);
    expect(report).not.toMatch(/attempts\/[0-9a-f]{12}\/input\//);
    // The published run's report names the user's file too, not the pipeline's header-free copy.
    const okReport = await readFile(join(s3, 'runs/ok/report.html'), 'utf8');
    expect(okReport).toContain(`<tr><td>Input</td><td>${join(FIXTURES, 'test.csv')}</td></tr>`);

    // The runs listing, which reads failure.json, agrees too.
    const { stdout } = await runCli(['runs', '--format', 'json'], home);
    const listed = (JSON.parse(stdout) as Array<{ run_id: string; status: string; detail: string }>).find(
      (r) => r.run_id === 'text-cell',
    );
    expect(listed).toMatchObject({ status: 'FAILED', detail: `RunTransforms: ${message}` });

    // Nothing published: no rows, no result files, no scratch or input copy left.
    const rows = await queryJson<{ n: number }>(
      home,
      'SELECT count(*) AS n FROM predictions WHERE run_id = ?',
      ['text-cell'],
    );
    expect(rows[0]?.n).toBe(0);
    const results = await readdir(join(s3, 'results'), { recursive: true });
    expect(results.filter((f) => f.includes('run_id=text-cell'))).toEqual([]);
    expect(existsSync(join(s3, 'runs/text-cell/attempts'))).toBe(false);
    expect((await readdir(join(s3, 'runs/text-cell'))).sort()).toEqual([
      'failure.json',
      'plan.json',
      'report.html',
      'request.json',
    ]);
  }, 240_000);
});
