/**
 * summary and label-counts read the counts ParseResults gathers while writing the rows (<table>_stats)
 * instead of reading every result row again. Checked against the same figures computed by DuckDB over
 * every row (the SQL these queries ran before), for binary labels over two jobs and two variants (the
 * plain row path), multiclass score lists (the checked path) and regression scores without labels.
 * score-histogram takes the run's score range from those statistics, and for probabilities their counts
 * per tenth (no row read); other scores are counted per bucket in one read of the rows: its buckets are
 * checked against the query it replaced, for probabilities (binary, multiclass) and regression.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerResultsTable } from '../../src/core/register-table.js';
import { parseTransformOutput } from '../../src/core/result-parsing.js';
import { runNamedQueries } from '../../src/core/run-queries.js';
import { DuckDbCatalog } from '../../src/local/duckdb-catalog.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import type { PartitionDefinition } from '../../src/ports.js';
import { createQueryLoader } from '../../src/query-files.js';

const TABLE = { database: 'local', table: 'predictions', resultsPrefix: 's3://bucket/results/' };
const ATTEMPT = '0123456789ab';
const loadQuery = createQueryLoader(join(import.meta.dirname, '../../queries'));

/** The figures over every row, as DuckDB computes them from the results themselves. */
const SUMMARY_OVER_ROWS = `
WITH run_rows AS (SELECT variant, score, label FROM predictions WHERE run_id = ?),
per_variant AS (
  SELECT variant, count(*) AS records, avg(score) AS mean_score, min(score) AS min_score, max(score) AS max_score
  FROM run_rows GROUP BY variant
),
per_label AS (SELECT variant, label, count(*) AS label_records FROM run_rows GROUP BY variant, label)
SELECT v.variant, v.records, v.mean_score, v.min_score, v.max_score, l.label, l.label_records,
  CAST(l.label_records AS double) / v.records AS label_share
FROM per_variant v JOIN per_label l ON l.variant = v.variant
ORDER BY v.variant, l.label NULLS LAST`;
const LABEL_COUNTS_OVER_ROWS = `
SELECT variant, label, count(*) AS records,
  CAST(count(*) AS double) / sum(count(*)) OVER (PARTITION BY variant) AS share
FROM predictions WHERE run_id = ?
GROUP BY variant, label
ORDER BY variant, records DESC, label NULLS LAST`;

/** score-histogram as it was, bucketing every row after joining it with the run's range. */
const HISTOGRAM_OVER_ROWS = `
WITH run_rows AS (
  SELECT variant, score
  FROM predictions
  WHERE run_id = ? AND score IS NOT NULL
),
span AS (
  SELECT
    CASE WHEN min(score) >= 0 AND max(score) <= 1 THEN CAST(0 AS double) ELSE min(score) END AS lo,
    CASE WHEN min(score) >= 0 AND max(score) <= 1 THEN CAST(1 AS double) ELSE max(score) END AS hi,
    CASE WHEN min(score) >= 0 AND max(score) <= 1 THEN 10 ELSE 20 END AS buckets
  FROM run_rows
),
bucketed AS (
  SELECT
    r.variant,
    CASE
      WHEN s.hi = s.lo THEN 0
      ELSE least(CAST(floor((r.score - s.lo) / (s.hi - s.lo) * s.buckets) AS integer), s.buckets - 1)
    END AS bucket
  FROM run_rows r
  CROSS JOIN span s
),
numbers AS (
  SELECT bucket FROM (
    VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9),
      (10), (11), (12), (13), (14), (15), (16), (17), (18), (19)
  ) AS b (bucket)
),
buckets AS (
  SELECT n.bucket, s.lo, s.hi, s.buckets
  FROM numbers n
  CROSS JOIN span s
  WHERE n.bucket < s.buckets
),
variants AS (
  SELECT DISTINCT variant FROM run_rows
)
SELECT
  v.variant,
  b.bucket,
  b.lo + (b.hi - b.lo) * b.bucket / b.buckets AS lower_bound,
  b.lo + (b.hi - b.lo) * (b.bucket + 1) / b.buckets AS upper_bound,
  count(x.bucket) AS records
FROM variants v
CROSS JOIN buckets b
LEFT JOIN bucketed x ON x.variant = v.variant AND x.bucket = b.bucket
GROUP BY v.variant, b.bucket, b.lo, b.hi, b.buckets
ORDER BY v.variant, b.bucket`;

interface Job {
  runId: string;
  variant: string;
  shardId: string;
  input: string;
  output: string;
  labels?: string[];
}

async function parsedJob(store: FileObjectStore, job: Job): Promise<PartitionDefinition> {
  const base = `s3://bucket/runs/${job.runId}/${job.variant}/${job.shardId}`;
  await store.put(`s3://bucket/incoming/${job.runId}/${job.shardId}.csv`, job.input);
  await store.put(`${base}/out/${job.shardId}.csv.out`, job.output);
  await store.put(
    `${base}/shard.manifest`,
    JSON.stringify([{ prefix: `s3://bucket/incoming/${job.runId}/` }, `${job.shardId}.csv`]),
  );
  const result = await parseTransformOutput(
    {
      runId: job.runId,
      runDate: '2024-05-01',
      attemptId: ATTEMPT,
      variant: job.variant,
      modelName: `model-${job.variant}`,
      shardId: job.shardId,
      inputManifestUri: `${base}/shard.manifest`,
      transformOutputPath: `${base}/out/`,
      contentType: 'text/csv',
      splitType: 'Line',
      compressionType: 'None',
      accept: 'text/csv',
      results: {
        table: TABLE.table,
        resultsPrefix: TABLE.resultsPrefix,
        threshold: 0.5,
        ...(job.labels ? { labels: job.labels } : {}),
      },
    },
    { store },
  );
  return result.partition;
}

/** n rows of two features, some empty; scores from a fixed sequence. */
function rows(n: number, score: (i: number) => string): { input: string; output: string } {
  const input: string[] = [];
  const output: string[] = [];
  for (let i = 0; i < n; i++) {
    input.push(i % 7 === 0 ? `,${i}` : `${i / 3},${i}`);
    output.push(score(i));
  }
  return { input: `${input.join('\n')}\n`, output: `${output.join('\n')}\n` };
}

describe('summary and label-counts from the statistics gathered while parsing', () => {
  let root: string;
  let store: FileObjectStore;
  let catalog: DuckDbCatalog;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'summary-stats-'));
    store = new FileObjectStore(join(root, 's3'));
    catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store);
    const jobs: Job[] = [
      // Binary: two variants, two jobs each (a variant's partition holds both shards).
      ...['a', 'b'].flatMap((variant, v) =>
        ['0000', '0001'].map((shardId, s) => ({
          runId: 'binary',
          variant,
          shardId,
          labels: ['no', 'yes'],
          ...rows(200 + 37 * s + v, (i) => `${(((i * 7919 + v * 13 + s) % 1000) / 999).toPrecision(6)}`),
        })),
      ),
      // Multiclass score lists: the checked path; the label is the arg-max class.
      {
        runId: 'multiclass',
        variant: 'm',
        shardId: '0000',
        labels: ['red', 'green', 'blue'],
        ...rows(150, (i) => {
          const a = ((i * 31) % 100) / 100;
          const b = ((i * 17) % 100) / 100;
          return `[${a},${b},${(1 - a / 2 - b / 2).toFixed(3)}]`;
        }),
      },
      // Regression: no labels, scores outside [0, 1].
      {
        runId: 'regression',
        variant: 'r',
        shardId: '0000',
        ...rows(120, (i) => `${(i * 12.5 - 300) / 7}`),
      },
    ];
    const byRun = new Map<string, PartitionDefinition[]>();
    for (const job of jobs) {
      const partition = await parsedJob(store, job);
      const list = byRun.get(job.runId) ?? [];
      if (!list.some((p) => p.location === partition.location)) list.push(partition);
      byRun.set(job.runId, list);
    }
    for (const [runId, partitions] of byRun) {
      await registerResultsTable(
        {
          ...TABLE,
          runId,
          runDate: '2024-05-01',
          attemptId: ATTEMPT,
          runPrefix: `s3://bucket/runs/${runId}/`,
          partitions,
          files: [],
        },
        { catalog, store },
      );
    }
  }, 120_000);

  afterAll(async () => {
    await catalog.close();
    await rm(root, { recursive: true, force: true });
  });

  for (const runId of ['binary', 'multiclass', 'regression']) {
    it(`gives the figures computed over every row (${runId})`, async () => {
      const answers = await runNamedQueries(
        { runId, table: 'predictions', queries: ['summary', 'label-counts'] },
        { queryEngine: catalog, loadQuery },
      );
      const summaryOverRows = await catalog.runQuery(SUMMARY_OVER_ROWS, [runId]);
      const countsOverRows = await catalog.runQuery(LABEL_COUNTS_OVER_ROWS, [runId]);

      expect(answers.summary?.rows.length).toBeGreaterThan(0);
      expect(answers.summary?.columns).toEqual(summaryOverRows.columns);
      expect(answers.summary?.rows.map(close)).toEqual(summaryOverRows.rows.map(close));
      expect(answers['label-counts']?.columns).toEqual(countsOverRows.columns);
      expect(answers['label-counts']?.rows.map(close)).toEqual(countsOverRows.rows.map(close));
    });

    it(`gives score-histogram's buckets as counted over every row (${runId})`, async () => {
      const { 'score-histogram': histogram } = await runNamedQueries(
        { runId, table: 'predictions', queries: ['score-histogram'] },
        { queryEngine: catalog, loadQuery },
      );
      const overRows = await catalog.runQuery(HISTOGRAM_OVER_ROWS, [runId]);

      expect(histogram?.rows.length).toBeGreaterThanOrEqual(10);
      expect(histogram?.columns).toEqual(overRows.columns);
      expect(histogram?.rows).toEqual(overRows.rows);
    });
  }

  it('counts rows without a label as a NULL label (regression)', async () => {
    const { summary } = await runNamedQueries(
      { runId: 'regression', table: 'predictions', queries: ['summary'] },
      { queryEngine: catalog, loadQuery },
    );
    expect(summary?.rows).toEqual([
      expect.objectContaining({ records: 120, label: null, label_records: 120 }),
    ]);
  });
});

/** Means agree to 12 significant digits (a weighted mean of job means against one sum); counts exactly. */
function close(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [
      key,
      typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(12)) : value,
    ]),
  );
}
