/**
 * CSV headers against the model, through `npm start -- run`, with files pandas writes
 * (scripts/make_cli_fixtures.py): pandas' header of unnamed columns (`0,1,…,29`, a numpy array's
 * DataFrame) is a header, not a record; a header naming the model's features in another order is
 * refused before anything runs, as XGBoost refuses it (feature_names mismatch).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { queryJson, runCli } from '../helpers/cli.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/cli');
const MODEL = join(FIXTURES, 'model.json');

interface Row {
  id: string | null;
  record: number;
  score: number;
}

describe('CSV headers against the model', () => {
  let home: string;
  /** XGBoost's predict_proba(X_test)[:, 1] by pandas index, in X_test's order. */
  let expected: Map<string, number>;

  const rowsOf = (runId: string) =>
    queryJson<Row>(
      home,
      'SELECT id, record, score FROM predictions WHERE run_id = ? ORDER BY source, record',
      [runId],
    );

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-names-'));
    const lines = (await readFile(join(FIXTURES, 'expected.csv'), 'utf8')).trim().split('\n').slice(1);
    expected = new Map(lines.map((l) => l.split(',') as [string, string]).map(([id, p]) => [id, Number(p)]));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it("takes pandas' header 0,1,…,29 of unnamed columns for a header: every record scored, none made up", async () => {
    const result = await runCli(['run', join(FIXTURES, 'numbered.csv'), '--model', MODEL], home);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "header found: 30 columns (0, 1, 2, 3, …): pandas' numbers of unnamed columns (if line 1 is data, give --no-header)",
    );
    expect(result.stdout).toMatch(/records: 40 in, 40 out/);
    const rows = await rowsOf('numbered');
    expect(rows.map((r) => r.record)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(rows.map((r) => r.id)).toEqual(new Array(40).fill(null));
    for (const [i, row] of rows.entries()) {
      expect(Math.abs(row.score - ([...expected.values()][i] as number))).toBeLessThan(1e-6);
    }
  }, 180_000);

  it("takes pandas' default ,0,1,…,29 for a header and the index column for the record ids", async () => {
    const result = await runCli(['run', join(FIXTURES, 'numbered-index.csv'), '--model', MODEL], home);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/header found: 31 columns \(index, 0, 1, 2, …\)/);
    expect(result.stdout).toMatch(/record id: the unnamed first column \(pandas' index\)/);
    expect(result.stdout).toMatch(/records: 40 in, 40 out/);
    const rows = await rowsOf('numbered-index');
    expect(rows.map((r) => r.id)).toEqual([...expected.keys()]);
    for (const row of rows) {
      expect(Math.abs(row.score - (expected.get(String(row.id)) as number))).toBeLessThan(1e-6);
    }
  }, 180_000);

  it("refuses the model's feature names in another order before anything runs, keeping a published run", async () => {
    const first = await runCli(
      ['run', join(FIXTURES, 'test.csv'), '--model', MODEL, '--run-id', 'reordered'],
      home,
    );
    expect(first.code).toBe(0);
    const runFolder = join(home, 's3/local-pipeline/runs/reordered');
    const before = (await readdir(runFolder, { recursive: true })).sort();

    const file = join(FIXTURES, 'reordered.csv');
    const result = await runCli(['run', file, '--model', MODEL, '--run-id', 'reordered'], home);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `${file}: its header has the model's feature names in another order (feature_names of ${MODEL}): ` +
        'column 1 is "worst fractal dimension", the model\'s feature 1 is "mean radius"; ' +
        'column 2 is "worst symmetry", the model\'s feature 2 is "mean texture"; ' +
        'column 3 is "worst concave points", the model\'s feature 3 is "mean perimeter"; and 27 more. ' +
        'Scored as it is, the model would read values as other features; XGBoost refuses such data ' +
        "(feature_names mismatch). To fix: write the columns in the model's order, e.g. in Python " +
        'df[booster.feature_names].to_csv(...)',
    );
    // The earlier run's results are as they were, and the refused run wrote nothing (no input copy).
    const rows = await rowsOf('reordered');
    expect(rows.map((r) => r.id)).toEqual([...expected.keys()]);
    expect((await readdir(runFolder, { recursive: true })).sort()).toEqual(before);

    // A UBJSON model keeps its feature names too, and is checked the same way.
    const ubj = await runCli(
      ['run', file, '--model', join(FIXTURES, 'model.ubj'), '--run-id', 'reordered'],
      home,
    );
    expect(ubj.code).toBe(2);
    expect(ubj.stderr).toContain(
      `its header has the model's feature names in another order (feature_names of ${join(FIXTURES, 'model.ubj')}): column 1 is "worst fractal dimension"`,
    );
  }, 180_000);

  it('scores the columns in file order with --ignore-feature-names', async () => {
    const result = await runCli(
      ['run', join(FIXTURES, 'reordered.csv'), '--model', MODEL, '--ignore-feature-names'],
      home,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/records: 40 in, 40 out/);
  }, 180_000);

  it('refuses a named id column a model without feature names would take as a feature, naming --id-column', async () => {
    // The sample model was trained on a numpy array: no names to compare, but 30 features.
    const sampleModel = join(PROJECT_ROOT, 'examples/model/xgboost-model.json');
    const refused = await runCli(['run', join(FIXTURES, 'test-id.csv'), '--model', sampleModel], home);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `${join(FIXTURES, 'test-id.csv')}: the model would get 31 columns, but ${sampleModel} has 30 features. ` +
        'If a column is not a feature, keep it from the model: --id-column NAME for an id ' +
        '(e.g. --id-column "patient_id" if "patient_id" is one), --actual-column NAME for the true outcome.',
    );
    expect(await readdir(join(home, 's3/local-pipeline/runs'))).not.toContain('test-id');

    const fixed = await runCli(
      ['run', join(FIXTURES, 'test-id.csv'), '--model', sampleModel, '--id-column', 'patient_id'],
      home,
    );
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/records: 40 in, 40 out/);
  }, 180_000);
});
