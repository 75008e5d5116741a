/**
 * A local file or folder as a run's input: which files, what they hold (content type and compression
 * from their names, a CSV header), and how the pipeline reads them.
 *
 * Files are read in place: the folder is linked into the store as a bucket of its own
 * (`<home>/s3/local-in-<hash>` → the folder), so nothing is copied. The one exception is a CSV header:
 * SageMaker sends every line to the container, so the pipeline never sees a header; such a file is put
 * in the store without its header line (the bytes one would upload to S3 for AWS).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, realpath, stat, symlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { type CsvHeader, csvFields, looksLikeHeader, readCsvHeader } from '../core/csv-header.js';
import { lines } from '../core/line-cursor.js';
import { attemptScratchPrefix } from '../core/run-attempt.js';
import { UsageError } from '../errors.js';
import type { FileObjectStore } from '../local/file-object-store.js';

/** Data file suffixes a folder is searched for when no --suffix is given, and what each holds. */
const FORMATS: ReadonlyArray<{ suffix: string; contentType: string }> = [
  { suffix: '.csv', contentType: 'text/csv' },
  { suffix: '.jsonl', contentType: 'application/jsonlines' },
  { suffix: '.ndjson', contentType: 'application/jsonlines' },
  { suffix: '.json', contentType: 'application/json' },
  { suffix: '.libsvm', contentType: 'text/libsvm' },
];

/** Short names `--content-type` accepts, besides full media types. */
export const CONTENT_TYPE_ALIASES: Record<string, string> = {
  csv: 'text/csv',
  jsonl: 'application/jsonlines',
  jsonlines: 'application/jsonlines',
  json: 'application/json',
  libsvm: 'text/libsvm',
};

/** What a file's name says it holds. */
export interface FileFormat {
  contentType?: string;
  compression: 'Gzip' | 'None';
}

/** `data.csv.gz` → text/csv, Gzip; `x.jsonl` → application/jsonlines, None; unknown suffix → no content type. */
export function formatOfName(name: string): FileFormat {
  const lower = name.toLowerCase();
  const compression = lower.endsWith('.gz') ? 'Gzip' : 'None';
  const base = compression === 'Gzip' ? lower.slice(0, -3) : lower;
  const format = FORMATS.find((f) => base.endsWith(f.suffix));
  return format ? { contentType: format.contentType, compression } : { compression };
}

/** The choices the user made on the command line about the input. */
export interface InputChoices {
  /** Only files ending in one of these (folders); default: the known data suffixes. */
  suffixes?: string[] | undefined;
  /** true/false from --header/--no-header; undefined: detect. */
  header?: boolean | undefined;
  /** Content type from --content-type (wins over the names). */
  contentType?: string | undefined;
  /** Compression from --compression (wins over the names). */
  compression?: 'Gzip' | 'None' | undefined;
}

/** A local input, inspected. */
export interface InspectedInput {
  /** The path as the user typed it, resolved. */
  path: string;
  isFolder: boolean;
  /** The files taken, absolute, in key order. */
  files: string[];
  /** Files of the folder left out, relative to it, with why. */
  skipped: Array<{ file: string; reason: string }>;
  contentType: string | undefined;
  compression: 'Gzip' | 'None';
  /** The header every CSV file starts with, when there is one. */
  header: CsvHeader | undefined;
  /** Whether the header was found by looking (not asked for with --header). */
  headerDetected: boolean;
}

/** Markers that say a folder is complete; never data. */
const MARKERS = new Set(['_SUCCESS', '_COMMITTED', '_STARTED']);

/**
 * The bytes of the files at `path` (a file, or a folder and its subfolders), counted only until they
 * pass `limit`; undefined when `path` cannot be read (inspectInput then says why). Enough to tell a
 * small input from a large one before the input is inspected.
 */
export function inputBytesUpTo(path: string, limit: number): number | undefined {
  try {
    const info = statSync(path);
    if (!info.isDirectory()) return info.size;
    let bytes = 0;
    for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      bytes += statSync(join(entry.parentPath, entry.name)).size;
      if (bytes > limit) break;
    }
    return bytes;
  } catch {
    return undefined;
  }
}

/**
 * A path as the user typed it, with the folder a relative one was looked for in (npm start runs in
 * the project; scripts/start.mjs moves to the folder the command was typed in).
 */
export function typedPathInfo(typedPath: string): string {
  return isAbsolute(typedPath) ? typedPath : `${typedPath} (looked for in ${process.cwd()})`;
}

/**
 * Looks at a local file or folder: which files to take, their content type and compression, a header.
 *
 * @throws UsageError naming the path and the fix (no such path, no data files, mixed formats, headers
 *   that differ between files).
 */
export async function inspectInput(typedPath: string, choices: InputChoices): Promise<InspectedInput> {
  const path = resolve(typedPath);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UsageError(`No such file or folder: ${typedPathInfo(typedPath)}`);
  const isFolder = info.isDirectory();
  const skipped: InspectedInput['skipped'] = [];
  let files: string[];
  if (isFolder) {
    files = [];
    for (const file of await listFolder(path)) {
      const name = relative(path, file).split(sep).join('/');
      const base = basename(file);
      if (base.startsWith('.') || MARKERS.has(base))
        skipped.push({ file: name, reason: 'marker or dot file' });
      else if (!matchesSuffix(base, choices.suffixes)) {
        skipped.push({
          file: name,
          reason: choices.suffixes ? `not ${choices.suffixes.join(' or ')}` : 'not a data file name',
        });
      } else files.push(file);
    }
    if (files.length === 0) {
      throw new UsageError(
        `No data files in ${typedPath}${skipped.length ? ` (skipped: ${skipped.map((s) => s.file).join(', ')})` : ''}: ` +
          `give --suffix for files named otherwise (e.g. --suffix .txt)`,
      );
    }
  } else if (info.isFile()) files = [path];
  else throw new UsageError(`Not a file or folder: ${typedPath}`);

  const formats = new Map<string, string[]>();
  for (const file of files) {
    const format = formatOfName(basename(file));
    const key = `${format.contentType ?? '?'} ${format.compression}`;
    formats.set(key, [...(formats.get(key) ?? []), relative(isFolder ? path : dirname(path), file)]);
  }
  if (formats.size > 1 && !(choices.contentType && choices.compression)) {
    throw new UsageError(
      `${typedPath} mixes file formats (${[...formats.values()].map((names) => names[0]).join(', ')}): ` +
        'one run reads one content type and compression; choose files with --suffix (e.g. --suffix .csv)',
    );
  }
  // An empty file would start a run that fails on its first request ("Input object is empty"):
  // refuse it here, before anything runs or is written.
  for (const file of files) {
    if ((await stat(file)).size === 0) {
      throw new UsageError(
        `${file} is empty (0 bytes): there are no records to score. Give the file your data was written to ` +
          '(e.g. df.to_csv(path)), or remove the empty file' +
          (isFolder ? ` from ${typedPath}` : ''),
      );
    }
  }
  const named = formatOfName(basename(files[0] as string));
  const contentType = choices.contentType ?? named.contentType;
  const compression = choices.compression ?? named.compression;

  let header: CsvHeader | undefined;
  let headerDetected = false;
  if ((contentType ?? 'text/csv') === 'text/csv' && choices.header !== false) {
    const found = await findHeaders(files, compression, choices.header === true);
    header = found.header;
    headerDetected = found.header !== undefined && choices.header !== true;
  }
  return { path, isFolder, files, skipped, contentType, compression, header, headerDetected };
}

function matchesSuffix(name: string, suffixes: string[] | undefined): boolean {
  const lower = name.toLowerCase();
  if (suffixes) return suffixes.some((s) => name.endsWith(s));
  return formatOfName(lower).contentType !== undefined;
}

async function findHeaders(
  files: string[],
  compression: 'Gzip' | 'None',
  insist: boolean,
): Promise<{ header: CsvHeader | undefined }> {
  let header: CsvHeader | undefined;
  let firstWith: string | undefined;
  let firstWithout: string | undefined;
  for (const file of files) {
    const [first, second] = await firstLines(file, compression);
    if (first === undefined) continue;
    // A header line and nothing under it (what df.iloc[:0].to_csv() writes): sent as data, the model
    // would fail on the column names after the run started. Say so now.
    if (second === undefined && (insist || namesOnly(first))) {
      throw new UsageError(
        `${file} has a header line but no records (line 1 names ${csvFields(first).length} columns; ` +
          'no data line follows): write the rows to score under it (e.g. check that the DataFrame is not empty before df.to_csv(path))',
      );
    }
    if (!(insist || looksLikeHeader(first, second))) {
      firstWithout ??= file;
      continue;
    }
    let fileHeader: CsvHeader;
    try {
      fileHeader = readCsvHeader(first);
    } catch (error) {
      throw new UsageError(`${file}, line 1: ${(error as Error).message}`);
    }
    if (header && fileHeader.columns.join('\u0000') !== header.columns.join('\u0000')) {
      throw new UsageError(
        `${file} has another header than ${firstWith}: every file of one run must have the same columns`,
      );
    }
    header ??= fileHeader;
    firstWith ??= file;
  }
  if (header && firstWithout) {
    throw new UsageError(
      `${firstWith} starts with a header row and ${firstWithout} does not: give every file a header, or none`,
    );
  }
  return { header };
}

/**
 * Whether a lone line reads as column names only: no field is a number (a one-record file, id column
 * or not, has numbers, and stays data). pandas' index column leaves the first name empty.
 */
function namesOnly(line: string): boolean {
  const fields = csvFields(line).map((f) => f.trim());
  return fields.some((f) => f !== '') && fields.every((f) => f === '' || Number.isNaN(Number(f)));
}

/** The first two non-blank lines of a file (decompressed), reading at most 4 MiB. */
async function firstLines(file: string, compression: 'Gzip' | 'None'): Promise<Array<string | undefined>> {
  const raw = createReadStream(file);
  const stream = compression === 'Gzip' ? raw.pipe(createGunzip()) : raw;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      // A third line means the first two are whole (a newline ends each).
      if (size > 4 << 20) break;
      if ((chunk as Buffer).includes(0x0a) && firstOf(Buffer.concat(chunks, size), 3).length > 2) break;
    }
  } catch (error) {
    throw new UsageError(
      `Cannot read ${file}${compression === 'Gzip' ? ' as gzip' : ''}: ${(error as Error).message}`,
    );
  } finally {
    raw.destroy();
    stream.destroy();
  }
  // Lines as LineCursor splits them (the pipeline's one splitter); a line of spaces alone is not
  // a line here either.
  const [first, second] = firstOf(Buffer.concat(chunks, size), 2);
  return [first, second];
}

/** Up to `count` lines of `bytes` that are not blank, as LineCursor splits them. */
function firstOf(bytes: Buffer, count: number): string[] {
  const out: string[] = [];
  for (const { text } of lines(bytes)) {
    if (text.trim() === '') continue;
    out.push(text);
    if (out.length === count) break;
  }
  return out;
}

async function listFolder(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink() && !entry.name.startsWith('.')) {
      // The folder is read as an S3 prefix, and S3 has no links: a link would be skipped by the
      // listing, and its records silently missing from the run. Refuse it instead, naming it.
      throw new UsageError(
        `${relative(root, path)} in ${root} is a symbolic link: a folder is read as an S3 prefix, which has no links. ` +
          'Copy the file into the folder, or run the file itself (npm start -- run <file>)',
      );
    }
    if (entry.isDirectory() && !entry.name.startsWith('.')) out.push(...(await listFolder(path, root)));
    else out.push(path);
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Where the pipeline reads a local input, and how to turn its URIs back into the user's paths. */
export interface PlacedInput {
  /** The run request's `input`. */
  uri: string;
  /** The request's `inputSuffixes`, when a folder's files are chosen by suffix. */
  inputSuffixes: string[] | undefined;
  /**
   * Store URI prefix → the user's path prefix, for messages; for a file copied without its header, the
   * lines dropped, so a message's line numbers (the copy's) become the user's file's.
   */
  paths: Array<[uriPrefix: string, pathPrefix: string, linesDropped?: number]>;
  /** How the files got there: "read in place" or "copied without their header line". */
  how: string;
}

/**
 * Makes a local input readable by the pipeline: files without a header are read in place through a
 * link (the store sees the folder as bucket `local-in-<hash>`); files with a header are written
 * without it under `copyPrefix`, the run attempt's own folder (`runs/<runId>/attempts/<attemptId>/input/`,
 * see {@link inputCopyPrefix}).
 *
 * The attempt's folder, because the copy is what the results' `source` column names: a run of another
 * id, or a re-run of this one that fails, must never replace the data a published run was scored
 * from. The copy then lives and goes with its attempt (deleted with a failed attempt, and with a
 * published one once a later attempt is published, or by `runs rm`), and never lies under `incoming/`,
 * where on AWS an upload starts a run.
 */
export async function placeInput(
  store: FileObjectStore,
  input: InspectedInput,
  copyPrefix: string,
): Promise<PlacedInput> {
  if (input.header) return copyWithoutHeader(store, input, copyPrefix);
  const folder = input.isFolder ? input.path : dirname(input.path);
  const real = await realpath(folder);
  const linkBucket = `local-in-${createHash('sha256').update(real).digest('hex').slice(0, 16)}`;
  const link = join(store.root, linkBucket);
  await mkdir(store.root, { recursive: true });
  const existing = await lstat(link).catch(() => undefined);
  if (existing && !(existing.isSymbolicLink() && (await readlink(link)) === real)) {
    throw new UsageError(`${link} exists and is not a link to ${real}: remove it and run again`);
  }
  if (!existing) await symlink(real, link, 'dir');
  const prefix = `s3://${linkBucket}/`;
  const uri = input.isFolder ? prefix : `${prefix}${basename(input.path)}`;
  const dataSuffixes = input.skipped.length > 0 ? suffixesOf(input.files) : undefined;
  return {
    uri,
    inputSuffixes: dataSuffixes,
    paths: [[prefix, `${folder}${sep}`]],
    how: 'read in place',
  };
}

/** Where a run attempt's header-free copy of a local input goes: `runs/<runId>/attempts/<attemptId>/input/`. */
export function inputCopyPrefix(bucket: string, runId: string, attemptId: string): string {
  return `${attemptScratchPrefix(`s3://${bucket}/runs/${runId}/`, attemptId)}input/`;
}

/**
 * Deletes an input copy the run never started with (the command stopped on a usage error after
 * placing it), so it leaves no run folder behind.
 */
export async function removeInputCopy(store: FileObjectStore, placed: PlacedInput): Promise<void> {
  for (const [uriPrefix, , linesDropped] of placed.paths) {
    // Only copies carry the lines dropped; a linked input is the user's own file.
    if (linesDropped !== undefined) await store.delete(uriPrefix);
  }
}

async function copyWithoutHeader(
  store: FileObjectStore,
  input: InspectedInput,
  prefix: string,
): Promise<PlacedInput> {
  for await (const object of store.list(prefix)) await store.delete(object.uri);
  const paths: PlacedInput['paths'] = [];
  const base = input.isFolder ? input.path : dirname(input.path);
  for (const file of input.files) {
    const key = relative(base, file).split(sep).map(storeKey).join('/');
    const gzip = input.compression === 'Gzip';
    const source = createReadStream(file);
    const lines = gzip ? source.pipe(createGunzip()) : source;
    const dropped = { lines: 0 };
    const body = lines.pipe(dropFirstLine(dropped));
    await store.putStream(`${prefix}${key}`, gzip ? body.pipe(createGzip()) : body);
    paths.push([`${prefix}${key}`, file, dropped.lines]);
  }
  return {
    uri: input.isFolder ? prefix : `${prefix}${storeKey(basename(input.path))}`,
    inputSuffixes: undefined,
    paths,
    how: 'copied into the store without the header line (SageMaker would send it to the model)',
  };
}

/** Keys keep the user's names except characters S3 tools trip on. */
function storeKey(name: string): string {
  return name.replace(/[\\]/g, '-');
}

function suffixesOf(files: string[]): string[] {
  const suffixes = new Set<string>();
  for (const file of files) {
    const match = /(\.[^./]+(?:\.gz)?)$/i.exec(basename(file));
    if (match?.[1]) suffixes.add(match[1]);
  }
  return [...suffixes];
}

/** Drops leading blank lines and the first line (the header), counting the lines dropped. */
function dropFirstLine(dropped: { lines: number }): Transform {
  let dropping = true;
  let seenText = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (!dropping) return done(null, chunk);
      for (let i = 0; i < chunk.length; i += 1) {
        const byte = chunk[i] as number;
        if (byte === 0x0a) {
          dropped.lines += 1;
          if (seenText) {
            dropping = false;
            return done(null, chunk.subarray(i + 1));
          }
        } else if (byte !== 0x0d && byte !== 0x20 && byte !== 0x09) seenText = true;
      }
      done();
    },
  });
}
