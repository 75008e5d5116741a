import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryRow } from '../../src/ports.js';
import { runCli } from '../helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/evaluation');

interface Expected {
  figures: Record<string, number | Record<string, Record<string, number>>>;
}

/**
 * A whole local run of a fixture (the built-in XGBoost server scoring, ParseResults, DuckDB), its
 * evaluation query answered in the run's summary. The server's scores equal XGBoost's to float32
 * rounding, so continuous figures agree with scikit-learn's to 1e-6 and counts exactly (the fixture
 * script checks no score lies within 1e-4 of the threshold).
 */
async function runFixture(
  home: string,
  kind: string,
): Promise<{ rows: QueryRow[]; expected: Expected; stdout: string }> {
  const folder = join(FIXTURES, kind);
  const result = await runCli(
    [
      'run',
      join(folder, 'input.csv'),
      '--model',
      join(folder, 'xgboost-model.json'),
      '--request',
      join(folder, 'request.json'),
      '--run-id',
      `eval-${kind}`,
    ],
    home,
  );
  if (result.code !== 0) throw new Error(`the ${kind} run failed: ${result.stderr}${result.stdout}`);
  const summary = JSON.parse(
    await readFile(join(home, `s3/local-pipeline/runs/eval-${kind}/summary.json`), 'utf8'),
  ) as { queries: Record<string, { rows: QueryRow[] }> };
  const expected = JSON.parse(await readFile(join(folder, 'expected.json'), 'utf8')) as Expected;
  return { rows: summary.queries.evaluation?.rows ?? [], expected, stdout: result.stdout };
}

function value(rows: QueryRow[], metric: string): number {
  const row = rows.find((r) => r.metric === metric);
  if (!row) throw new Error(`no ${metric} in ${JSON.stringify(rows)}`);
  return row.value as number;
}

function cells(rows: QueryRow[]): Record<string, number> {
  return Object.fromEntries(
    rows
      .filter((r) => r.metric === 'count')
      .map((r) => [`${r.actual_class}→${r.predicted_class}`, r.value as number]),
  );
}

function expectedCells(matrix: Record<string, Record<string, number>>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(matrix).flatMap(([a, row]) =>
      Object.entries(row)
        .filter(([, n]) => n > 0)
        .map(([p, n]) => [`${a}→${p}`, n]),
    ),
  );
}

describe('npm start -- run with an actual column: evaluation equal to scikit-learn', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'evaluation-e2e-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('measures a binary model run through the pipeline', async () => {
    const { rows, expected } = await runFixture(home, 'binary');
    const f = expected.figures;
    expect(cells(rows)).toEqual(expectedCells(f.confusion as Record<string, Record<string, number>>));
    for (const metric of ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss']) {
      expect(Math.abs(value(rows, metric) - (f[metric] as number)), metric).toBeLessThan(1e-6);
    }
  }, 120_000);

  it('measures a multiclass model and a regression model run through the pipeline', async () => {
    const multiclass = await runFixture(home, 'multiclass');
    expect(cells(multiclass.rows)).toEqual(
      expectedCells(multiclass.expected.figures.confusion as Record<string, Record<string, number>>),
    );
    expect(value(multiclass.rows, 'accuracy')).toBeCloseTo(
      multiclass.expected.figures.accuracy as number,
      12,
    );

    // Regression targets are about 25-350: float32 scores are off by up to ~1e-5 there.
    const regression = await runFixture(home, 'regression');
    for (const metric of ['mae', 'rmse', 'r2']) {
      expect(
        Math.abs(value(regression.rows, metric) - (regression.expected.figures[metric] as number)),
        metric,
      ).toBeLessThan(1e-4);
    }
  }, 180_000);
});

describe('npm start -- run with --actual-column, --baseline and --price-per-hour', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'evaluation-flags-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('measures, compares with the named baseline and prices a run of a CSV with a header', async () => {
    // The binary fixture as pandas writes it with index=False: a header naming every column.
    const folder = join(FIXTURES, 'binary');
    const request = JSON.parse(await readFile(join(folder, 'request.json'), 'utf8')) as {
      results: { featureNames: string[] };
    };
    const csv = join(home, 'scored.csv');
    await writeFile(
      csv,
      `${request.results.featureNames.join(',')}\n${await readFile(join(folder, 'input.csv'), 'utf8')}`,
    );
    const run = (runId: string, extra: string[]) =>
      runCli(
        [
          'run',
          csv,
          '--model',
          join(folder, 'xgboost-model.json'),
          '--run-id',
          runId,
          '--id-column',
          'record_id',
          '--actual-column',
          'outcome',
          '--labels',
          'malignant,benign',
          ...extra,
        ],
        home,
      );
    const first = await run('first', []);
    expect(first.code, first.stderr).toBe(0);
    const second = await run('second', ['--baseline', 'first', '--price-per-hour', '0.5']);
    expect(second.code, second.stderr).toBe(0);

    const summary = JSON.parse(
      await readFile(join(home, 's3/local-pipeline/runs/second/summary.json'), 'utf8'),
    ) as { completion: { billableSeconds: number; pricePerHour: number; cost: number } };
    expect(summary.completion.pricePerHour).toBe(0.5);
    expect(summary.completion.cost).toBeCloseTo((summary.completion.billableSeconds * 0.5) / 3600, 12);
    const report = await readFile(join(home, 's3/local-pipeline/runs/second/report.html'), 'utf8');
    const expected = JSON.parse(await readFile(join(folder, 'expected.json'), 'utf8')) as Expected;
    // Same data, same model: accuracy as scikit-learn's, and no drift against the named baseline.
    expect(report).toContain(
      `<td>Accuracy</td><td class="n">${(expected.figures.accuracy as number).toFixed(4)}</td>`,
    );
    expect(report).toContain('xgboost-model against run first');
    expect(report).toContain('No feature moved: every PSI is at most 0.2.');
    expect(report).toContain('<td>True outcome column</td><td>outcome</td>');
  }, 180_000);
});
