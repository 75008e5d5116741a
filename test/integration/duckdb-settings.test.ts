/**
 * The local catalog opens DuckDB with capped memory and threads (src/local/duckdb-settings.ts), read
 * back from DuckDB itself: its default (80% of RAM, one thread per core) let the query stage grow past
 * 1.3 GB at 4M rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsTableDefinition } from '../../src/core/results-table.js';
import { DuckDbCatalog } from '../../src/local/duckdb-catalog.js';
import {
  DEFAULT_DUCKDB_MEMORY_LIMIT,
  defaultDuckDbThreads,
  duckDbSettings,
  duckDbThreads,
  ONE_THREAD_MAX_BYTES,
} from '../../src/local/duckdb-settings.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';

/**
 * The memory limit, and the threads a query runs on: the one that asks plus DuckDB's own (its `threads`
 * less its `external_threads`).
 */
async function settingsOf(catalog: DuckDbCatalog) {
  const { rows } = await catalog.runQuery(
    `SELECT current_setting('memory_limit') AS memory_limit,
       1 + current_setting('threads') - current_setting('external_threads') AS threads`,
    [],
  );
  return rows[0];
}

describe('DuckDB settings of the local catalog', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'duckdb-settings-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('caps memory at 256 MB and threads at two by default', async () => {
    const catalog = await DuckDbCatalog.open(join(dir, 'a.duckdb'), new FileObjectStore(join(dir, 's3')));
    try {
      const settings = await settingsOf(catalog);
      // DuckDB reports 256 MB as 244.1 MiB.
      expect(settings?.memory_limit).toBe('244.1 MiB');
      expect(Number(settings?.threads)).toBeLessThanOrEqual(2);
    } finally {
      await catalog.close();
    }
  });

  it('takes other values from the options', async () => {
    const catalog = await DuckDbCatalog.open(join(dir, 'b.duckdb'), new FileObjectStore(join(dir, 's3')), {
      memoryLimit: '100MB',
      threads: 1,
    });
    try {
      expect(await settingsOf(catalog)).toEqual({ memory_limit: '95.3 MiB', threads: 1 });
    } finally {
      await catalog.close();
    }
  });

  it('reads the environment, and refuses a bad thread count naming the variable', () => {
    expect(
      duckDbSettings({}, '/tmp/x.tmp', { PIPELINE_DUCKDB_MEMORY_LIMIT: '1GB', PIPELINE_DUCKDB_THREADS: '3' }),
    ).toEqual({ temp_directory: '/tmp/x.tmp', memory_limit: '1GB', threads: '3', external_threads: '1' });
    // One thread: three, all external (see threadSettings).
    expect(duckDbSettings({}, undefined, {})).toEqual({
      memory_limit: DEFAULT_DUCKDB_MEMORY_LIMIT,
      threads: '3',
      external_threads: '3',
    });
    expect(() => duckDbSettings({}, undefined, { PIPELINE_DUCKDB_THREADS: 'many' })).toThrow(
      'PIPELINE_DUCKDB_THREADS must be a positive integer, got "many"',
    );
  });
});

describe('DuckDB threads by the data the queries read', () => {
  it('picks one thread up to 16 MiB, the default above, and always a count that was set', () => {
    expect(ONE_THREAD_MAX_BYTES).toBe(16 * 1024 * 1024);
    expect(defaultDuckDbThreads()).toBe(Math.min(2, availableParallelism()));
    expect(duckDbThreads({}, 0, {})).toBe(1);
    expect(duckDbThreads({}, 16 * 1024 * 1024, {})).toBe(1);
    expect(duckDbThreads({}, 16 * 1024 * 1024 + 1, {})).toBe(defaultDuckDbThreads());
    expect(duckDbThreads({ threads: 3 }, 0, {})).toBe(3);
    expect(duckDbThreads({}, 10 ** 9, { PIPELINE_DUCKDB_THREADS: '1' })).toBe(1);
    expect(duckDbThreads({}, 0, { PIPELINE_DUCKDB_THREADS: '2' })).toBe(2);
  });

  it('runs a query on one thread over little data and on the default over more than 16 MiB', async () => {
    const root = await mkdtemp(join(tmpdir(), 'duckdb-threads-'));
    const store = new FileObjectStore(join(root, 's3'));
    const catalog = await DuckDbCatalog.open(join(root, 'catalog.duckdb'), store, {});
    const table = resultsTableDefinition({
      database: 'local',
      table: 'predictions',
      resultsPrefix: 's3://bucket/results/',
    });
    const threads = async () => Number((await settingsOf(catalog))?.threads);
    try {
      const location = `${table.location}run_date=2024-05-01/run_id=r1/variant=a/attempt=0123456789ab/`;
      await catalog.registerTable(table);
      await catalog.switchRunPartitions(
        table,
        ['2024-05-01', 'r1'],
        [{ values: ['2024-05-01', 'r1', 'a'], location }],
      );
      const line = `${JSON.stringify({ id: 'x', record: '1', score: 0.5 })}\n`;
      await store.put(`${location}part-0000.json`, line.repeat(1000));
      expect(await threads()).toBe(1);
      // Past 16 MiB over two files.
      const big = line.repeat(Math.ceil((ONE_THREAD_MAX_BYTES / 2 + 1) / line.length));
      await store.put(`${location}part-0001.json`, big);
      await store.put(`${location}part-0002.json`, big);
      expect(await threads()).toBe(defaultDuckDbThreads());
      const { rows } = await catalog.runQuery('SELECT count(*) AS n FROM predictions');
      expect(rows).toEqual([{ n: 1000 + 2 * (big.length / line.length) }]);
      // Back to little data.
      await rm(store.pathOf(`${location}part-0001.json`));
      await rm(store.pathOf(`${location}part-0002.json`));
      expect(await threads()).toBe(1);
    } finally {
      await catalog.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
