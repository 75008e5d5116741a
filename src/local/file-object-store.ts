import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatS3Uri, parseS3Uri } from '../core/s3-uri.js';
import { InvalidInputError, ObjectNotFoundError } from '../errors.js';
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
      throw error;
    }
  }

  async getBytes(uri: string): Promise<Uint8Array> {
    const path = this.pathOf(uri);
    try {
      return new Uint8Array(await readFile(path));
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(`No such object: ${uri}`, { cause: error });
      throw error;
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
      throw error;
    }
    return handle.createReadStream({ autoClose: true, highWaterMark: 1 << 20 });
  }

  async put(uri: string, body: string | Uint8Array, _options?: PutOptions): Promise<void> {
    const path = this.pathOf(uri);
    const temp = await this.tempPath();
    liveTemporaries.add(temp);
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.commit(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
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
    const temp = await this.tempPath();
    liveTemporaries.add(temp);
    try {
      // 8 MB of writes queued: a fast producer (ParseResults, the engine) rarely waits for the disk.
      await pipeline(body, createWriteStream(temp, { highWaterMark: 1 << 23 }));
      await this.commit(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
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
    await rm(this.pathOf(uri), { force: true });
  }

  private async tempPath(): Promise<string> {
    const dir = join(this.root, TEMP_DIR);
    await mkdir(dir, { recursive: true });
    return join(dir, randomUUID());
  }

  private async commit(temp: string, path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await rename(temp, path);
  }
}

async function collectKeys(dir: string, bucketDir: string, prefix: string, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
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

/** S3 lists keys in UTF-8 byte order, which differs from JS string order for astral characters. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // ENOTDIR: a parent "directory" of the key is itself an object, so this key cannot exist.
  return code === 'ENOENT' || code === 'ENOTDIR';
}
