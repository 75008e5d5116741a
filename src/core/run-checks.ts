import { InvalidInputError } from '../errors.js';
import { actualColumnIndex, idColumnIndex } from './results-table.js';
import type { RunRequest } from './run-request.js';

/**
 * Plan-time checks: every rule that can be checked from the run request alone runs here, in
 * BuildManifest, before any model is created or transform job started, so a run that would fail after
 * its jobs were billed fails in seconds instead. Each owner adds its rule functions to this module and
 * calls them from {@link checkRunRequest}. Messages name the request field and say the fix.
 */

/** What the checks need besides the request. */
export interface RunCheckContext {
  /** The named queries that exist (queries/*.sql), to check `queries` against. */
  knownQueries?: readonly string[];
}

/**
 * Runs every plan-time check on a run request (already schema-valid).
 *
 * @throws InvalidInputError naming the first field that cannot work and how to fix it.
 */
export function checkRunRequest(request: RunRequest, context: RunCheckContext = {}): void {
  checkVariants(request);
  checkQueries(request, context.knownQueries);
  checkResultsSettings(request);
}

/** Two variants with one name would write one partition: the second would silently replace the first. */
function checkVariants(request: RunRequest): void {
  const seen = new Set<string>();
  for (const [index, model] of request.models.entries()) {
    if (seen.has(model.variant)) {
      throw new InvalidInputError(
        `models[${index}].variant "${model.variant}" is used twice: give each model variant its own name`,
      );
    }
    seen.add(model.variant);
  }
}

/** A query name RunQueries cannot load would fail the run after every job ran (and was billed). */
function checkQueries(request: RunRequest, known: readonly string[] | undefined): void {
  if (!known || !request.queries) return;
  const unknown = request.queries.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `queries names ${unknown.map((n) => `"${n}"`).join(', ')}, which ${unknown.length > 1 ? 'are' : 'is'} not a named query: use one of ${known.join(', ')} (files in queries/)`,
    );
  }
}

/** Media types ParseResults can join record by record (input side and output side). */
const PARSEABLE_TYPES = ['text/csv', 'application/jsonlines', 'application/json'];

/** Results settings ParseResults would reject after the jobs ran, checked against the transform settings. */
function checkResultsSettings(request: RunRequest): void {
  const t = request.transform ?? {};
  const contentType = mediaType(t.ContentType ?? 'text/csv');
  const accept = mediaType(t.Accept ?? 'text/csv');
  const splitType = t.SplitType ?? 'Line';
  if (splitType !== 'Line') {
    throw new InvalidInputError(
      `transform.SplitType is ${splitType}, but the results are joined record by record with the input: use SplitType Line`,
    );
  }
  if (!PARSEABLE_TYPES.includes(contentType)) {
    throw new InvalidInputError(
      `transform.ContentType ${t.ContentType} cannot be joined with the results: use text/csv or application/jsonlines`,
    );
  }
  if (!PARSEABLE_TYPES.includes(accept)) {
    throw new InvalidInputError(
      `transform.Accept ${t.Accept} cannot be read by ParseResults: use text/csv or application/jsonlines`,
    );
  }
  const results = request.results ?? {};
  if (results.threshold !== undefined && !(results.threshold >= 0 && results.threshold <= 1)) {
    throw new InvalidInputError(
      `results.threshold ${results.threshold} is not a probability: use a number from 0 to 1`,
    );
  }
  if (
    results.labels &&
    (results.labels.length < 2 || new Set(results.labels).size !== results.labels.length)
  ) {
    throw new InvalidInputError(
      `results.labels must name at least two distinct classes, got ${JSON.stringify(results.labels)}`,
    );
  }
  idColumnIndex(results, contentType === 'text/csv');
  actualColumnIndex(results, contentType === 'text/csv');
}

/**
 * Plan-time check on the listed input: Batch Transform writes each input's output at its key relative to
 * the input prefix plus ".out", so an input `a.csv` and an input `a.csv.out/b.csv` would need
 * `a.csv.out` to be both an object and a folder of objects. S3 allows that, the local store (a
 * filesystem) cannot, and any reader of the output folder would confuse the two; the run fails here,
 * before any job starts, naming both input keys.
 *
 * @param prefix the input prefix the relative keys are taken from (as in transformOutputUri)
 * @param inputUris the input objects' URIs, all under `prefix`
 * @throws InvalidInputError naming the two input objects and the output key they share.
 */
export function checkOutputKeyCollisions(prefix: string, inputUris: readonly string[]): void {
  const relative = (uri: string) => (uri.startsWith(prefix) ? uri.slice(prefix.length) : uri);
  // Every folder an input's key passes through, mapped to one input below it.
  const folders = new Map<string, string>();
  for (const uri of inputUris) {
    const key = relative(uri);
    for (let i = key.indexOf('/'); i > 0; i = key.indexOf('/', i + 1)) {
      const folder = key.slice(0, i);
      if (!folders.has(folder)) folders.set(folder, uri);
    }
  }
  for (const uri of inputUris) {
    const output = `${relative(uri)}.out`;
    const other = folders.get(output);
    if (other !== undefined) {
      throw new InvalidInputError(
        `input objects ${uri} and ${other} collide: the transform output of ${uri} is "${output}", ` +
          `which is also the folder holding the output of ${other}. Rename or move one of them ` +
          `(or leave it out with inputSuffixes).`,
      );
    }
  }
}

function mediaType(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}
