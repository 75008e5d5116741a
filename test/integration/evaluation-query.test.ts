import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerResultsTable } from '../../src/core/register-table.js';
import { parseTransformOutput } from '../../src/core/result-parsing.js';
import { runNamedQuery } from '../../src/core/run-queries.js';
import { DuckDbCatalog } from '../../src/local/duckdb-catalog.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import type { QueryRow } from '../../src/ports.js';
import { createQueryLoader } from '../../src/query-files.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/evaluation');
const loadQuery = createQueryLoader(join(import.meta.dirname, '../../queries'));
const TABLE = { database: 'local', table: 'predictions', resultsPrefix: 's3://bucket/results/' };

/** What scripts/make_evaluation_fixtures.py wrote: XGBoost's scores and scikit-learn's figures on them. */
interface Expected {
  kind: 'binary' | 'multiclass' | 'regression';
  scores: (number | number[])[];
  actual: string[];
  figures: Record<string, number | Record<string, Record<string, number>>>;
}

async function fixture(
  kind: string,
): Promise<{ expected: Expected; input: string; results: Record<string, unknown> }> {
  const expected = JSON.parse(await readFile(join(FIXTURES, kind, 'expected.json'), 'utf8')) as Expected;
  const input = await readFile(join(FIXTURES, kind, 'input.csv'), 'utf8');
  const request = JSON.parse(await readFile(join(FIXTURES, kind, 'request.json'), 'utf8')) as {
    results: Record<string, unknown>;
  };
  return { expected, input, results: request.results };
}

/**
 * The fixture's input joined with XGBoost's own scores (as the transform's output) by the real
 * ParseResults, registered in DuckDB: the evaluation query then reads exactly the scores scikit-learn
 * measured, so the figures must agree to rounding.
 */
async function evaluate(
  store: FileObjectStore,
  catalog: DuckDbCatalog,
  kind: string,
): Promise<{ rows: QueryRow[]; expected: Expected }> {
  const { expected, input, results } = await fixture(kind);
  const runId = `eval-${kind}`;
  const base = `s3://bucket/runs/${runId}`;
  await store.put(`s3://bucket/incoming/${kind}/input.csv`, input);
  const output = expected.scores.map((s) => (Array.isArray(s) ? s.join(',') : String(s))).join('\n');
  await store.put(`${base}/transform/v/input.csv.out`, `${output}\n`);
  await store.put(
    `${base}/shard.manifest`,
    JSON.stringify([{ prefix: `s3://bucket/incoming/${kind}/` }, 'input.csv']),
  );
  const parsed = await parseTransformOutput(
    {
      runId,
      runDate: '2026-11-30',
      attemptId: '0123456789ab',
      variant: 'v',
      modelName: 'model-v',
      shardId: '0000',
      inputManifestUri: `${base}/shard.manifest`,
      transformOutputPath: `${base}/transform/v/`,
      contentType: 'text/csv',
      splitType: 'Line',
      compressionType: 'None',
      accept: 'text/csv',
      results: { ...results, table: TABLE.table, resultsPrefix: TABLE.resultsPrefix, threshold: 0.5 },
    },
    { store },
  );
  await registerResultsTable(
    {
      ...TABLE,
      runId,
      runDate: '2026-11-30',
      attemptId: '0123456789ab',
      runPrefix: `${base}/`,
      partitions: [parsed.partition],
      files: parsed.files,
    },
    { catalog, store },
  );
  const answer = await runNamedQuery({ name: 'evaluation', parameters: { run_id: runId } }, TABLE.table, {
    queryEngine: catalog,
    loadQuery,
  });
  return { rows: answer.rows, expected };
}

function figure(rows: QueryRow[], metric: string): number {
  const row = rows.find((r) => r.metric === metric);
  if (!row) throw new Error(`no ${metric} row in ${JSON.stringify(rows)}`);
  return row.value as number;
}

function confusion(rows: QueryRow[]): Record<string, Record<string, number>> {
  const matrix: Record<string, Record<string, number>> = {};
  for (const row of rows.filter((r) => r.metric === 'count')) {
    const actual = String(row.actual_class);
    matrix[actual] = { ...matrix[actual], [String(row.predicted_class)]: row.value as number };
  }
  return matrix;
}

/** scikit-learn lists every cell; the query lists the cells that hold records. */
function nonZero(matrix: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  return Object.fromEntries(
    Object.entries(matrix).map(([a, row]) => [
      a,
      Object.fromEntries(Object.entries(row).filter(([, n]) => n > 0)),
    ]),
  );
}

describe('the evaluation query against scikit-learn on the same scores', () => {
  let dir: string;
  let store: FileObjectStore;
  let catalog: DuckDbCatalog;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evaluation-'));
    store = new FileObjectStore(join(dir, 's3'));
    catalog = await DuckDbCatalog.open(join(dir, 'catalog.duckdb'), store);
  });
  afterAll(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives a binary model the confusion matrix, accuracy, precision, recall, F1, ROC AUC and log loss', async () => {
    const { rows, expected } = await evaluate(store, catalog, 'binary');
    const f = expected.figures;

    expect(rows.every((r) => r.variant === 'v' && r.model_kind === 'binary')).toBe(true);
    expect(confusion(rows)).toEqual(nonZero(f.confusion as Record<string, Record<string, number>>));
    for (const metric of ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss']) {
      expect(Math.abs(figure(rows, metric) - (f[metric] as number)), metric).toBeLessThan(1e-9);
    }
    expect(rows.find((r) => r.metric === 'accuracy')?.records).toBe(f.records);
  });

  it('gives a multiclass model the confusion matrix by class label and the accuracy', async () => {
    const { rows, expected } = await evaluate(store, catalog, 'multiclass');
    const f = expected.figures;

    // The fixture's true outcomes are class indexes: stored as their labels, they meet the predicted labels.
    expect(confusion(rows)).toEqual(nonZero(f.confusion as Record<string, Record<string, number>>));
    expect(Math.abs(figure(rows, 'accuracy') - (f.accuracy as number))).toBeLessThan(1e-12);
  });

  it('gives a regression model MAE, RMSE and R²', async () => {
    const { rows, expected } = await evaluate(store, catalog, 'regression');
    const f = expected.figures;

    expect(rows.map((r) => r.metric)).toEqual(['mae', 'rmse', 'r2']);
    for (const metric of ['mae', 'rmse', 'r2']) {
      expect(Math.abs(figure(rows, metric) - (f[metric] as number)), metric).toBeLessThan(1e-9);
    }
  });
});
