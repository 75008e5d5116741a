/**
 * Finds the model files in what SageMaker would hand the XGBoost container, and reads each in the format
 * its bytes are in. As the container does (serve_utils.get_loaded_booster), every top-level regular file
 * of the model directory is a model (dot files skipped), and several files make an ensemble. Locally the
 * path may be a model file, a directory (what /opt/ml/model is after SageMaker extracts the archive), or
 * the model.tar.gz itself, which is read as a stream without extracting it.
 */
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { InvalidInputError, UnsupportedModelError } from '../errors.js';
import { describeJsonModel } from './formats/json-document.js';
import { describeLegacyBinaryModel } from './formats/legacy-binary.js';
import { decodeUbjson } from './formats/ubjson.js';
import type { ModelDescription } from './model-description.js';

/** One model file: its bytes and a human name (the user's path, and the member within an archive). */
export interface ModelFile {
  bytes: Uint8Array;
  source: string;
}

/** How to re-save a pickled booster so any XGBoost reader (and this server) can load it. */
export const RESAVE_HINT =
  "load it in Python and re-save it with booster.save_model('xgboost-model.json') " +
  "(for an XGBClassifier/XGBRegressor: model.get_booster().save_model('xgboost-model.json'))";

/**
 * The model files at `path`, in the container's order: a file (a model, or a .tar.gz archive of
 * models), or a directory of them. Throws InvalidInputError naming `path` when there is none.
 */
export async function readModelFiles(path: string): Promise<ModelFile[]> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new InvalidInputError(`Model path ${path} does not exist`);
    throw error;
  });
  let files: ModelFile[];
  if (info.isDirectory()) {
    files = [];
    // os.listdir order is the directory's; sorted here so a run is reproducible on every filesystem.
    for (const name of (await readdir(path)).sort()) {
      if (name.startsWith('.')) continue;
      const full = join(path, name);
      if ((await stat(full)).isFile()) files.push({ bytes: await readFile(full), source: full });
    }
  } else if (await isGzipFile(path)) {
    files = await readTarGz(path);
  } else {
    files = [{ bytes: await readFile(path), source: path }];
  }
  if (files.length === 0) {
    throw new InvalidInputError(
      `No model file in ${path}: the SageMaker XGBoost container loads every top-level file of model.tar.gz ` +
        "(a training job writes 'xgboost-model'); this one has none",
    );
  }
  return files;
}

/**
 * Reads one model file in whichever format its bytes are: JSON (`{"`), UBJSON (`{` then a type
 * marker), or XGBoost 1.x binary, as XGBoost's Learner::LoadModel tells them apart. A pickle is refused
 * with how to re-save it: the container unpickles it with Python, which this server does not have.
 */
export function describeModelFile(file: ModelFile): ModelDescription {
  const { bytes, source } = file;
  if (isPickle(bytes)) {
    throw new UnsupportedModelError(
      `${source} is a pickled Python object (pickle.dump of a Booster, as SageMaker's oldest XGBoost ` +
        `containers wrote it). It cannot be read without Python: ${RESAVE_HINT}, and give that file instead`,
    );
  }
  let first = 0;
  while (first < bytes.length && isSpace(bytes[first] as number)) first++;
  if (bytes[first] === 0x7b) {
    const next = bytes[first + 1] ?? 0;
    if (next === 0x22 || isSpace(next) || next === 0x7d) {
      let document: unknown;
      try {
        document = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
      } catch (error) {
        throw new InvalidInputError(`${source} is not valid JSON: ${(error as Error).message}`, {
          cause: error,
        });
      }
      return describeJsonModel(document, 'json', source);
    }
    return describeJsonModel(decodeUbjson(bytes, source), 'ubj', source);
  }
  return describeLegacyBinaryModel(bytes, source);
}

/** Pickle protocol 2+ starts with PROTO (0x80) and the protocol number. */
function isPickle(bytes: Uint8Array): boolean {
  return bytes[0] === 0x80 && (bytes[1] ?? 0) >= 2 && (bytes[1] ?? 0) <= 5;
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

async function isGzipFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    return head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** The archive's top-level regular files (as /opt/ml/model would hold them after extraction). */
async function readTarGz(path: string): Promise<ModelFile[]> {
  const files: ModelFile[] = [];
  const tar = extract();
  tar.on('entry', (header, stream, next) => {
    const name = header.name.replace(/^(\.\/)+/, '');
    const topLevel = name !== '' && !name.includes('/') && !name.startsWith('.');
    if (header.type !== 'file' || !topLevel) {
      stream.on('end', next);
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => {
      files.push({ bytes: Buffer.concat(chunks), source: `${path} (${name})` });
      next();
    });
  });
  try {
    await pipeline(createReadStream(path), createGunzip(), tar);
  } catch (error) {
    throw new InvalidInputError(`${path} is not a readable tar.gz archive: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return files.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}
