import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatS3Uri, parseS3Uri } from '../core/s3-uri.js';
import { InvalidInputError, LocalStoreError, ObjectNotFoundError } from '../errors.js';
import type { ObjectInfo, ObjectStore, PutOptions } from '../ports.js';

/** Temporary files live in the root (same filesystem, so rename is atomic) under a name no bucket can have. */
const TEMP_DIR = '.tmp';

/**
 * Temporary files this process is writing right now, in any store. `removeStaleTemporaries` keeps
 * them: another pipeline in this process may share the home (tests do), and its writes are live.
 */
const liveTemporaries = new Set<string>();

/**
 * An S3-like object store on the local filesystem: `s3://bucket/key` is the file `<root>/bucket/key`.
 *
 * Writes go to a temporary file that is renamed into place when complete, so a reader (or a crashed
 * run) never sees a half-written object. Keys that would resolve outside `<root>/bucket` are refused.
 * ETags are derived from size and modification time, not content: enough to tell versions apart.
 *
 * As in S3, a folder exists only while it holds an object: deleting an object removes the folders it
 * leaves empty, and a listing removes the empty folders it walks through (a home written before this
 * rule kept one per past attempt, and every listing of a run's prefix walked them all). A write whose
 * folder is removed between its `mkdir` and its rename makes the folder again.
 */
export class FileObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The file that holds `uri`, after checking the key cannot escape its bucket's directory. */
  pathOf(uri: string): string {
    const { bucket, key } = parseS3Uri(uri);
    return this.objectPath(bucket, key, uri);
  }

  /** The directory that holds the objects under a prefix (`s3://bucket/a/b/`), with the same escape checks. */
  directoryOf(prefixUri: string): string {
    const { bucket, key } = parseS3Uri(prefixUri);
    if (!key.endsWith('/')) throw new InvalidInputError(`Not a prefix (it must end in "/"): "${prefixUri}"`);
    return this.objectPath(bucket, key.slice(0, -1), prefixUri);
  }

  private objectPath(bucket: string, key: string, uri: string): string {
    if (key === '' || key.endsWith('/')) {
      throw new InvalidInputError(`Object key must name an object, not a prefix: "${uri}"`);
    }
    if (key.includes('\0')) {
      throw new InvalidInputError(`Object key contains a NUL byte: "${uri}"`);
    }
    const segments = key.split('/');
    if (segments.some((s) => s === '..' || s === '.' || s === '')) {
      throw new InvalidInputError(
        `Object key "${key}" has an empty, "." or ".." path segment; the local store refuses it so no key can escape its bucket`,
      );
    }
    const bucketDir = join(this.root, bucket);
    const path = resolve(bucketDir, ...segments);
    if (!path.startsWith(bucketDir + sep)) {
      throw new InvalidInputError(`Object key "${key}" resolves outside bucket "${bucket}"`);
    }
    return path;
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const { bucket, key: prefix } = parseS3Uri(prefixUri);
    const bucketDir = join(this.root, bucket);
    // Walk only the deepest directory the prefix names; a partial last segment filters its entries.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    if (dirPart.split('/').some((s) => s === '..' || s === '.')) {
      throw new InvalidInputError(`Prefix "${prefix}" has a "." or ".." path segment`);
    }
    const start = dirPart === '' ? bucketDir : join(bucketDir, dirPart);
    const keys: string[] = [];
    await collectKeys(start, bucketDir, prefix, keys);
    keys.sort(compareUtf8);
    for (const key of keys) {
      const info = await this.head(formatS3Uri({ bucket, key }));
      if (info) yield info;
    }
  }

  async head(uri: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(uri);
    try {
      const s = await stat(path);
      if (!s.isFile()) return undefined;
      return {
        uri,
        size: s.size,
        etag: `${s.size.toString(16)}-${Math.trunc(s.mtimeMs).toString(16)}`,
        lastModified: s.mtime,
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw await this.storeError('read', uri, path, error);
    }
  }

  async getBytes(uri: string): Promise<Uint8Array> {
    const path = this.pathOf(uri);
    try {
      return new Uint8Array(await readFile(path));
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(`No such object: ${uri}`, { cause: error });
      throw await this.storeError('read', uri, path, error);
    }
  }

  async getStream(uri: string): Promise<Readable> {
    const path = this.pathOf(uri);
    // Open first so a missing object fails here, typed, rather than as a stream error later.
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(`No such object: ${uri}`, { cause: error });
      throw await this.storeError('read', uri, path, error);
    }
    return handle.createReadStream({ autoClose: true, highWaterMark: 1 << 20 });
  }

  async put(uri: string, body: string | Uint8Array, _options?: PutOptions): Promise<void> {
    const path = this.pathOf(uri);
    const temp = await this.tempPath(uri, path);
    liveTemporaries.add(temp);
    try {
      try {
        const handle = await open(temp, 'w');
        try {
          await handle.writeFile(body);
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (error) {
        await unlink(temp).catch(() => undefined);
        throw await this.storeError('write', uri, path, error, { bytes: byteLength(body), temp });
      }
      await this.commit(uri, temp, path);
    } finally {
      liveTemporaries.delete(temp);
    }
  }

  async putStream(
    uri: string,
    body: Readable | AsyncIterable<Uint8Array>,
    _options?: PutOptions,
  ): Promise<void> {
    const path = this.pathOf(uri);
    const temp = await this.tempPath(uri, path);
    liveTemporaries.add(temp);
    try {
      // 8 MB of writes queued: a fast producer (ParseResults, the engine) rarely waits for the disk.
      const out = createWriteStream(temp, { highWaterMark: 1 << 23 });
      try {
        await pipeline(body, out);
      } catch (error) {
        // A source that fails at once can reject the pipeline while the write stream is still opening
        // its file: wait for the stream to close, or the file would appear after it is removed.
        // (Not events.once: the stream's own 'error', the source's echoed, would reject it before the close.)
        if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
        await unlink(temp).catch(() => undefined);
        // Only a filesystem error is ours to explain; a failing source stream is the producer's own error.
        if (!isErrno(error)) throw error;
        throw await this.storeError('write', uri, path, error, { written: out.bytesWritten, temp });
      }
      await this.commit(uri, temp, path);
    } finally {
      liveTemporaries.delete(temp);
    }
  }

  /**
   * Deletes the temporary files a killed or crashed writer left behind (a write that never reached its
   * rename), keeping those this process is writing now. Call it only when no other process can be
   * writing to this store (the local pipeline does, once it holds the catalog's exclusive lock).
   *
   * @returns the names of the files deleted.
   */
  async removeStaleTemporaries(): Promise<string[]> {
    const dir = join(this.root, TEMP_DIR);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const removed: string[] = [];
    for (const name of names) {
      const path = join(dir, name);
      if (liveTemporaries.has(path)) continue;
      await rm(path, { force: true, recursive: true });
      removed.push(name);
    }
    return removed;
  }

  async delete(uri: string): Promise<void> {
    const path = this.pathOf(uri);
    await rm(path, { force: true });
    await removeEmptyFolders(dirname(path), join(this.root, parseS3Uri(uri).bucket));
  }

  private async tempPath(uri: string, path: string): Promise<string> {
    const dir = join(this.root, TEMP_DIR);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw await this.storeError('write', uri, path, error, { temp: dir });
    }
    return join(dir, randomUUID());
  }

  /** Moves a complete temporary file into place; on failure the temporary file is removed. */
  private async commit(uri: string, temp: string, path: string): Promise<void> {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await mkdir(dirname(path), { recursive: true });
          await rename(temp, path);
          break;
        } catch (error) {
          // A folder went between the mkdir and the rename (a delete or a listing removed it, empty):
          // make it again. The temporary file itself is this write's own, so it is still there.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 3) throw error;
        }
      }
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw await this.storeError('write', uri, path, error);
    }
  }

  /**
   * The filesystem error of an operation on `uri` as a {@link LocalStoreError} naming the object and its
   * file, and saying what to do: a full disk (with the bytes being written), or a file where the key
   * layout needs a folder, or a folder where it needs a file (naming both keys).
   */
  private async storeError(
    operation: 'read' | 'write',
    uri: string,
    path: string,
    error: unknown,
    detail: { bytes?: number; written?: number; temp?: string } = {},
  ): Promise<Error> {
    if (!isErrno(error)) return error instanceof Error ? error : new Error(String(error));
    const code = error.code;
    const what = `Could not ${operation} ${uri} (file ${path})`;
    let message: string;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      const size =
        detail.bytes !== undefined
          ? `writing ${formatBytes(detail.bytes)}`
          : `after writing ${formatBytes(detail.written ?? 0)} of a stream`;
      message =
        `${what}: the disk is full (${code}) ${size}` +
        `${detail.temp ? ` to ${detail.temp}` : ''}. Free space on the filesystem holding ${this.root}, ` +
        'or point the local home at a larger disk.';
    } else if (
      code === 'EISDIR' ||
      code === 'ENOTDIR' ||
      code === 'ENOTEMPTY' ||
      (code === 'EEXIST' && operation === 'write')
    ) {
      const blocker = (await this.fileAbove(path)) ?? path;
      message = await this.layoutMessage(what, uri, path, blocker, code);
    } else {
      message = `${what}: ${error.message}`;
    }
    return new LocalStoreError(message, uri, path, code, { cause: error });
  }

  /** Explains a key that collides with a folder of keys (S3 allows both `a` and `a/b`; a filesystem does not). */
  private async layoutMessage(
    what: string,
    uri: string,
    path: string,
    blocker: string,
    code: string | undefined,
  ): Promise<string> {
    const { bucket } = parseS3Uri(uri);
    const bucketDir = join(this.root, bucket);
    const keyOf = (p: string) => `s3://${bucket}/${relative(bucketDir, p).split(sep).join('/')}`;
    if (blocker !== path) {
      return (
        `${what}: ${keyOf(blocker)} is an object (file ${blocker}), and the local store keeps objects as ` +
        `files, so no key can continue below it with "/" (${code}). Rename one of the two keys ` +
        `(${keyOf(blocker)} or ${uri}), or move the other out of the way.`
      );
    }
    const below: string[] = [];
    await collectKeys(path, bucketDir, '', below).catch(() => undefined);
    const example = below.sort(compareUtf8)[0];
    const other = example ? `s3://${bucket}/${example}` : `${uri}/…`;
    return (
      `${what}: the file is a folder holding ${other}${below.length > 1 ? ` and ${below.length - 1} more` : ''}; ` +
      `the local store keeps objects as files, so ${uri} and ${other} cannot both exist (${code}). ` +
      `Rename one of the two keys, or remove the folder ${path}.`
    );
  }

  /** The nearest ancestor of `path` (inside the root) that is a file, not a folder, if any. */
  private async fileAbove(path: string): Promise<string | undefined> {
    for (let p = dirname(path); p.startsWith(this.root + sep); p = dirname(p)) {
      const s = await stat(p).catch(() => undefined);
      if (s?.isFile()) return p;
      if (s?.isDirectory()) return undefined;
    }
    return undefined;
  }
}

function isErrno(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

function byteLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

/** `N bytes (x.y MiB)`, for messages about sizes and free space. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${bytes} bytes (${value.toFixed(1)} ${units[unit]})`;
}

async function collectKeys(dir: string, bucketDir: string, prefix: string, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  if (entries.length === 0 && dir !== bucketDir) {
    // An empty folder holds no key: remove it, as S3 has no empty folders (see FileObjectStore).
    await rmdir(dir).catch(() => undefined);
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const key = relative(bucketDir, path).split(sep).join('/');
    if (entry.isDirectory()) {
      // Descend only where keys below could still match the prefix.
      if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) {
        await collectKeys(path, bucketDir, prefix, out);
      }
    } else if (entry.isFile() && key.startsWith(prefix)) {
      out.push(key);
    }
  }
}

/**
 * Removes `dir` and then each parent up to (not including) `stopAt` while they are empty. `rmdir` removes
 * only an empty folder, so one a writer has just filled stays.
 */
async function removeEmptyFolders(dir: string, stopAt: string): Promise<void> {
  for (let folder = dir; folder.startsWith(stopAt + sep); folder = dirname(folder)) {
    try {
      await rmdir(folder);
    } catch {
      return;
    }
  }
}

/** S3 lists keys in UTF-8 byte order, which differs from JS string order for astral characters. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // ENOTDIR: a parent "directory" of the key is itself an object, so this key cannot exist.
  return code === 'ENOENT' || code === 'ENOTDIR';
}
