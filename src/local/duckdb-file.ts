/**
 * The local catalog's file on disk (duckdb-catalog.ts): the path DuckDB is given for it (a link when
 * the path holds "?") and the free space a catalog change needs before it starts.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readlink, stat, statfs, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CatalogError } from '../errors.js';
import { formatBytes } from './file-object-store.js';

/**
 * Free space a write transaction needs on the disks of the catalog file and its log: DuckDB appends the
 * change to its `.wal` log and checkpoints in 256 KiB blocks. On a full disk DuckDB 1.5 fails with a bare
 * "Could not write file" or, after earlier commits, has been seen to hang, so the catalog refuses first.
 */
export const MIN_FREE_BYTES = 2 * 1024 * 1024;

/**
 * Refuses a write when the catalog's disk (or its log's, for a linked path) has less than
 * {@link MIN_FREE_BYTES} free: a clear error before anything changes, never DuckDB's hang.
 */
export async function checkFreeSpace(path: string, openedPath: string): Promise<void> {
  const folders = new Set([dirname(path), dirname(openedPath)]);
  for (const folder of folders) {
    let free: number;
    try {
      const disk = await statfs(folder);
      free = disk.bavail * disk.bsize;
    } catch {
      continue; // Cannot tell (an unusual filesystem): let DuckDB answer.
    }
    if (free < MIN_FREE_BYTES) {
      throw new CatalogError(
        `Local catalog ${path}: the disk is full (${formatBytes(free)} free in ${folder}; a catalog change needs at least ${formatBytes(MIN_FREE_BYTES)}). Nothing was changed: the published results are as they were. Free some space and run again.`,
      );
    }
  }
}

/**
 * The path to give DuckDB for the catalog file at `path`. DuckDB 1.5 reads "?" in a database path as
 * the start of options and writes its log to a broken path ("a.wal?b/catalog.duckdb"), and it resolves
 * a linked folder back to the real one. A link to the file itself is kept as given, so a path holding
 * "?" is opened through `<temp>/pipeline-catalog-<hash of the path>/catalog.duckdb`, linked to it: the
 * data stays in the home's file (the same file and lock for every process, since the link's name comes
 * from the path), and only DuckDB's log sits beside the link until the next checkpoint.
 *
 * @throws CatalogError when the link cannot be made.
 */
export async function databasePath(path: string): Promise<string> {
  if (!path.includes('?')) return path;
  const target = resolve(path);
  const folder = join(
    tmpdir(),
    `pipeline-catalog-${createHash('sha256').update(target).digest('hex').slice(0, 16)}`,
  );
  const link = join(folder, 'catalog.duckdb');
  try {
    if (folder.includes('?')) throw new Error(`the temp folder ${tmpdir()} holds "?" too`);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const made = await lstat(folder);
    if (!made.isDirectory() || (process.getuid && made.uid !== process.getuid())) {
      throw new Error(`${folder} is not a folder of this user`);
    }
    const current = await readlink(link).catch(() => undefined);
    if (current !== target) {
      await unlink(link).catch(() => undefined);
      await symlink(target, link).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error; // Another process made the same link meanwhile.
      });
    }
  } catch (error) {
    throw new CatalogError(
      `Cannot open the local catalog ${path}: DuckDB cannot open a path holding "?", and linking it from ${link} failed: ${(error as Error).message}. Choose a home folder without "?" (--home or PIPELINE_HOME)`,
      { cause: error },
    );
  }
  return link;
}

/** The size of DuckDB's log beside the database file at `openedPath` (0 when there is none). */
export async function logSize(openedPath: string): Promise<number> {
  try {
    return (await stat(`${openedPath}.wal`)).size;
  } catch {
    return 0;
  }
}
