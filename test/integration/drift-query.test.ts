import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binOf } from '../../src/core/feature-bins.js';
import { registerResultsTable } from '../../src/core/register-table.js';
import { parseTransformOutput } from '../../src/core/result-parsing.js';
import { runNamedQuery } from '../../src/core/run-queries.js';
import { DuckDbCatalog } from '../../src/local/duckdb-catalog.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import type { QueryRow } from '../../src/ports.js';
import { createQueryLoader } from '../../src/query-files.js';

const loadQuery = createQueryLoader(join(import.meta.dirname, '../../queries'));
const TABLE = { database: 'local', table: 'predictions', resultsPrefix: 's3://bucket/results/' };
const NAMES = ['stable', 'shifted', 'gappy'];

/** A seeded normal sample (LCG + Box-Muller), so the test data is the same on every run. */
function normals(seed: number, n: number): number[] {
  let state = seed;
  const uniform = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state + 0.5) / 2147483648;
  };
  return Array.from(
    { length: n },
    () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}

interface Run {
  runId: string;
  /** Rows of [stable, shifted, gappy (NaN = missing)] and a score. */
  rows: number[][];
  scores: number[];
}

function makeRun(runId: string, seed: number, shift: number, missingEvery: number): Run {
  const n = 1500;
  const a = normals(seed, n);
  const b = normals(seed + 1, n);
  const c = normals(seed + 2, n);
  const rows = a.map((x, i) => [
    10 + x,
    5 + (b[i] as number) + shift,
    i % missingEvery === 0 ? Number.NaN : (c[i] as number),
  ]);
  const scores = a.map((x) => 1 / (1 + Math.exp(-(x + shift))));
  return { runId, rows, scores };
}

async function parseRun(
  store: FileObjectStore,
  catalog: DuckDbCatalog,
  run: Run,
  shards: number,
): Promise<void> {
  const base = `s3://bucket/runs/${run.runId}`;
  const per = Math.ceil(run.rows.length / shards);
  const partitions = [];
  for (let s = 0; s < shards; s += 1) {
    const rows = run.rows.slice(s * per, (s + 1) * per);
    const scores = run.scores.slice(s * per, (s + 1) * per);
    const key = `${run.runId}-${s}.csv`;
    await store.put(
      `s3://bucket/incoming/${key}`,
      `${rows.map((r) => r.map((v) => (Number.isNaN(v) ? '' : String(v))).join(',')).join('\n')}\n`,
    );
    await store.put(`${base}/transform/v/${key}.out`, `${scores.join('\n')}\n`);
    await store.put(
      `${base}/shard-${s}.manifest`,
      JSON.stringify([{ prefix: 's3://bucket/incoming/' }, key]),
    );
    const parsed = await parseTransformOutput(
      {
        runId: run.runId,
        runDate: '2026-11-30',
        attemptId: '0123456789ab',
        variant: 'v',
        modelName: 'model-v',
        shardId: String(s).padStart(4, '0'),
        inputManifestUri: `${base}/shard-${s}.manifest`,
        transformOutputPath: `${base}/transform/v/`,
        contentType: 'text/csv',
        splitType: 'Line',
        compressionType: 'None',
        accept: 'text/csv',
        results: {
          table: TABLE.table,
          resultsPrefix: TABLE.resultsPrefix,
          threshold: 0.5,
          labels: ['no', 'yes'],
          featureNames: NAMES,
        },
      },
      { store },
    );
    partitions.push(parsed.partition);
  }
  await registerResultsTable(
    {
      ...TABLE,
      runId: run.runId,
      runDate: '2026-11-30',
      attemptId: '0123456789ab',
      runPrefix: `${base}/`,
      partitions,
      files: [],
    },
    { catalog, store },
  );
}

/**
 * PSI as the query documents it, written out plainly over the raw values: baseline deciles over the
 * fixed bins, each current value in the group of the nearest baseline bin at or below its bin.
 */
function expectedPsi(baseline: number[], current: number[]): number {
  const present = (values: number[]) => values.filter((v) => !Number.isNaN(v));
  const baseCounts = new Map<number, number>();
  for (const v of present(baseline)) baseCounts.set(binOf(v), (baseCounts.get(binOf(v)) ?? 0) + 1);
  const baseBins = [...baseCounts.keys()].sort((x, y) => x - y);
  const total = present(baseline).length;
  const groupOf = new Map<number, number>();
  let below = 0;
  for (const bin of baseBins) {
    groupOf.set(bin, Math.min(Math.floor((10 * below) / total), 9));
    below += baseCounts.get(bin) as number;
  }
  const baseShare = new Map<number, number>();
  for (const bin of baseBins) {
    const g = groupOf.get(bin) as number;
    baseShare.set(g, (baseShare.get(g) ?? 0) + (baseCounts.get(bin) as number) / total);
  }
  const cur = present(current);
  const curShare = new Map<number, number>();
  for (const v of cur) {
    const bin = binOf(v);
    const atOrBelow = baseBins.filter((b) => b <= bin);
    const g = atOrBelow.length === 0 ? 0 : (groupOf.get(atOrBelow[atOrBelow.length - 1] as number) as number);
    curShare.set(g, (curShare.get(g) ?? 0) + 1 / cur.length);
  }
  let psi = 0;
  for (const [g, b] of baseShare) {
    const c = Math.max(curShare.get(g) ?? 0, 0.0001);
    const bb = Math.max(b, 0.0001);
    psi += (c - bb) * Math.log(c / bb);
  }
  return psi;
}

describe('the drift query', () => {
  let dir: string;
  let store: FileObjectStore;
  let catalog: DuckDbCatalog;
  const first = makeRun('monday', 1, 0, 50);
  const second = makeRun('tuesday', 101, 1, 5);
  let rows: QueryRow[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drift-'));
    store = new FileObjectStore(join(dir, 's3'));
    catalog = await DuckDbCatalog.open(join(dir, 'catalog.duckdb'), store);
    await parseRun(store, catalog, first, 1);
    // Three jobs: their statistics merge bin by bin.
    await parseRun(store, catalog, second, 3);
    rows = (
      await runNamedQuery(
        { name: 'drift', parameters: { run_id: 'tuesday', baseline_run_id: '' } },
        TABLE.table,
        { queryEngine: catalog, loadQuery },
      )
    ).rows;
  }, 60_000);
  afterAll(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('compares a run with the previous run of the table and variant, naming each feature', () => {
    expect(rows.map((r) => [r.kind, r.feature, r.baseline_run_id])).toEqual([
      ['score', 'score', 'monday'],
      ['feature', 'stable', 'monday'],
      ['feature', 'shifted', 'monday'],
      ['feature', 'gappy', 'monday'],
    ]);
  });

  it('gives the PSI over the baseline deciles and flags what moved more than 0.2', () => {
    NAMES.forEach((name, i) => {
      const row = rows.find((r) => r.feature === name) as QueryRow;
      const psi = expectedPsi(
        first.rows.map((r) => r[i] as number),
        second.rows.map((r) => r[i] as number),
      );
      expect(Math.abs((row.psi as number) - psi), name).toBeLessThan(1e-9);
    });
    const score = rows.find((r) => r.kind === 'score') as QueryRow;
    expect(Math.abs((score.psi as number) - expectedPsi(first.scores, second.scores))).toBeLessThan(1e-9);
    expect(rows.filter((r) => r.drifted).map((r) => r.feature)).toEqual(['score', 'shifted']);
    expect(rows.find((r) => r.feature === 'stable')?.psi).toBeLessThan(0.1);
  });

  it('gives the change in missing rate', () => {
    const gappy = rows.find((r) => r.feature === 'gappy') as QueryRow;
    // Every 50th row missing on monday, every 5th on tuesday.
    expect(gappy.baseline_missing_rate).toBeCloseTo(30 / 1500, 12);
    expect(gappy.missing_rate).toBeCloseTo(300 / 1500, 12);
    expect(gappy.missing_rate_change).toBeCloseTo(270 / 1500, 12);
  });

  it('compares with the run named as baseline, and gives no rows for a run with no earlier run', async () => {
    const named = await runNamedQuery(
      { name: 'drift', parameters: { run_id: 'monday', baseline_run_id: 'tuesday' } },
      TABLE.table,
      { queryEngine: catalog, loadQuery },
    );
    expect(named.rows.map((r) => r.baseline_run_id)).toEqual(['tuesday', 'tuesday', 'tuesday', 'tuesday']);
    const none = await runNamedQuery(
      { name: 'drift', parameters: { run_id: 'monday', baseline_run_id: '' } },
      TABLE.table,
      { queryEngine: catalog, loadQuery },
    );
    expect(none.rows).toEqual([]);
  });
});
