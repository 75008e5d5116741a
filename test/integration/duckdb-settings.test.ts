/**
 * The local catalog opens DuckDB with capped memory and threads (src/local/duckdb-settings.ts), read
 * back from DuckDB itself: its default (80% of RAM, one thread per core) let the query stage grow past
 * 1.3 GB at 4M rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbCatalog } from '../../src/local/duckdb-catalog.js';
import { duckDbSettings } from '../../src/local/duckdb-settings.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';

async function settingsOf(catalog: DuckDbCatalog) {
  const { rows } = await catalog.runQuery(
    "SELECT current_setting('memory_limit') AS memory_limit, current_setting('threads') AS threads",
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
    ).toEqual({ temp_directory: '/tmp/x.tmp', memory_limit: '1GB', threads: '3' });
    expect(() => duckDbSettings({}, undefined, { PIPELINE_DUCKDB_THREADS: 'many' })).toThrow(
      'PIPELINE_DUCKDB_THREADS must be a positive integer, got "many"',
    );
  });
});
