import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidInputError, ObjectNotFoundError, PredictionMismatchError } from '../errors.js';
import type { JobResult, ParseRequest } from '../generated/schema-types.js';
import type { ObjectStore } from '../ports.js';
import { compileJsonPath } from './data-processing.js';
import { FeatureStatistics } from './feature-stats.js';
import { readInputIdentities, verifyInputIdentity } from './input-identity.js';
import { LineCursor } from './line-cursor.js';
import { parseManifest } from './manifest.js';
import { resultsFormatOf } from './media-types.js';
import { selectedKeysOf } from './prediction-formats.js';
import type { InputFormat, Settings } from './result-records.js';
import { RowWriter } from './result-rows.js';
import {
  actualColumnIndex,
  assertIdentifier,
  idColumnIndex,
  partitionLocation,
  resultsTableDefinition,
} from './results-table.js';
import { attemptLocation } from './run-attempt.js';
import { statsLocation } from './stats-table.js';
import { transformOutputUri } from './transform-output.js';

/**
 * What ParseResults needs to turn one transform job's output into result rows: the parse request
 * BuildManifest plans, generated from schemas/parse-results-event.schema.json (each field's meaning is
 * written there).
 */
export type ParseTransformOutputRequest = ParseRequest;

/** ParseResults' output: what RegisterTable and RunQueries need from one job (its {@link JobResult}). */
export type ParseTransformOutputResult = JobResult;

/**
 * How far ParseResults is through a job's inputs, for a progress display (the local CLI): sent as an
 * object starts, every few thousand records joined, and as it is done. Nothing in the result depends on it.
 */
export interface ParseProgressEvent {
  type: 'object-started' | 'records-joined' | 'object-joined';
  variant: string;
  shardId: string;
  inputUri: string;
  /** 1-based position of the object among the job's inputs, and how many the job has. */
  object: number;
  objects: number;
  /** Records joined so far in this object, and in the job. */
  records: number;
  jobRecords: number;
  /** Bytes of the object read so far (compressed bytes for Gzip) and its size. */
  bytesRead: number;
  bytesTotal: number;
}

/** The ports ParseResults uses: the object store, a clock for the statistics' timestamp, progress. */
export interface ParseTransformOutputDeps {
  store: ObjectStore;
  now?: () => Date;
  /** Told how far the join is (see {@link ParseProgressEvent}); absent on AWS. */
  onProgress?: (event: ParseProgressEvent) => void;
}

/** Records joined between two `records-joined` events (a power of two: the check is a mask). */
const PROGRESS_EVERY_RECORDS = 8192;

const RUN_DATE = /^\d{4}-\d{2}-\d{2}$/;
const SHARD_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Joins each input record with its prediction and writes the rows as JSON lines to the attempt's folder
 * of the run's partition:
 * `<resultsPrefix><table>/run_date=<d>/run_id=<r>/variant=<v>/attempt=<attemptId>/part-<shardId>.json`,
 * which no query reads until RegisterTable switches the partition to it.
 *
 * Inputs and outputs are read line by line in lockstep and rows are streamed to the store, so memory
 * does not grow with the data. The part file appears only when every record has its prediction; a
 * re-run writes the same file name, so results are replaced, never duplicated.
 *
 * @throws PredictionMismatchError when an input object has more records than its output has predictions
 *   or fewer, or a prediction is not numeric (naming the files and the record).
 * @throws InvalidInputError when the request is malformed or a feature is not numeric.
 * @throws ObjectNotFoundError when the manifest, an input or its output object does not exist.
 */
export async function parseTransformOutput(
  request: ParseTransformOutputRequest,
  deps: ParseTransformOutputDeps,
): Promise<ParseTransformOutputResult> {
  const { store } = deps;
  const settings = readSettings(request);
  const table = resultsTableDefinition({
    database: 'results',
    table: request.results.table,
    resultsPrefix: request.results.resultsPrefix,
  });
  const values = [request.runDate, request.runId, request.variant];
  const location = attemptLocation(partitionLocation(table, values), request.attemptId);
  const partUri = `${location}part-${request.shardId}.json`;

  const manifest = parseManifest(
    Buffer.from(await store.getBytes(request.inputManifestUri)).toString('utf8'),
    request.inputManifestUri,
  );
  const counts = { recordsIn: 0, recordsOut: 0 };
  const statistics = new FeatureStatistics(settings.modelFeatureNames);
  // Recorded by BuildManifest. On AWS SageMaker reads the inputs itself, so this is where an object
  // overwritten after planning (before or during the transform, or since) is caught: its features
  // would be joined with scores computed from another version.
  const identities = await readInputIdentities(store, request.inputManifestUri);
  const report = deps.onProgress;
  const rows = async function* (): AsyncGenerator<Buffer> {
    for (const [index, object] of manifest.objects.entries()) {
      const outputUri = transformOutputUri(manifest.prefix, object.uri, request.transformOutputPath);
      const identity = identities?.[object.uri];
      await verifyInputIdentity(store, object.uri, identity);
      const progress = report && {
        report,
        base: {
          variant: request.variant,
          shardId: request.shardId,
          inputUri: object.uri,
          object: index + 1,
          objects: manifest.objects.length,
          bytesTotal: (await store.head(object.uri))?.size ?? 0,
        },
      };
      yield* joinObject(store, object.uri, outputUri, settings, counts, statistics, progress);
      // Again once read: an overwrite while it was read is caught before the part file is committed.
      await verifyInputIdentity(store, object.uri, identity);
    }
  };
  await store.putStream(partUri, rows(), { contentType: 'application/x-ndjson' });
  // The statistics gathered while the rows were written, for the <table>_stats table (drift, evaluation).
  const statsUri = statsLocation(table.location, partUri);
  await store.put(
    statsUri,
    statistics.toJsonLines({
      runId: request.runId,
      variant: request.variant,
      shardId: request.shardId,
      parsedAt: (deps.now ?? (() => new Date()))().toISOString(),
      threshold: settings.threshold,
      labels: settings.labels,
    }),
    { contentType: 'application/x-ndjson' },
  );
  return { ...counts, partition: { values, location }, files: [partUri] };
}

function readSettings(request: ParseTransformOutputRequest): Settings {
  if (!RUN_DATE.test(request.runDate)) {
    throw new InvalidInputError(`runDate must be YYYY-MM-DD, got "${request.runDate}"`);
  }
  if (!SHARD_ID.test(request.shardId)) {
    throw new InvalidInputError(`shardId must be letters, digits, _ or -, got "${request.shardId}"`);
  }
  assertIdentifier(request.results.table, 'table name');
  if (request.splitType !== 'Line') {
    throw new InvalidInputError(
      `SplitType ${request.splitType} cannot be joined record by record: ParseResults needs SplitType Line`,
    );
  }
  if (request.compressionType !== 'None' && request.compressionType !== 'Gzip') {
    throw new InvalidInputError(`CompressionType must be None or Gzip, got "${request.compressionType}"`);
  }
  const { labels, featureNames, idColumn, actualColumn } = request.results;
  const threshold = request.results.threshold;
  if (!Number.isFinite(threshold)) throw new InvalidInputError(`threshold must be a number`);
  if (labels && (labels.length < 2 || new Set(labels).size !== labels.length)) {
    throw new InvalidInputError(
      `labels must name at least two distinct classes, got ${JSON.stringify(labels)}`,
    );
  }
  const input = mediaFormat(request.contentType, 'ContentType');
  const idIndex = idColumnIndex(request.results, input === 'csv');
  const actualIndex = actualColumnIndex(request.results, input === 'csv');
  return {
    input,
    output: mediaFormat(request.accept, 'Accept'),
    predictionFormat: { selectedKeys: selectedKeysOf(request.outputSelection) },
    joinInput: request.joinSource === 'Input',
    inputFilter:
      request.inputFilter === undefined || request.inputFilter.trim() === '$'
        ? undefined
        : compileJsonPath(request.inputFilter),
    gzip: request.compressionType === 'Gzip',
    threshold,
    labels,
    labelFragments: labels?.map((l) => `,"label":${JSON.stringify(l)}`),
    featureNames,
    idColumn,
    idIndex,
    actualColumn,
    actualIndex,
    modelFeatureNames: featureNames?.filter((name) => name !== idColumn && name !== actualColumn),
    storeFeatures: request.results.storeFeatures !== false,
    modelFragment: `,"model":${JSON.stringify(request.modelName)}}\n`,
  };
}

function mediaFormat(mediaType: string, field: string): InputFormat {
  const format = resultsFormatOf(mediaType);
  if (format) return format;
  throw new InvalidInputError(
    `${field} ${mediaType} is not supported by ParseResults: use text/csv or application/jsonlines`,
  );
}

/** One input object and its output, joined: yields chunks of JSON lines and counts records. */
async function* joinObject(
  store: ObjectStore,
  inputUri: string,
  outputUri: string,
  settings: Settings,
  counts: { recordsIn: number; recordsOut: number },
  statistics: FeatureStatistics,
  progress?: {
    report: (event: ParseProgressEvent) => void;
    base: Omit<ParseProgressEvent, 'type' | 'records' | 'jobRecords' | 'bytesRead'>;
  },
): AsyncGenerator<Buffer> {
  const inputStream = await store.getStream(inputUri);
  let outputStream: Readable;
  try {
    outputStream = await store.getStream(outputUri);
  } catch (error) {
    inputStream.destroy();
    if (error instanceof ObjectNotFoundError) {
      throw new ObjectNotFoundError(`No transform output ${outputUri} for input ${inputUri}`, {
        cause: error,
      });
    }
    throw error;
  }
  const gunzip = settings.gzip ? createGunzip({ chunkSize: 1 << 18 }) : undefined;
  const inputBytes = gunzip ? inputStream.pipe(gunzip) : inputStream;
  // Both streams are walked line by line in lockstep without an object, string or await per record:
  // at hundreds of thousands of records per second, those would cost more than the joining itself.
  const inputs = new LineCursor(inputBytes, { onError: (error) => asInputError(error, inputUri) });
  const outputs = new LineCursor(outputStream, { onError: (error) => asInputError(error, outputUri) });
  const writer = new RowWriter(inputUri, outputUri, settings, statistics);
  let records = 0;
  const tell = (type: ParseProgressEvent['type']) =>
    progress?.report({
      ...progress.base,
      type,
      records,
      jobRecords: counts.recordsIn + records,
      bytesRead: bytesJoined(inputs, gunzip),
    });
  tell('object-started');
  try {
    for (;;) {
      if (!inputs.find() && !inputs.ended) {
        await inputs.fill();
        continue;
      }
      if (!outputs.find() && !outputs.ended) {
        await outputs.fill();
        continue;
      }
      const hasInput = inputs.find();
      const hasOutput = outputs.find();
      if (!hasInput || !hasOutput) {
        if (!hasInput && !hasOutput) break;
        const first = hasInput
          ? `; input line ${inputs.line} is the first with no prediction`
          : `; output line ${outputs.line} is the first with no input record`;
        const totalRecords = records + (await inputs.countRest());
        const totalPredictions = records + (await outputs.countRest());
        throw new PredictionMismatchError(
          `${inputUri}: ${totalRecords} records but ${totalPredictions} predictions in ${outputUri}${first}`,
        );
      }
      writer.row(inputs, outputs);
      inputs.consume();
      outputs.consume();
      records += 1;
      if (progress && (records & (PROGRESS_EVERY_RECORDS - 1)) === 0) tell('records-joined');
      if (writer.hasFull) for (let chunk = writer.takeFull(); chunk; chunk = writer.takeFull()) yield chunk;
    }
    const last = writer.takeRest();
    if (last) yield last;
  } finally {
    inputStream.destroy();
    outputStream.destroy();
  }
  tell('object-joined');
  counts.recordsIn += records;
  counts.recordsOut += records;
}

/**
 * How far into the object the records joined reach, in the object's own bytes: the cursor's position
 * (lines are read a chunk ahead of it); for Gzip, the compressed bytes taken in so far scaled by the
 * share of the decompressed bytes reached.
 */
function bytesJoined(inputs: LineCursor, gunzip: { bytesWritten: number } | undefined): number {
  if (!gunzip) return inputs.position;
  if (inputs.ended && inputs.position >= inputs.bytesRead) return gunzip.bytesWritten;
  return inputs.bytesRead > 0 ? Math.round((gunzip.bytesWritten * inputs.position) / inputs.bytesRead) : 0;
}

/** zlib reports corrupt gzip as a bare Z_DATA_ERROR; say which object it was. */
function asInputError(error: unknown, uri: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new InvalidInputError(`${uri}: cannot decompress (Gzip): ${(error as Error).message}`, {
      cause: error,
    });
  }
  return error;
}
