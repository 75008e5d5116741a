import { spawnSync } from 'node:child_process';
import { readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resultsTableDefinition } from '../../src/core/results-table.js';
import { CatalogError } from '../../src/errors.js';
import { DuckDbCatalog } from '../../src/local/duckdb-catalog.js';
import { MIN_FREE_BYTES } from '../../src/local/duckdb-file.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { runCli } from '../helpers/cli.js';

/**
 * A 16 MiB tmpfs to fill, when this process may mount one (root, in CI's container). Decided at collection
 * so the disk-full tests run or are visibly not collected, never silently pass.
 */
function mountSmallTmpfs(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = spawnSync('mktemp', ['-d', join(tmpdir(), 'tmpfs-XXXXXX')], { encoding: 'utf8' }).stdout.trim();
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir]);
  if (mounted.status === 0) return dir;
  console.warn(`catalog disk-full tests not run: mount -t tmpfs failed (${mounted.stderr})`);
  return undefined;
}
const tmpfs = mountSmallTmpfs();
afterAll(() => {
  if (tmpfs && spawnSync('umount', [tmpfs]).status === 0) spawnSync('rmdir', [tmpfs]);
});

const RUN = ['2024-05-01', 'nightly'];
const def = resultsTableDefinition({
  database: 'local',
  table: 'predictions',
  resultsPrefix: 's3://bucket/results/',
});
const partition = (attempt: string) => ({
  values: [...RUN, 'champion'],
  location: `${def.location}run_date=2024-05-01/run_id=nightly/variant=champion/attempt=${attempt}/`,
});

/** Writes `fill` until the disk holds at most `leave` bytes free (0: until ENOSPC). */
async function fillDisk(root: string, leave: number): Promise<void> {
  const disk = await statfs(root);
  const free = disk.bavail * disk.bsize;
  await writeFile(
    join(root, 'fill'),
    new Uint8Array(Math.max(0, free - leave + (leave === 0 ? 1 : 0))),
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOSPC') throw error;
  });
}

describe.runIf(tmpfs !== undefined)('DuckDbCatalog on a full disk (16 MiB tmpfs)', () => {
  const root = tmpfs ?? '';
  const path = join(root, 'catalog.duckdb');
  afterEach(async () => {
    for (const entry of await readdir(root)) await rm(join(root, entry), { recursive: true, force: true });
  });

  it('refuses a switch at once after an earlier committed one, naming the file and the free space; the previous partitions stay', async () => {
    const catalog = await DuckDbCatalog.open(path, new FileObjectStore(join(root, 's3')));
    try {
      await catalog.registerTable(def);
      await catalog.switchRunPartitions(def, RUN, [partition('a1')]);

      for (const leave of [MIN_FREE_BYTES / 2, 0]) {
        await fillDisk(root, leave);
        const started = Date.now();
        const error = await catalog.switchRunPartitions(def, RUN, [partition('a2')]).catch((e) => e);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(error).toBeInstanceOf(CatalogError);
        expect(error.name).toBe('CatalogError');
        expect(error.message).toMatch(
          /^Local catalog .*catalog\.duckdb: the disk is full \(\d+ bytes.* free in .*; a catalog change needs at least 2097152 bytes \(2\.0 MiB\)\)\. Nothing was changed/,
        );
        expect(error.message).toContain(path);
        const free = Number(/\((\d+) bytes/.exec(error.message)?.[1]);
        expect(free).toBeLessThan(MIN_FREE_BYTES);
        expect(free).toBeLessThanOrEqual(leave + 64 * 1024);
        // Nothing published: the run still points at its previous attempt, and queries answer.
        expect(await catalog.listPartitions('local', 'predictions')).toEqual([partition('a1')]);
        expect((await catalog.runQuery('SELECT count(*) AS n FROM predictions')).rows).toEqual([{ n: 0 }]);
        await rm(join(root, 'fill'));
      }

      // Space freed: the same switch goes through.
      await catalog.switchRunPartitions(def, RUN, [partition('a2')]);
      expect(await catalog.listPartitions('local', 'predictions')).toEqual([partition('a2')]);
    } finally {
      await catalog.close();
    }
  });

  it('fails a re-run of the sample in RegisterTable, saying so, and the published run answers as before', async () => {
    const home = join(root, 'home');
    expect((await runCli([], home)).code).toBe(0);
    const query = [
      'query',
      'SELECT variant, count(*) AS n, sum(score) AS s FROM predictions GROUP BY variant',
    ];
    const before = await runCli(query, home);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/569/);

    // Room for the re-run's result files, not for the catalog's margin.
    await fillDisk(root, 1536 * 1024);
    const started = Date.now();
    const rerun = await runCli([], home);
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(rerun.code).not.toBe(0);
    const said = rerun.stdout + rerun.stderr;
    expect(said).toContain('FAILED');
    expect(said).toContain('in RegisterTable');
    expect(said).toContain(`Local catalog ${join(home, 'catalog.duckdb')}: the disk is full (`);
    expect(said).toContain('CatalogError');

    await rm(join(root, 'fill'));
    const after = await runCli(query, home);
    expect(after.code).toBe(0);
    expect(after.stdout).toBe(before.stdout);
  }, 300_000);
});
