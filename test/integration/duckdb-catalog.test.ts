import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { registerResultsTable } from '../../src/core/register-table.js';
import { commitAttempt } from '../../src/core/register-table-commit.js';
import { parseTransformOutput } from '../../src/core/result-parsing.js';
import { resultsTableDefinition } from '../../src/core/results-table.js';
import { runNamedQueries, runNamedQuery } from '../../src/core/run-queries.js';
import { QueryFailedError } from '../../src/errors.js';
import { DuckDbCatalog } from '../../src/local/duckdb-catalog.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import type { PartitionDefinition } from '../../src/ports.js';
import { createQueryLoader } from '../../src/query-files.js';

const QUERIES_DIR = join(import.meta.dirname, '../../queries');
const TABLE = { database: 'local', table: 'predictions', resultsPrefix: 's3://bucket/results/' };
const loadQuery = createQueryLoader(QUERIES_DIR);
const ATTEMPT = '0123456789ab';

/** RegisterTable for each run among `partitions` (one call per run, as the pipeline makes). */
async function registerRuns(
  catalog: DuckDbCatalog,
  store: FileObjectStore,
  partitions: PartitionDefinition[],
  attemptId = ATTEMPT,
): Promise<void> {
  const runs = new Map<string, PartitionDefinition[]>();
  for (const p of partitions) runs.set(p.values[1] ?? '', [...(runs.get(p.values[1] ?? '') ?? []), p]);
  for (const [runId, ofRun] of runs) {
    await registerResultsTable(
      {
        ...TABLE,
        runId,
        runDate: '2024-05-01',
        attemptId,
        runPrefix: `s3://bucket/runs/${runId}/`,
        partitions: ofRun,
        files: [],
      },
      { catalog, store },
    );
  }
}

/**
 * Writes one transform job's input and output and parses them into the results table's layout, as the
 * pipeline does: the rows queried below are the real ParseResults output.
 */
async function parsedJob(
  store: FileObjectStore,
  run: { runId: string; variant: string; attemptId?: string },
  input: string,
  output: string,
): Promise<PartitionDefinition> {
  const base = `s3://bucket/runs/${run.runId}`;
  await store.put('s3://bucket/incoming/a.csv', input);
  await store.put(`${base}/transform/${run.variant}/a.csv.out`, output);
  await store.put(`${base}/shard.manifest`, JSON.stringify([{ prefix: 's3://bucket/incoming/' }, 'a.csv']));
  const result = await parseTransformOutput(
    {
      runId: run.runId,
      runDate: '2024-05-01',
      attemptId: run.attemptId ?? ATTEMPT,
      variant: run.variant,
      modelName: `model-${run.variant}`,
      shardId: '0000',
      inputManifestUri: `${base}/shard.manifest`,
      transformOutputPath: `${base}/transform/${run.variant}/`,
      contentType: 'text/csv',
      splitType: 'Line',
      compressionType: 'None',
      accept: 'text/csv',
      results: {
        table: TABLE.table,
        resultsPrefix: TABLE.resultsPrefix,
        threshold: 0.5,
        labels: ['no', 'yes'],
      },
    },
    { store },
  );
  return result.partition;
}

const INPUT = '1,10\n2,20\n3,30\n4,40\n';

describe('DuckDbCatalog with the named queries', () => {
  let root: string;
  let store: FileObjectStore;
  let catalog: DuckDbCatalog;
  let partitions: PartitionDefinition[];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'duckdb-catalog-'));
    store = new FileObjectStore(join(root, 's3'));
    catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store);
    // run-1: two variants over the same four records.
    const champion = await parsedJob(
      store,
      { runId: 'run-1', variant: 'champion' },
      INPUT,
      '0.9\n0.2\n0.6\n0.05\n',
    );
    const challenger = await parsedJob(
      store,
      { runId: 'run-1', variant: 'challenger' },
      INPUT,
      '0.8\n0.7\n0.3\n1.0\n',
    );
    // run-2: one variant, registered too.
    const other = await parsedJob(
      store,
      { runId: 'run-2', variant: 'champion' },
      INPUT,
      '0.5\n0.5\n0.5\n0.5\n',
    );
    // dead-run: its files exist under the table's location but it never registered its partition.
    await parsedJob(store, { runId: 'dead-run', variant: 'champion' }, INPUT, '0.1\n0.1\n0.1\n0.1\n');
    partitions = [champion, challenger, other];
    await registerRuns(catalog, store, partitions);
  });

  afterAll(async () => {
    await catalog.close();
    await rm(root, { recursive: true, force: true });
  });

  it('shows the rows of registered partitions, with partition values as columns', async () => {
    const { rows } = await catalog.runQuery(
      'SELECT run_id, variant, count(*) AS records FROM predictions GROUP BY run_id, variant ORDER BY run_id, variant',
    );

    expect(rows).toEqual([
      { run_id: 'run-1', variant: 'challenger', records: 4 },
      { run_id: 'run-1', variant: 'champion', records: 4 },
      { run_id: 'run-2', variant: 'champion', records: 4 },
    ]);
  });

  it('does not show files of a partition that was never registered', async () => {
    const { rows } = await catalog.runQuery('SELECT count(*) AS n FROM predictions WHERE run_id = ?', [
      'dead-run',
    ]);

    expect(rows).toEqual([{ n: 0 }]);
  });

  it('returns rows with the definition types: numbers, strings, and lists as JSON text', async () => {
    const { columns, rows } = await catalog.runQuery(
      'SELECT * FROM local.predictions WHERE run_id = ? AND variant = ? AND record = ?',
      ['run-1', 'champion', 2],
    );

    expect(columns).toEqual([
      'id',
      'source',
      'record',
      'features',
      'score',
      'scores',
      'label',
      'model',
      'actual',
      'run_date',
      'run_id',
      'variant',
    ]);
    expect(rows).toEqual([
      {
        id: null,
        source: 's3://bucket/incoming/a.csv',
        record: 2,
        features: '[2,20]',
        score: 0.2,
        scores: null,
        label: 'no',
        model: 'model-champion',
        actual: null,
        run_date: '2024-05-01',
        run_id: 'run-1',
        variant: 'champion',
      },
    ]);
  });

  it('answers summary per variant with score statistics and label counts', async () => {
    const { summary } = await runNamedQueries(
      { runId: 'run-1', table: 'predictions', queries: ['summary'] },
      { queryEngine: catalog, loadQuery },
    );

    expect(summary?.columns).toEqual([
      'variant',
      'records',
      'mean_score',
      'min_score',
      'max_score',
      'label',
      'label_records',
      'label_share',
    ]);
    const rounded = summary?.rows.map((r) => ({ ...r, mean_score: round(r.mean_score) }));
    expect(rounded).toEqual([
      {
        variant: 'challenger',
        records: 4,
        mean_score: 0.7,
        min_score: 0.3,
        max_score: 1,
        label: 'no',
        label_records: 1,
        label_share: 0.25,
      },
      {
        variant: 'challenger',
        records: 4,
        mean_score: 0.7,
        min_score: 0.3,
        max_score: 1,
        label: 'yes',
        label_records: 3,
        label_share: 0.75,
      },
      {
        variant: 'champion',
        records: 4,
        mean_score: 0.4375,
        min_score: 0.05,
        max_score: 0.9,
        label: 'no',
        label_records: 2,
        label_share: 0.5,
      },
      {
        variant: 'champion',
        records: 4,
        mean_score: 0.4375,
        min_score: 0.05,
        max_score: 0.9,
        label: 'yes',
        label_records: 2,
        label_share: 0.5,
      },
    ]);
  });

  it('answers label-counts with each label count and share, most frequent first', async () => {
    const { 'label-counts': counts } = await runNamedQueries(
      { runId: 'run-1', table: 'predictions', queries: ['label-counts'] },
      { queryEngine: catalog, loadQuery },
    );

    expect(counts?.rows).toEqual([
      { variant: 'challenger', label: 'yes', records: 3, share: 0.75 },
      { variant: 'challenger', label: 'no', records: 1, share: 0.25 },
      { variant: 'champion', label: 'no', records: 2, share: 0.5 },
      { variant: 'champion', label: 'yes', records: 2, share: 0.5 },
    ]);
  });

  it('answers score-histogram with all ten buckets per variant, a score of 1 in the last', async () => {
    const { 'score-histogram': histogram } = await runNamedQueries(
      { runId: 'run-1', table: 'predictions', queries: ['score-histogram'] },
      { queryEngine: catalog, loadQuery },
    );

    const counts = (variant: string) =>
      histogram?.rows.filter((r) => r.variant === variant).map((r) => r.records);
    expect(counts('champion')).toEqual([1, 0, 1, 0, 0, 0, 1, 0, 0, 1]);
    expect(counts('challenger')).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 1, 1]);
    expect(histogram?.rows[3]).toEqual({
      variant: 'challenger',
      bucket: 3,
      lower_bound: 0.3,
      upper_bound: 0.4,
      records: 1,
    });
  });

  it('answers variant-comparison with label agreement and score differences on shared records', async () => {
    const { 'variant-comparison': comparison } = await runNamedQueries(
      { runId: 'run-1', table: 'predictions', queries: ['variant-comparison'] },
      { queryEngine: catalog, loadQuery },
    );

    expect(
      comparison?.rows.map((r) => ({ ...r, mean_abs_score_diff: round(r.mean_abs_score_diff) })),
    ).toEqual([
      {
        variant_a: 'challenger',
        variant_b: 'champion',
        records: 4,
        label_agreement: 0.25,
        mean_abs_score_diff: 0.4625,
        max_abs_score_diff: 0.95,
      },
    ]);
  });

  it('answers variant-agreement with the matrix of label pairs over shared records', async () => {
    const { 'variant-agreement': agreement } = await runNamedQueries(
      { runId: 'run-1', table: 'predictions', queries: ['variant-agreement'] },
      { queryEngine: catalog, loadQuery },
    );

    // challenger yes,yes,no,yes against champion yes,no,yes,no.
    expect(agreement?.rows).toEqual([
      { variant_a: 'challenger', variant_b: 'champion', label_a: 'no', label_b: 'yes', records: 1 },
      { variant_a: 'challenger', variant_b: 'champion', label_a: 'yes', label_b: 'no', records: 2 },
      { variant_a: 'challenger', variant_b: 'champion', label_a: 'yes', label_b: 'yes', records: 1 },
    ]);
  });

  it('answers variant-disagreements with the records whose scores differ most, first', async () => {
    const { 'variant-disagreements': disagreements } = await runNamedQueries(
      { runId: 'run-1', table: 'predictions', queries: ['variant-disagreements'] },
      { queryEngine: catalog, loadQuery },
    );

    expect(
      disagreements?.rows.map((r) => [r.rank, r.record, r.score_a, r.score_b, r.label_a, r.label_b]),
    ).toEqual([
      [1, 4, 1, 0.05, 'yes', 'no'],
      [2, 2, 0.7, 0.2, 'yes', 'no'],
      [3, 3, 0.3, 0.6, 'no', 'yes'],
      [4, 1, 0.8, 0.9, 'yes', 'yes'],
    ]);
    expect(disagreements?.rows[0]).toMatchObject({ source: 's3://bucket/incoming/a.csv', id: null });
  });

  it('answers variant-comparison with no rows for a run with one variant', async () => {
    const { 'variant-comparison': comparison } = await runNamedQueries(
      { runId: 'run-2', table: 'predictions', queries: ['variant-comparison'] },
      { queryEngine: catalog, loadQuery },
    );

    expect(comparison?.rows).toEqual([]);
  });

  it('treats a parameter holding quotes and SQL as a plain value', async () => {
    const injection = "run-1' OR '1'='1'; DROP TABLE predictions; --";

    const summary = await runNamedQuery(
      { name: 'summary', parameters: { run_id: injection } },
      'predictions',
      {
        queryEngine: catalog,
        loadQuery,
      },
    );
    const { rows } = await catalog.runQuery('SELECT count(*) AS n FROM predictions');

    expect(summary.rows).toEqual([]);
    expect(rows).toEqual([{ n: 12 }]);
  });

  it('changes nothing when the same table and partitions are registered again', async () => {
    await registerRuns(catalog, store, partitions);
    await catalog.switchRunPartitions(
      resultsTableDefinition(TABLE),
      ['2024-05-01', 'run-2'],
      partitions.filter((p) => p.values[1] === 'run-2'),
    );

    const { rows } = await catalog.runQuery('SELECT count(*) AS n FROM predictions');
    expect(rows).toEqual([{ n: 12 }]);
    expect(await catalog.listPartitions('local', 'predictions')).toHaveLength(3);
  });

  it('keeps tables and partitions when the catalog file is opened again', async () => {
    const path = join(root, 'reopened.duckdb');
    const first = await DuckDbCatalog.open(path, store);
    await registerRuns(first, store, partitions);
    await first.close();

    const second = await DuckDbCatalog.open(path, store);
    try {
      const { rows } = await second.runQuery('SELECT count(*) AS n FROM predictions');
      expect(rows).toEqual([{ n: 12 }]);
    } finally {
      await second.close();
    }
  });

  it('refuses several statements in one call and a wrong number of parameters', async () => {
    await expect(catalog.runQuery('SELECT 1; DROP TABLE x')).rejects.toThrow(
      new QueryFailedError('Expected one SQL statement, got 2'),
    );
    await expect(catalog.runQuery('SELECT ? AS a', [])).rejects.toThrow(
      'The query has 1 ? parameter(s) but 0 value(s) were given',
    );
    await expect(catalog.runQuery('SELECT * FROM no_such_table')).rejects.toBeInstanceOf(QueryFailedError);
  });
});

describe('DuckDbCatalog without partitions', () => {
  it('exposes a registered table with no partitions as an empty view with every column', async () => {
    const root = await mkdtemp(join(tmpdir(), 'duckdb-empty-'));
    const catalog = await DuckDbCatalog.open(
      join(root, 'catalog.duckdb'),
      new FileObjectStore(join(root, 's3')),
    );
    try {
      await registerResultsTable(
        {
          ...TABLE,
          runId: 'run-1',
          runDate: '2024-05-01',
          attemptId: ATTEMPT,
          runPrefix: 's3://bucket/runs/run-1/',
          partitions: [],
          files: [],
        },
        { catalog, store: new FileObjectStore(join(root, 's3')) },
      );

      const result = await catalog.runQuery('SELECT * FROM predictions');
      const { summary } = await runNamedQueries(
        { runId: 'run-1', table: 'predictions', queries: ['summary'] },
        { queryEngine: catalog, loadQuery },
      );

      expect(result.rows).toEqual([]);
      expect(result.columns).toHaveLength(12);
      expect(summary?.rows).toEqual([]);
    } finally {
      await catalog.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses partitions for a table that was never registered', async () => {
    const root = await mkdtemp(join(tmpdir(), 'duckdb-unregistered-'));
    const catalog = await DuckDbCatalog.open(
      join(root, 'catalog.duckdb'),
      new FileObjectStore(join(root, 's3')),
    );
    try {
      const def = resultsTableDefinition(TABLE);
      await expect(
        catalog.switchRunPartitions(
          def,
          ['2024-05-01', 'r'],
          [{ values: ['2024-05-01', 'r', 'v'], location: `${def.location}x/` }],
        ),
      ).rejects.toThrow('Table local.predictions is not registered');
    } finally {
      await catalog.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('DuckDbCatalog bookkeeping', () => {
  it('keeps, change after change, the tables and partitions a fresh open reads back from the file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'duckdb-bookkeeping-'));
    onTestFinished(() => rm(root, { recursive: true, force: true }));
    const store = new FileObjectStore(join(root, 's3'));
    const path = join(root, 'catalog.duckdb');
    const predictions = resultsTableDefinition(TABLE);
    const other = resultsTableDefinition({ ...TABLE, table: 'scores' });
    const at = (table: typeof predictions, run: string, variant: string, attempt: string) => ({
      values: ['2024-05-01', run, variant],
      location: `${table.location}run_date=2024-05-01/run_id=${run}/variant=${variant}/attempt=${attempt}/`,
    });
    // Each change: register, switch a run in, switch another run in, switch the first run again
    // (one variant gone, one moved, one new), re-register a changed definition, switch a run out.
    const changes: ((catalog: DuckDbCatalog) => Promise<unknown>)[] = [
      (c) => c.registerTable(other),
      (c) => c.registerTable(predictions),
      (c) =>
        c.switchRunPartitions(
          predictions,
          ['2024-05-01', 'r1'],
          [at(predictions, 'r1', 'b', 'a1'), at(predictions, 'r1', 'a', 'a1')],
        ),
      (c) => c.switchRunPartitions(predictions, ['2024-05-01', 'r2'], [at(predictions, 'r2', 'x', 'a2')]),
      (c) => c.switchRunPartitions(other, ['2024-05-01', 'r1'], [at(other, 'r1', 'a', 'a1')]),
      (c) =>
        c.switchRunPartitions(
          predictions,
          ['2024-05-01', 'r1'],
          [at(predictions, 'r1', 'c', 'a3'), at(predictions, 'r1', 'a', 'a3')],
        ),
      (c) => c.registerTable({ ...other, columns: other.columns.slice(0, -1) }),
      (c) => c.switchRunPartitions(predictions, ['2024-05-01', 'r2'], []),
    ];
    const state = async (c: DuckDbCatalog) => ({
      predictions: await c.listPartitions('local', 'predictions'),
      scores: await c.listPartitions('local', 'scores'),
    });
    for (const [i, change] of changes.entries()) {
      const catalog = await DuckDbCatalog.open(path, store);
      await state(catalog); // read once, so the change below works on what the catalog keeps
      await change(catalog);
      const kept = await state(catalog);
      await catalog.close();
      const reopened = await DuckDbCatalog.open(path, store, { readOnly: true });
      expect({ change: i, ...(await state(reopened)) }).toEqual({ change: i, ...kept });
      await reopened.close();
    }
    const last = await DuckDbCatalog.open(path, store, { readOnly: true });
    expect((await state(last)).predictions.map((p) => p.values[2])).toEqual(['a', 'c']);
    await last.close();
  });
});

describe('DuckDbCatalog publishing a re-run', () => {
  let root: string;
  let store: FileObjectStore;
  let catalog: DuckDbCatalog;
  const NEXT = 'fedcba987654';

  beforeAll(async () => {
    // A home whose path holds glob characters: DuckDB must read it as a plain path, "?" included.
    root = await mkdtemp(join(tmpdir(), 'duckdb-[a]*?-'));
    store = new FileObjectStore(join(root, 's3'));
    catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store);
    const first = await parsedJob(
      store,
      { runId: 'nightly', variant: 'champion' },
      INPUT,
      '0.9\n0.2\n0.6\n0.05\n',
    );
    const other = await parsedJob(
      store,
      { runId: 'other', variant: 'champion' },
      INPUT,
      '0.5\n0.5\n0.5\n0.5\n',
    );
    await registerRuns(catalog, store, [first, other]);
  });
  afterAll(async () => {
    await catalog.close();
    await rm(root, { recursive: true, force: true });
  });

  const scores = async (runId: string) =>
    (
      await catalog.runQuery('SELECT score FROM predictions WHERE run_id = ? ORDER BY record', [runId])
    ).rows.map((r) => r.score);

  it('reads a home whose path holds [ ] * ?, keeping the catalog in that home', async () => {
    expect(root).toMatch(/\[a\]\*\?/);
    expect(await scores('nightly')).toEqual([0.9, 0.2, 0.6, 0.05]);
    // The data is in the home's own file (DuckDB opens it through a link in the temp folder).
    expect((await lstat(join(root, 'catalog.duckdb'))).isFile()).toBe(true);
    expect(catalog.path).toBe(join(root, 'catalog.duckdb'));
  });

  it('keeps the previous rows until the switch, then shows only the new attempt', async () => {
    const next = await parsedJob(
      store,
      { runId: 'nightly', variant: 'champion', attemptId: NEXT },
      INPUT,
      '0.1\n0.1\n0.1\n0.1\n',
    );
    // The new attempt's files exist, unregistered: the published rows are unchanged.
    expect(await scores('nightly')).toEqual([0.9, 0.2, 0.6, 0.05]);

    await registerRuns(catalog, store, [next], NEXT);
    expect(await scores('nightly')).toEqual([0.1, 0.1, 0.1, 0.1]);
    expect(await scores('other')).toEqual([0.5, 0.5, 0.5, 0.5]);
    // The run succeeded: its attempt is committed, and the replaced attempt's files go.
    await commitAttempt(store, 's3://bucket/runs/nightly/', NEXT);
    const left: string[] = [];
    for await (const o of store.list('s3://bucket/results/predictions/run_date=2024-05-01/run_id=nightly/')) {
      left.push(o.uri);
    }
    expect(left).toEqual([`${next.location}part-0000.json`]);
  });

  it('answers queries when a registered partition has lost its files', async () => {
    const [other] = (await catalog.listPartitions('local', 'predictions')).filter(
      (p) => p.values[1] === 'other',
    );
    await rm(store.directoryOf(other?.location ?? ''), { recursive: true });

    const { rows } = await catalog.runQuery('SELECT run_id, count(*) AS n FROM predictions GROUP BY run_id');
    expect(rows).toEqual([{ run_id: 'nightly', n: 4 }]);
  });

  it('gives the fully qualified name local.predictions the same protection, read-write and read-only', async () => {
    // The previous test removed run "other"'s files: its partition is still registered.
    expect((await catalog.listPartitions('local', 'predictions')).map((p) => p.values[1])).toContain('other');
    const sql = 'SELECT run_id, count(*) AS n FROM local.predictions GROUP BY run_id';
    expect((await catalog.runQuery(sql)).rows).toEqual([{ run_id: 'nightly', n: 4 }]);
    await catalog.close();
    const reader = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store, { readOnly: true });
    try {
      expect((await reader.runQuery(sql)).rows).toEqual([{ run_id: 'nightly', n: 4 }]);
      expect((await reader.runQuery('SELECT count(*) AS n FROM predictions')).rows).toEqual([{ n: 4 }]);
    } finally {
      await reader.close();
      catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store);
    }
  });

  it('refuses statements that would change the catalog or the data, naming why', async () => {
    for (const sql of [
      'DELETE FROM _pipeline_catalog.partitions WHERE true',
      'DROP VIEW local.predictions',
      `COPY (SELECT 1) TO '${join(root, 'x.csv')}'`,
      `ATTACH '${join(root, 'other.duckdb')}' AS other`,
      'CREATE TABLE t AS SELECT 1',
    ]) {
      await expect(catalog.runQuery(sql), sql).rejects.toThrow(/^Only read statements \(SELECT/);
    }
    expect(await scores('nightly')).toEqual([0.1, 0.1, 0.1, 0.1]);
  });

  it('answers queries started together each with its own rows, and closes only once they are done', async () => {
    const count = (i: number, runId: string) =>
      catalog.runQuery('SELECT ? AS asked, count(*) AS n FROM predictions WHERE run_id = ?', [i, runId]);
    const asked = ['nightly', 'dead-run', 'nightly', 'other', 'nightly', 'dead-run'];
    const oneByOne = [];
    for (const [i, runId] of asked.entries()) oneByOne.push((await count(i, runId)).rows);
    expect(oneByOne.map((rows) => rows[0]?.asked)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(oneByOne[0]).not.toEqual([{ asked: 0, n: 0 }]);
    const together = await Promise.all(asked.map((runId, i) => count(i, runId)));
    expect(together.map((r) => r.rows)).toEqual(oneByOne);
    // Queries started before close() finish with their answers; none runs after it.
    const all = (await catalog.runQuery('SELECT count(*) AS n FROM predictions')).rows;
    const running = [1, 2, 3].map(() => catalog.runQuery('SELECT count(*) AS n FROM predictions'));
    await catalog.close();
    expect((await Promise.all(running)).map((r) => r.rows)).toEqual([all, all, all]);
    await expect(catalog.runQuery('SELECT 1')).rejects.toThrow(/closed/);
    catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store);
  });

  it('opens read-only for queries, where even the engine refuses a write', async () => {
    await catalog.close();
    const reader = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store, { readOnly: true });
    try {
      const { rows } = await reader.runQuery('SELECT count(*) AS n FROM predictions');
      expect(rows).toEqual([{ n: 4 }]);
      await expect(
        reader.switchRunPartitions(resultsTableDefinition(TABLE), ['2024-05-01', 'nightly'], []),
      ).rejects.toThrow(/read-only/);
      expect((await reader.runQuery('SELECT count(*) AS n FROM predictions')).rows).toEqual([{ n: 4 }]);
    } finally {
      await reader.close();
      catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store);
    }
  });
});

function round(value: unknown): unknown {
  return typeof value === 'number' ? Math.round(value * 1e9) / 1e9 : value;
}

describe('score-histogram on regression scores', () => {
  it('answers score-histogram over the run’s own range when scores leave [0, 1] (regression)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'duckdb-regression-'));
    const store = new FileObjectStore(join(root, 's3'));
    const catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store);
    onTestFinished(async () => {
      await catalog.close();
      await rm(root, { recursive: true, force: true });
    });
    const regression = await parsedJob(
      store,
      { runId: 'run-3', variant: 'champion' },
      INPUT,
      '10\n20\n30\n50\n',
    );
    await registerRuns(catalog, store, [regression]);
    const { 'score-histogram': histogram } = await runNamedQueries(
      { runId: 'run-3', table: 'predictions', queries: ['score-histogram'] },
      { queryEngine: catalog, loadQuery },
    );

    // Twenty buckets of width 2 from 10 to 50: 10 in the first, 20 in the sixth, 30 in the eleventh, 50 in the last.
    const rows = histogram?.rows ?? [];
    expect(rows).toHaveLength(20);
    expect(rows.filter((r) => r.records !== 0).map((r) => [r.bucket, r.lower_bound, r.upper_bound])).toEqual([
      [0, 10, 12],
      [5, 20, 22],
      [10, 30, 32],
      [19, 48, 50],
    ]);
  });
});
