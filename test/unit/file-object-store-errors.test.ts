import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStoreError } from '../../src/errors.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';

/**
 * A 1 MiB tmpfs to fill, when this process may mount one (root, in CI's container). Decided at collection
 * so the disk-full tests run or are visibly not collected, never silently pass.
 */
function mountSmallTmpfs(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = spawnSync('mktemp', ['-d', join(tmpdir(), 'tmpfs-XXXXXX')], { encoding: 'utf8' }).stdout.trim();
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  if (mounted.status === 0) return dir;
  console.warn(`disk-full tests not run: mount -t tmpfs failed (${mounted.stderr})`);
  return undefined;
}
const tmpfs = mountSmallTmpfs();
afterAll(() => {
  if (tmpfs && spawnSync('umount', [tmpfs]).status === 0) spawnSync('rmdir', [tmpfs]);
});

describe.runIf(tmpfs !== undefined)('FileObjectStore on a full disk (1 MiB tmpfs)', () => {
  const root = tmpfs ?? '';
  afterEach(async () => {
    for (const entry of await readdir(root)) await rm(join(root, entry), { recursive: true, force: true });
  });

  it('names the object, its file, the disk being full and the bytes written; keeps the cause; leaves no temp file', async () => {
    const store = new FileObjectStore(root);
    const error = await store
      .put('s3://bucket/results/big.json', new Uint8Array(2 * 1024 * 1024))
      .catch((e) => e);
    expect(error).toBeInstanceOf(LocalStoreError);
    expect(error.name).toBe('LocalStoreError');
    expect(error.code).toBe('ENOSPC');
    expect(error.message).toContain('s3://bucket/results/big.json');
    expect(error.message).toContain(join(root, 'bucket', 'results', 'big.json'));
    expect(error.message).toContain('the disk is full');
    expect(error.message).toContain('writing 2097152 bytes (2.0 MiB)');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
    expect(await store.head('s3://bucket/results/big.json')).toBeUndefined();
  });

  it('says how much of a stream was written before the disk filled', async () => {
    const store = new FileObjectStore(root);
    const chunks = Array.from({ length: 32 }, () => new Uint8Array(64 * 1024));
    const error = await store.putStream('s3://bucket/out/a.csv.out', Readable.from(chunks)).catch((e) => e);
    expect(error).toBeInstanceOf(LocalStoreError);
    expect(error.message).toMatch(
      /^Could not write s3:\/\/bucket\/out\/a\.csv\.out \(file .*a\.csv\.out\): the disk is full \(ENOSPC\) after writing \d+ bytes/,
    );
    const written = Number(/after writing (\d+) bytes/.exec(error.message)?.[1]);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(2 * 1024 * 1024);
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
  });
});

describe('FileObjectStore: a file where a folder must be, or a folder where a file must be', () => {
  let root: string;
  let store: FileObjectStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'store-err-'));
    store = new FileObjectStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('an object out.csv after a run wrote the folder out.csv/: names both keys', async () => {
    await store.put('s3://bkt/out.csv/part-0.csv', 'x');
    const error = await store.put('s3://bkt/out.csv', 'y').catch((e) => e);
    expect(error).toBeInstanceOf(LocalStoreError);
    expect(error.code).toBe('EISDIR');
    expect(error.message).toContain('Could not write s3://bkt/out.csv');
    expect(error.message).toContain('s3://bkt/out.csv/part-0.csv');
    expect(error.message).toContain('Rename one of the two keys');
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
    expect(Buffer.from(await store.getBytes('s3://bkt/out.csv/part-0.csv')).toString()).toBe('x');
  });

  it('a key below an existing object (a.csv.out, then a.csv.out/b.csv.out): names both keys', async () => {
    await store.put('s3://bkt/out/a.csv.out', '1');
    const error = await store.put('s3://bkt/out/a.csv.out/b.csv.out', '2').catch((e) => e);
    expect(error).toBeInstanceOf(LocalStoreError);
    expect(['ENOTDIR', 'EEXIST']).toContain(error.code);
    expect(error.message).toContain('Could not write s3://bkt/out/a.csv.out/b.csv.out');
    expect(error.message).toContain('s3://bkt/out/a.csv.out is an object');
    expect(error.cause).toBeInstanceOf(Error);
    expect(Buffer.from(await store.getBytes('s3://bkt/out/a.csv.out')).toString()).toBe('1');
  });

  it('reading a key that is a folder names the key and a key inside it', async () => {
    await mkdir(join(root, 'bkt', 'in', 'a.csv'), { recursive: true });
    await writeFile(join(root, 'bkt', 'in', 'a.csv', 'x.csv'), 'x');
    const error = await store.getBytes('s3://bkt/in/a.csv').catch((e) => e);
    expect(error).toBeInstanceOf(LocalStoreError);
    expect(error.message).toContain('Could not read s3://bkt/in/a.csv');
    expect(error.message).toContain('s3://bkt/in/a.csv/x.csv');
  });
});
