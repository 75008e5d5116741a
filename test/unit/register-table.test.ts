import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerResultsTable } from '../../src/core/register-table.js';
import { commitAttempt, rollBackAttempt } from '../../src/core/register-table-commit.js';
import { CatalogError, InvalidInputError, ObjectNotFoundError } from '../../src/errors.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import type { Catalog, PartitionDefinition, TableDefinition } from '../../src/ports.js';

const OLD = 'aaaaaaaaaaaa';
const NEW = 'bbbbbbbbbbbb';
const RUN = 's3://bucket/results/predictions/run_date=2024-05-01/run_id=run-1/';
const at = (variant: string, attempt: string) => `${RUN}variant=${variant}/attempt=${attempt}/`;

/** Records, in one sequence with the store's deletes, what the step asks of the catalog. */
class RecordingCatalog implements Catalog {
  readonly tables: TableDefinition[] = [];
  readonly switches: { run: readonly string[]; partitions: PartitionDefinition[] }[] = [];
  constructor(
    private readonly log: string[],
    private readonly previous: PartitionDefinition[] = [],
    private readonly failWith?: Error,
    /** Fail only the switch of this table. */
    private readonly failOn?: string,
  ) {}
  async registerTable(table: TableDefinition): Promise<void> {
    this.tables.push(table);
  }
  async switchRunPartitions(
    table: TableDefinition,
    run: readonly string[],
    partitions: PartitionDefinition[],
  ): Promise<PartitionDefinition[]> {
    if (this.failWith && (!this.failOn || this.failOn === table.name)) throw this.failWith;
    this.log.push(`switch ${table.name}`);
    this.switches.push({ run, partitions });
    return this.runPartitions(table);
  }
  /** `previous` for the results table, the same under `<table>_stats/` for the statistics table. */
  async runPartitions(table: TableDefinition): Promise<PartitionDefinition[]> {
    return this.previous.map((p) => ({
      values: [...p.values],
      location: p.location.replace('/predictions/', `/${table.name}/`),
    }));
  }
}

describe('registerResultsTable', () => {
  let root: string;
  let store: FileObjectStore;
  let log: string[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'register-'));
    log = [];
    store = new FileObjectStore(root);
    const remove = store.delete.bind(store);
    store.delete = async (uri: string) => {
      log.push(`delete ${uri}`);
      await remove(uri);
    };
    // The published attempt (OLD, two variants), a file of the layout before attempts, the new attempt.
    for (const uri of [
      `${at('a', OLD)}part-0000.json`,
      `${at('b', OLD)}part-0000.json`,
      `${RUN}variant=a/part-0000.json`,
      `s3://bucket/results/predictions_stats/run_date=2024-05-01/run_id=run-1/variant=a/attempt=${OLD}/part-0000.json`,
      `${at('a', NEW)}part-0000.json`,
      `${at('a', NEW)}part-0001.json`,
      `s3://bucket/runs/run-1/attempts/${OLD}/registering.json`,
      `s3://bucket/runs/run-1/attempts/${OLD}/transform/a/shard-0000/x.csv.out`,
      `s3://bucket/runs/run-1/attempts/${NEW}/transform/a/shard-0000/x.csv.out`,
    ]) {
      await store.put(uri, '{}\n');
    }
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const request = (files = [`${at('a', NEW)}part-0000.json`, `${at('a', NEW)}part-0001.json`]) => ({
    database: 'ml',
    table: 'predictions',
    resultsPrefix: 's3://bucket/results/',
    runId: 'run-1',
    runDate: '2024-05-01',
    attemptId: NEW,
    runPrefix: 's3://bucket/runs/run-1/',
    partitions: [
      { values: ['2024-05-01', 'run-1', 'a'], location: at('a', NEW) },
      { values: ['2024-05-01', 'run-1', 'a'], location: at('a', NEW) },
    ],
    files,
  });

  async function keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for await (const object of store.list(prefix)) out.push(object.uri.slice(prefix.length));
    return out;
  }

  it('switches the run to the new attempt, recording what it replaced, and deletes nothing', async () => {
    const previous = [
      { values: ['2024-05-01', 'run-1', 'a'], location: at('a', OLD) },
      { values: ['2024-05-01', 'run-1', 'b'], location: at('b', OLD) },
    ];
    const catalog = new RecordingCatalog(log, previous);

    const result = await registerResultsTable(request(), { catalog, store });

    // The results table, then its statistics table (same partitions under predictions_stats/).
    expect(catalog.tables.map((t) => t.name)).toEqual(['predictions', 'predictions_stats']);
    const statsAt = (v: string, a: string) => at(v, a).replace('/predictions/', '/predictions_stats/');
    expect(catalog.switches).toEqual([
      {
        run: ['2024-05-01', 'run-1'],
        partitions: [{ values: ['2024-05-01', 'run-1', 'a'], location: at('a', NEW) }],
      },
      {
        run: ['2024-05-01', 'run-1'],
        partitions: [{ values: ['2024-05-01', 'run-1', 'a'], location: statsAt('a', NEW) }],
      },
    ]);
    expect(result).toEqual({
      table: 'ml.predictions',
      location: 's3://bucket/results/predictions/',
      partitions: 1,
      attemptId: NEW,
      replacedPartitions: 2,
    });
    expect(log).toEqual(['switch predictions', 'switch predictions_stats']);
    // The marker records, per table, the partitions switched to and those replaced.
    const marker = JSON.parse(
      Buffer.from(await store.getBytes(`s3://bucket/runs/run-1/attempts/${NEW}/registering.json`)).toString(),
    );
    expect(marker.tables.map((t: { definition: TableDefinition }) => t.definition.name)).toEqual([
      'predictions',
      'predictions_stats',
    ]);
    expect(marker.tables[0].previous).toEqual(previous);
    expect(marker.tables[1].previous.map((p: PartitionDefinition) => p.location)).toEqual([
      statsAt('a', OLD),
      statsAt('b', OLD),
    ]);
    expect(await keys(RUN)).toHaveLength(5);
  });

  it('commitAttempt, once the run succeeded, deletes every other file of the run, markers last', async () => {
    const previous = [
      { values: ['2024-05-01', 'run-1', 'a'], location: at('a', OLD) },
      { values: ['2024-05-01', 'run-1', 'b'], location: at('b', OLD) },
    ];
    await registerResultsTable(request(), { catalog: new RecordingCatalog(log, previous), store });
    log.length = 0;

    const result = await commitAttempt(store, 's3://bucket/runs/run-1/', NEW);

    expect(result).toEqual({ deletedFiles: 4, notDeleted: [] });
    expect(log.filter((entry) => entry.startsWith('delete'))).toHaveLength(6);
    expect(await keys('s3://bucket/results/predictions_stats/')).toEqual([]);
    expect(await keys(RUN)).toEqual([
      `variant=a/attempt=${NEW}/part-0000.json`,
      `variant=a/attempt=${NEW}/part-0001.json`,
    ]);
    expect(await keys('s3://bucket/runs/run-1/attempts/')).toEqual([
      `${NEW}/published.json`,
      `${NEW}/registering.json`,
      `${NEW}/transform/a/shard-0000/x.csv.out`,
    ]);
    // The earlier attempt's marker went last, after its files.
    expect(log.at(-1)).toBe(`delete s3://bucket/runs/run-1/attempts/${OLD}/registering.json`);
  });

  it('rollBackAttempt switches both tables back to what the marker recorded, statistics first', async () => {
    const previous = [{ values: ['2024-05-01', 'run-1', 'a'], location: at('a', OLD) }];
    const catalog = new RecordingCatalog(log, previous);
    await registerResultsTable(request(), { catalog, store });
    catalog.switches.length = 0;
    log.length = 0;

    // The catalog now answers with the new attempt's partitions (what the switch made).
    catalog.runPartitions = async (table) => [
      {
        values: ['2024-05-01', 'run-1', 'a'],
        location: at('a', NEW).replace('/predictions/', `/${table.name}/`),
      },
    ];
    const outcome = await rollBackAttempt({ store, catalog }, 's3://bucket/runs/run-1/', NEW);

    expect(outcome).toEqual({
      state: 'rolled back',
      restored: [
        { table: 'ml.predictions', partitions: 1 },
        { table: 'ml.predictions_stats', partitions: 1 },
      ],
    });
    expect(log).toEqual(['switch predictions_stats', 'switch predictions']);
    expect(catalog.switches.map((s) => s.partitions[0]?.location)).toEqual([
      at('a', OLD).replace('/predictions/', '/predictions_stats/'),
      at('a', OLD),
    ]);
  });

  it('rollBackAttempt leaves a committed attempt, and one another execution has replaced since', async () => {
    const catalog = new RecordingCatalog(log, []);
    await registerResultsTable(request(), { catalog, store });
    catalog.runPartitions = async () => [
      { values: ['2024-05-01', 'run-1', 'a'], location: at('a', 'cccccccccccc') },
    ];
    expect(await rollBackAttempt({ store, catalog }, 's3://bucket/runs/run-1/', NEW)).toEqual({
      state: 'superseded',
    });
    await commitAttempt(store, 's3://bucket/runs/run-1/', NEW);
    expect(await rollBackAttempt({ store, catalog }, 's3://bucket/runs/run-1/', NEW)).toEqual({
      state: 'published',
    });
  });

  it('puts the results switch back when the statistics switch fails', async () => {
    const previous = [{ values: ['2024-05-01', 'run-1', 'a'], location: at('a', OLD) }];
    const catalog = new RecordingCatalog(
      log,
      previous,
      new CatalogError('stats refused'),
      'predictions_stats',
    );
    await expect(registerResultsTable(request(), { catalog, store })).rejects.toThrow('stats refused');
    expect(log).toEqual(['switch predictions', 'switch predictions']);
    expect(catalog.switches.map((s) => s.partitions.map((p) => p.location))).toEqual([
      [at('a', NEW)],
      [at('a', OLD)],
    ]);
  });

  it('publishes nothing and deletes nothing when a reported result file is missing', async () => {
    const catalog = new RecordingCatalog(log);
    await expect(
      registerResultsTable(request([`${at('a', NEW)}part-0002.json`]), { catalog, store }),
    ).rejects.toThrow(ObjectNotFoundError);
    expect(catalog.switches).toEqual([]);
    expect(log).toEqual([]);
  });

  it('deletes nothing when the catalog switch fails, so the previous attempt stays whole', async () => {
    const catalog = new RecordingCatalog(log, [], new CatalogError('disk full'));
    await expect(registerResultsTable(request(), { catalog, store })).rejects.toThrow('disk full');
    expect(log.filter((entry) => entry.startsWith('delete'))).toEqual([]);
    expect(await keys(RUN)).toHaveLength(5);
  });

  it('refuses a partition that is not at the attempt location of the table layout', async () => {
    const catalog = new RecordingCatalog(log);
    for (const location of [`${RUN}variant=a/`, at('a', OLD), 's3://bucket/elsewhere/']) {
      await expect(
        registerResultsTable(
          { ...request([]), partitions: [{ values: ['2024-05-01', 'run-1', 'a'], location }] },
          { catalog, store },
        ),
      ).rejects.toThrow(InvalidInputError);
    }
    expect(catalog.tables).toEqual([]);
  });
});
