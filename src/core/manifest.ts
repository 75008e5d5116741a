import { InvalidInputError } from '../errors.js';
import { joinS3Uri, parseS3Uri } from './s3-uri.js';

/**
 * A SageMaker manifest file: a JSON array whose first element is `{"prefix": "s3://bucket/path/"}` and
 * whose other elements are keys relative to that prefix. Batch Transform reads exactly these objects.
 */
export type ManifestDocument = [{ prefix: string }, ...string[]];

/** A manifest resolved to absolute object URIs, keeping the prefix (output keys are named relative to it). */
export interface ResolvedManifest {
  prefix: string;
  objects: { relativeKey: string; uri: string }[];
}

/**
 * Builds the manifest document for objects that all live under `prefix`.
 *
 * @throws InvalidInputError when an object is not under the prefix.
 */
export function formatManifest(prefix: string, objectUris: readonly string[]): ManifestDocument {
  const normalized = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const keys = objectUris.map((uri) => {
    if (!uri.startsWith(normalized)) {
      throw new InvalidInputError(`Object ${uri} is not under manifest prefix ${normalized}`);
    }
    return uri.slice(normalized.length);
  });
  return [{ prefix: normalized }, ...keys];
}

/**
 * Parses and checks a manifest file's text.
 *
 * @param source where the manifest came from, named in errors
 * @throws InvalidInputError naming the source and the entry when the manifest is malformed, or when an
 *   entry is empty, absolute, or climbs out of the prefix with `..`.
 */
export function parseManifest(text: string, source: string): ResolvedManifest {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`Manifest ${source} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!Array.isArray(document) || document.length === 0) {
    throw new InvalidInputError(`Manifest ${source} must be a JSON array starting with {"prefix": "s3://…"}`);
  }
  const [head, ...entries] = document as unknown[];
  const prefix = (head as { prefix?: unknown } | null)?.prefix;
  if (typeof prefix !== 'string') {
    throw new InvalidInputError(`Manifest ${source}: the first element must be {"prefix": "s3://…"}`);
  }
  parseS3Uri(prefix);
  const objects = entries.map((entry, index) => {
    const where = `Manifest ${source}, entry ${index + 1}`;
    if (typeof entry !== 'string' || entry === '') {
      throw new InvalidInputError(`${where}: expected a non-empty key relative to the prefix`);
    }
    if (entry.startsWith('/') || entry.startsWith('s3://')) {
      throw new InvalidInputError(`${where}: key "${entry}" must be relative to the prefix ${prefix}`);
    }
    if (entry.split('/').some((segment) => segment === '..' || segment === '.')) {
      throw new InvalidInputError(`${where}: key "${entry}" escapes the prefix ${prefix}`);
    }
    return { relativeKey: entry, uri: joinS3Uri(prefix, entry) };
  });
  return { prefix, objects };
}
