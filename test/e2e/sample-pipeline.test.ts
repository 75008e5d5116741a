import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { type CliResult, runCli } from '../helpers/cli.js';

const SAMPLE = join(PROJECT_ROOT, 'examples/sample');

describe('npm start (the sample pipeline)', () => {
  let home: string;
  let first: CliResult;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'e2e-'));
    first = await runCli([], home);
  }, 120_000);
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('succeeds and reports 569 records in and 569 out', () => {
    expect(first.stderr).not.toMatch(/Error/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Run sample SUCCEEDED/);
    expect(first.stdout).toMatch(/records: 569 in, 569 out/);
  });

  it('stores the predictions XGBoost itself makes for every sample row, in input order', async () => {
    const expected = (await readFile(join(SAMPLE, 'expected-predictions.csv'), 'utf8'))
      .trim()
      .split('\n')
      .map(Number);
    const { stdout, code } = await runCli(
      [
        'query',
        'SELECT source, record, score, label FROM predictions WHERE run_id = ? ORDER BY source, record',
        '--param',
        'sample',
      ],
      home,
    );
    expect(code).toBe(0);
    const rows = stdout
      .trim()
      .split('\n')
      .slice(2, -1)
      .map((line) => line.trim().split(/\s+/));
    expect(rows).toHaveLength(569);
    const scores = rows.map((r) => Number(r[2]));
    for (let i = 0; i < expected.length; i += 1) expect(scores[i]).toBeCloseTo(expected[i] ?? Number.NaN, 4);
    const labels = rows.map((r) => r[3]);
    expect(labels).toEqual(expected.map((p) => (p >= 0.5 ? 'benign' : 'malignant')));
  });

  it('replaces, not duplicates, the results when the same run id runs again', async () => {
    const again = await runCli([], home);
    expect(again.code).toBe(0);
    const { stdout } = await runCli(['query', 'SELECT count(*) AS n FROM predictions'], home);
    expect(stdout).toMatch(/^n\s*\n-+\s*\n569\s*$/m);
  }, 120_000);

  it('fails with a message naming the file and line when a record is bad, and publishes nothing', async () => {
    const badHome = await mkdtemp(join(tmpdir(), 'e2e-bad-'));
    try {
      const dataDir = await mkdtemp(join(tmpdir(), 'e2e-data-'));
      const lines = (await readFile(join(SAMPLE, 'input/part-0001.csv'), 'utf8')).split('\n');
      lines[2] = lines[2]?.replace(/^[^,]+/, 'abc') ?? '';
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(dataDir, 'bad.csv'), lines.join('\n'));
      const result = await runCli(
        [
          'run',
          join(dataDir, 'bad.csv'),
          '--model',
          join(PROJECT_ROOT, 'examples/model/xgboost-model.json'),
          '--run-id',
          'bad',
        ],
        badHome,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^Run bad FAILED after [\d.]+s in RunTransforms:$/m);
      expect(result.stderr).toMatch(/bad\.csv/);
      expect(result.stderr).toMatch(/abc/);
      const { readdir } = await import('node:fs/promises');
      const results = await readdir(join(badHome, 's3/local-pipeline/results'), { recursive: true }).catch(
        () => [],
      );
      expect(results.filter((f) => String(f).endsWith('.json'))).toEqual([]);
      const failure = JSON.parse(
        await readFile(join(badHome, 's3/local-pipeline/runs/bad/failure.json'), 'utf8'),
      );
      expect(failure).toMatchObject({
        runId: 'bad',
        failedState: 'RunTransforms',
        error: 'States.TaskFailed',
      });
      await rm(dataDir, { recursive: true, force: true });
    } finally {
      await rm(badHome, { recursive: true, force: true });
    }
  }, 120_000);
});
