/**
 * Finds the model file in what SageMaker would hand a container: a model file, the model directory
 * (/opt/ml/model, where SageMaker extracts model.tar.gz), or the model.tar.gz itself (what a local
 * ModelDataUrl may point at, since nothing extracts it locally).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InvalidInputError } from '../errors.js';

/** File names tried in a model directory or archive, in order; then the only `.json` file. */
export const MODEL_FILE_NAMES = ['xgboost-model.json', 'model.json', 'xgboost-model'] as const;

/** The bytes of the model file and a human name for it (for error messages and the start-up line). */
export interface ModelArtifact {
  bytes: Uint8Array;
  source: string;
}

/**
 * Reads the model file at `path`: a file, a directory holding one of {@link MODEL_FILE_NAMES} (or a
 * single `.json` file), or a `.tar.gz` archive holding the same.
 */
export async function readModelArtifact(path: string): Promise<ModelArtifact> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new InvalidInputError(`Model path ${path} does not exist`);
    throw error;
  });
  if (info.isDirectory()) {
    const names = await readdir(path);
    const name = pickModelFile(names, path);
    return { bytes: await readFile(join(path, name)), source: join(path, name) };
  }
  const bytes = await readFile(path);
  if (/\.(tar\.gz|tgz)$/i.test(path) || isGzip(bytes)) {
    const files = readTar(gunzipSync(bytes));
    const name = pickModelFile([...files.keys()], path);
    return { bytes: files.get(name) as Uint8Array, source: `${path}!${name}` };
  }
  return { bytes, source: path };
}

function pickModelFile(names: string[], where: string): string {
  const byBase = new Map(names.map((name) => [basename(name), name]));
  for (const wanted of MODEL_FILE_NAMES) {
    const found = byBase.get(wanted);
    if (found) return found;
  }
  const json = names.filter((name) => name.endsWith('.json'));
  if (json.length === 1) return json[0] as string;
  throw new InvalidInputError(
    `No model file in ${where}: expected one of ${MODEL_FILE_NAMES.join(', ')} or a single .json file` +
      (names.length > 0 ? ` (found ${names.slice(0, 10).join(', ')})` : ' (it is empty)'),
  );
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Regular files of a tar archive by path. Handles ustar prefixes, GNU long names and pax paths. */
function readTar(tar: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (start: number, length: number) => {
    const slice = tar.subarray(start, start + length);
    const end = slice.indexOf(0);
    return Buffer.from(slice.subarray(0, end === -1 ? length : end)).toString('utf8');
  };
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    if (tar[offset] === 0) break; // end-of-archive block
    const size = Number.parseInt(text(offset + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(tar[offset + 156] ?? 0);
    const prefix = text(offset + 257, 6) === 'ustar' ? text(offset + 345, 155) : '';
    const headerName = prefix ? `${prefix}/${text(offset, 100)}` : text(offset, 100);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    if (type === 'L') {
      longName = Buffer.from(body).toString('utf8').replace(/\0+$/, '');
    } else if (type === 'x') {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.from(body).toString('utf8'));
      if (path) longName = path[1];
    } else {
      if (type === '0' || type === '\0') files.set((longName ?? headerName).replace(/^\.\//, ''), body);
      longName = undefined;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
