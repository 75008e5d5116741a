/**
 * Between queries the local catalog keeps its bookkeeping and its query views as they were, changing a
 * view only when its partitions or their files changed (checked below: files appearing and vanishing
 * under a registered partition, a switch, a read-only reader).
 *
 * The local catalog leaves its changes in DuckDB's log (`catalog.duckdb.wal`) when it closes, instead of
 * checkpointing them into the file at every close, until the log passes WAL_CHECKPOINT_BYTES. Checked
 * here: what every kind of open reads back (read-write, read-only, another DuckDB client), and that the
 * log is folded into the file once it is past the bound.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resultsTableDefinition } from '../../src/core/results-table.js';
import { DuckDbCatalog, WAL_CHECKPOINT_BYTES } from '../../src/local/duckdb-catalog.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import type { PartitionDefinition } from '../../src/ports.js';

const TABLE = resultsTableDefinition({
  database: 'local',
  table: 'predictions',
  resultsPrefix: 's3://bucket/results/',
});

function partitionOf(runId: string): PartitionDefinition {
  const values = ['2024-05-01', runId, 'champion'];
  return {
    values,
    location: `${TABLE.location}run_date=2024-05-01/run_id=${runId}/variant=champion/attempt=0123456789ab/`,
  };
}

async function publish(catalog: DuckDbCatalog, runId: string): Promise<void> {
  await catalog.registerTable(TABLE);
  await catalog.switchRunPartitions(TABLE, ['2024-05-01', runId], [partitionOf(runId)]);
}

/** The run ids registered, as a DuckDB client that knows nothing of this project reads the file. */
async function runIdsReadByDuckDb(path: string): Promise<string[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`ATTACH '${path}' AS c (READ_ONLY)`);
    const reader = await connection.runAndReadAll(
      'SELECT partition_values FROM c._pipeline_catalog.partitions ORDER BY partition_values',
    );
    return reader.getRowsJS().map(([values]) => (JSON.parse(String(values)) as string[])[1] as string);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('DuckDbCatalog and DuckDB’s log', () => {
  let root: string;
  let path: string;
  let store: FileObjectStore;
  const log = () => `${path}.wal`;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'duckdb-log-'));
    path = join(root, 'catalog.duckdb');
    store = new FileObjectStore(join(root, 's3'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps a small log at close, which every later open reads back', async () => {
    const catalog = await DuckDbCatalog.open(path, store);
    await publish(catalog, 'run-1');
    await catalog.close();

    // Not checkpointed: the change is in the log beside the file.
    expect(existsSync(log())).toBe(true);
    expect(statSync(log()).size).toBeGreaterThan(0);
    expect(statSync(log()).size).toBeLessThanOrEqual(WAL_CHECKPOINT_BYTES);

    const reader = await DuckDbCatalog.open(path, store, { readOnly: true });
    try {
      expect(await reader.listPartitions('local', 'predictions')).toEqual([partitionOf('run-1')]);
    } finally {
      await reader.close();
    }
    expect(await runIdsReadByDuckDb(path)).toEqual(['run-1']);

    const writer = await DuckDbCatalog.open(path, store);
    try {
      await publish(writer, 'run-2');
      expect(await writer.listPartitions('local', 'predictions')).toEqual([
        partitionOf('run-1'),
        partitionOf('run-2'),
      ]);
    } finally {
      await writer.close();
    }
    expect(await runIdsReadByDuckDb(path)).toEqual(['run-1', 'run-2']);
  });

  it('writes nothing when a table is registered again with the same definition', async () => {
    const size = () => (existsSync(log()) ? statSync(log()).size : 0);
    let catalog = await DuckDbCatalog.open(path, store);
    await catalog.registerTable(TABLE);
    await catalog.close();
    const registered = size();
    expect(registered).toBeGreaterThan(0);

    catalog = await DuckDbCatalog.open(path, store);
    await catalog.registerTable(TABLE);
    await catalog.registerTable(JSON.parse(JSON.stringify(TABLE)));
    await catalog.close();
    expect(size()).toBe(registered);

    // A changed definition is recorded, and its view has the new column.
    const changed = { ...TABLE, columns: [...TABLE.columns, { name: 'extra', type: 'string' }] };
    catalog = await DuckDbCatalog.open(path, store);
    try {
      await catalog.registerTable(changed);
      expect(size()).toBeGreaterThan(registered);
      const { columns } = await catalog.runQuery('SELECT * FROM predictions');
      expect(columns).toContain('extra');
    } finally {
      await catalog.close();
    }
  });

  it('keeps registration order when a run switches to a new attempt, and refuses an unregistered table', async () => {
    const catalog = await DuckDbCatalog.open(path, store);
    try {
      await publish(catalog, 'run-1');
      await publish(catalog, 'run-2');
      const moved = {
        ...partitionOf('run-1'),
        location: partitionOf('run-1').location.replace('0123456789ab', 'ba9876543210'),
      };
      expect(await catalog.switchRunPartitions(TABLE, ['2024-05-01', 'run-1'], [moved])).toEqual([
        partitionOf('run-1'),
      ]);
      expect(await catalog.listPartitions('local', 'predictions')).toEqual([moved, partitionOf('run-2')]);
      // Switched to nothing: the run's partition is removed, the other run's kept.
      expect(await catalog.switchRunPartitions(TABLE, ['2024-05-01', 'run-1'], [])).toEqual([moved]);
      expect(await catalog.listPartitions('local', 'predictions')).toEqual([partitionOf('run-2')]);
      const other = { ...TABLE, name: 'other' };
      await expect(catalog.switchRunPartitions(other, ['2024-05-01', 'run-1'], [])).rejects.toThrow(
        'Table local.other is not registered',
      );
    } finally {
      await catalog.close();
    }
    const reader = await DuckDbCatalog.open(path, store, { readOnly: true });
    try {
      expect(await reader.listPartitions('local', 'predictions')).toEqual([partitionOf('run-2')]);
    } finally {
      await reader.close();
    }
  });

  it('folds the log into the file at close once it is past the bound', async () => {
    const catalog = await DuckDbCatalog.open(path, store);
    const runs: string[] = [];
    // A run's registration adds a few KB to the log: publish runs until it is past the bound.
    for (let i = 0; i < 200 && !(existsSync(log()) && statSync(log()).size > WAL_CHECKPOINT_BYTES); i += 1) {
      runs.push(`run-${String(i).padStart(3, '0')}`);
      await publish(catalog, runs[runs.length - 1] as string);
    }
    expect(statSync(log()).size).toBeGreaterThan(WAL_CHECKPOINT_BYTES);
    await catalog.close();

    // Checkpointed: the log is gone or empty, and the file alone holds every run.
    expect(existsSync(log()) ? statSync(log()).size : 0).toBe(0);
    expect(await runIdsReadByDuckDb(path)).toEqual(runs);
  });
});

describe('DuckDbCatalog’s query views between queries', () => {
  it('follows files appearing and vanishing under a partition, and each switch, on one connection', async () => {
    const root = await mkdtemp(join(tmpdir(), 'duckdb-views-'));
    const store = new FileObjectStore(join(root, 's3'));
    const path = join(root, 'catalog.duckdb');
    const catalog = await DuckDbCatalog.open(path, store);
    const count = async () =>
      (await catalog.runQuery('SELECT run_id, count(*) AS n FROM predictions GROUP BY run_id ORDER BY 1'))
        .rows;
    const row = (id: string) => `${JSON.stringify({ id, record: '1', score: 0.5 })}\n`;
    try {
      await publish(catalog, 'run-1');
      expect(await count()).toEqual([]);

      // A registered partition's folder gets its file after the previous query.
      await store.put(`${partitionOf('run-1').location}part-0000.json`, row('a') + row('b'));
      expect(await count()).toEqual([{ run_id: 'run-1', n: 2 }]);
      expect(await count()).toEqual([{ run_id: 'run-1', n: 2 }]);

      // A second file in the same folder: the view is the same, the query reads both.
      await store.put(`${partitionOf('run-1').location}part-0001.json`, row('c'));
      expect(await count()).toEqual([{ run_id: 'run-1', n: 3 }]);

      // Another run switched in on this connection.
      await store.put(`${partitionOf('run-2').location}part-0000.json`, row('d'));
      await publish(catalog, 'run-2');
      expect(await count()).toEqual([
        { run_id: 'run-1', n: 3 },
        { run_id: 'run-2', n: 1 },
      ]);

      // run-1's files vanish.
      await rm(store.directoryOf(partitionOf('run-1').location), { recursive: true });
      expect(await count()).toEqual([{ run_id: 'run-2', n: 1 }]);
      await catalog.close();

      const reader = await DuckDbCatalog.open(path, store, { readOnly: true });
      try {
        expect(
          (await reader.runQuery('SELECT count(*) AS n FROM local.predictions WHERE run_id = ?', ['run-2']))
            .rows,
        ).toEqual([{ n: 1 }]);
      } finally {
        await reader.close();
      }
    } finally {
      await catalog.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
