import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { InvalidInputError, ObjectNotFoundError, PredictionMismatchError } from '../errors.js';
import type { ObjectStore, PartitionDefinition } from '../ports.js';
import { compileJsonPath, type JsonSelector, parseCsvRecord } from './data-processing.js';
import { FeatureStatistics, statsLocation } from './feature-stats.js';
import { readInputIdentities, verifyInputIdentity } from './input-identity.js';
import { copyNumberListWithNulls, jsonNumberValue, NumberListScan } from './json-numbers.js';
import { LineCursor } from './line-cursor.js';
import { parseManifest } from './manifest.js';
import { resultsFormatOf } from './media-types.js';
import {
  type Prediction,
  type PredictionFormat,
  parsePredictionLine,
  selectedKeysOf,
} from './prediction-formats.js';
import {
  actualColumnIndex,
  assertIdentifier,
  idColumnIndex,
  partitionLocation,
  resultsTableDefinition,
} from './results-table.js';
import { attemptLocation } from './run-attempt.js';
import { transformOutputUri } from './transform-output.js';

/** What ParseResults needs to turn one transform job's output into result rows. */
export interface ParseTransformOutputRequest {
  runId: string;
  /** `YYYY-MM-DD` */
  runDate: string;
  /** The attempt (src/core/run-attempt.ts): rows go to the partition's `attempt=<attemptId>/` folder. */
  attemptId: string;
  variant: string;
  modelName: string;
  /** Names the part file, so a re-run of the same shard overwrites instead of duplicating. */
  shardId: string;
  /** The manifest the transform job read: its objects are the inputs, in order. */
  inputManifestUri: string;
  /** The job's S3OutputPath: each input's predictions are in `<path>/<relative key>.out`. */
  transformOutputPath: string;
  /** `text/csv` or `application/jsonlines` (`application/json` is read as JSON lines, as SplitType Line implies). */
  contentType: string;
  /** Only `Line`: it is what makes one output line the prediction for one input record. */
  splitType: string;
  compressionType: string;
  /** `text/csv` or `application/jsonlines`. */
  accept: string;
  /**
   * SAGEMAKER_INFERENCE_OUTPUT as the container was given it (the variant's or the job's Environment),
   * when set: the keys of CSV selection rows.
   */
  outputSelection?: string;
  /**
   * DataProcessing.JoinSource: with `Input` each output line is the input record with the prediction
   * appended (CSV) or under `SageMakerOutput` (JSON); the prediction is read from that part.
   */
  joinSource?: 'Input' | 'None';
  /** DataProcessing.InputFilter as the request set it: the features stored are what it sent the model. */
  inputFilter?: string;
  results: {
    table: string;
    /** `s3://bucket/results/` */
    resultsPrefix: string;
    /** Binary models: the score at or above which the label is `labels[1]` (BuildManifest applies the default). */
    threshold: number;
    /**
     * Class names. Two labels and one score per record: binary, the score is the probability of
     * `labels[1]`. A score per class: multiclass, the label is the arg-max class. More than two labels
     * and one value per record: the value is the class index.
     */
    labels?: string[];
    /** Names of the input's columns (CSV, JSON arrays) or the keys to read from JSON objects, in order. */
    featureNames?: string[];
    /** A column (one of featureNames, or a JSON object key) holding the record id; it is not a feature. */
    idColumn?: string;
    /** A column (one of featureNames, or a JSON object key) holding the true outcome, stored as `actual`. */
    actualColumn?: string;
    /** false: rows carry `"features":null` instead of the input's features (default true). */
    storeFeatures?: boolean;
  };
}

/** ParseResults' output: what RegisterTable and RunQueries need from one job. */
export interface ParseTransformOutputResult {
  recordsIn: number;
  recordsOut: number;
  partition: PartitionDefinition;
  files: string[];
}

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

type InputFormat = 'csv' | 'jsonlines';

interface Settings {
  input: InputFormat;
  output: InputFormat;
  predictionFormat: PredictionFormat;
  /** JoinSource Input: the prediction is the part of the output line after the input record. */
  joinInput: boolean;
  /** The request's InputFilter, compiled: the features are what it selects. */
  inputFilter: JsonSelector | undefined;
  gzip: boolean;
  threshold: number;
  labels: string[] | undefined;
  /** Pre-encoded `,"label":"…"` fragments, one per label, so rows do not re-escape label strings. */
  labelFragments: string[] | undefined;
  featureNames: string[] | undefined;
  idColumn: string | undefined;
  /** Index of the id column among featureNames (CSV and JSON array records), or -1. */
  idIndex: number;
  actualColumn: string | undefined;
  /** Index of the true-outcome column among featureNames, or -1. */
  actualIndex: number;
  /** featureNames without the id and actual columns: the names of the features the rows store. */
  modelFeatureNames: string[] | undefined;
  /** Whether rows carry the features (results.storeFeatures, default true). */
  storeFeatures: boolean;
  modelFragment: string;
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

/** Rows are built as UTF-8 bytes in chunks of this size, handed to the store whole. */
const CHUNK_BYTES = 1 << 18;
const FEATURES_OPEN = Buffer.from(',"features":[');
const FEATURES_CLOSE = Buffer.from(']');
const FEATURES_CLOSE_SCORE = Buffer.from('],"score":');
/** A row's features when results.storeFeatures is false: the column stays, empty. */
const NO_FEATURES = Buffer.from(',"features":null');
const NO_FEATURES_SCORE = Buffer.from(',"features":null,"score":');
/** Fragments up to this many bytes are copied with a loop rather than a native copy call. */
const SMALL_COPY = 32;
const ID = Buffer.from(',"id":');
const ACTUAL = Buffer.from(',"actual":');
/** Room for a row's record number: up to 16 digits. */
const RECORD_NUMBER_BYTES = 16;
/** `null`, written for an empty CSV field. */
const NULL_BYTES = 4;

/**
 * Joins one input object's records with their predictions into JSON lines, written straight into
 * byte chunks: the common numeric case copies input and output bytes without making JS strings.
 */
class RowWriter {
  /** True when {@link takeFull} has a chunk. */
  hasFull = false;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private position = 0;
  private readonly full: Buffer[] = [];
  private readonly inputUri: string;
  private readonly outputUri: string;
  private readonly settings: Settings;
  /** The row prefix is the same for every record of the object: encoded once. */
  private readonly sourceFragment: Buffer;
  private readonly labelFragments: Buffer[] | undefined;
  private readonly modelFragment: Buffer;
  /** Per label: its fragment followed by the model's, the end of a row with that label. */
  private readonly labelEnds: Buffer[] | undefined;
  /** The bytes of a row that are not the input's or the output's own (the longest label counted). */
  private readonly fixedBytes: number;
  /** Numbers a CSV line must hold to be copied as is: -1 any, 0 never (an id column to take out). */
  private readonly plainCsvColumns: number;
  private readonly scan = new NumberListScan();
  private readonly statistics: FeatureStatistics;

  constructor(inputUri: string, outputUri: string, settings: Settings, statistics: FeatureStatistics) {
    this.statistics = statistics;
    this.inputUri = inputUri;
    this.outputUri = outputUri;
    this.settings = settings;
    this.sourceFragment = Buffer.from(`{"source":${JSON.stringify(inputUri)},"record":`);
    this.labelFragments = settings.labelFragments?.map((f) => Buffer.from(f));
    this.modelFragment = Buffer.from(settings.modelFragment);
    this.labelEnds = this.labelFragments?.map((f) => Buffer.concat([f, this.modelFragment]));
    this.fixedBytes =
      this.sourceFragment.length +
      RECORD_NUMBER_BYTES +
      FEATURES_OPEN.length +
      FEATURES_CLOSE_SCORE.length +
      Math.max(0, ...(this.labelFragments ?? []).map((f) => f.length)) +
      this.modelFragment.length;
    this.plainCsvColumns =
      settings.input !== 'csv' ||
      settings.idIndex !== -1 ||
      settings.actualIndex !== -1 ||
      settings.inputFilter !== undefined ||
      settings.joinInput
        ? 0
        : (settings.featureNames?.length ?? -1);
  }

  /** Writes the row joining the input's current line with the output's. */
  row(input: LineCursor, output: LineCursor): void {
    const inputLength = input.end - input.start;
    const outputLength = output.end - output.start;
    const scan = this.scan;
    let plainFeatures = false;
    let emptyFields = 0;
    if (this.plainCsvColumns !== 0) {
      if (scan.isPlainList(input.text(), input.start, input.end, this.plainCsvColumns)) {
        plainFeatures = true;
      } else if (
        scan.scan(input.buffer, input.start, input.end) &&
        (this.plainCsvColumns === -1 || scan.fields === this.plainCsvColumns)
      ) {
        plainFeatures = true;
        emptyFields = scan.emptyFields;
      }
    }
    // One JSON number per line is the common output: its bytes go into the row as written.
    const plainScore =
      this.settings.output === 'csv' &&
      scan.scan(output.buffer, output.start, output.end) &&
      scan.fields === 1 &&
      scan.emptyFields === 0;
    if (!plainFeatures || !plainScore) {
      this.checkedRow(input, output, plainFeatures && emptyFields === 0);
      return;
    }
    const score = jsonNumberValue(output.buffer, output.start, output.end);
    this.statistics.addRow(input.buffer, input.start, input.end, score, 1, undefined);
    // The row's end, label and model, is one of a few fragments made once.
    const labelIndex = this.labelEnds ? this.labelFor(score, output.line) : -1;
    const end =
      this.labelEnds && labelIndex >= 0 ? (this.labelEnds[labelIndex] as Buffer) : this.modelFragment;
    this.statistics.addLabel(labelIndex >= 0 ? (this.settings.labels?.[labelIndex] ?? null) : null);
    this.reserve(this.fixedBytes + inputLength + NULL_BYTES * emptyFields + outputLength);
    this.copy(this.sourceFragment, 0, this.sourceFragment.length);
    this.recordNumber(input.line);
    if (!this.settings.storeFeatures) {
      this.put(NO_FEATURES_SCORE, 0, NO_FEATURES_SCORE.length);
      this.put(output.buffer, output.start, output.end);
      this.put(end as Buffer, 0, (end as Buffer).length);
      return;
    }
    this.put(FEATURES_OPEN, 0, FEATURES_OPEN.length);
    if (emptyFields === 0) this.copy(input.buffer, input.start, input.end);
    else {
      // Empty fields are missing values (XGBoost reads them so): JSON null.
      this.position = copyNumberListWithNulls(
        input.buffer,
        input.start,
        input.end,
        this.chunk,
        this.position,
      );
    }
    this.put(FEATURES_CLOSE_SCORE, 0, FEATURES_CLOSE_SCORE.length);
    this.put(output.buffer, output.start, output.end);
    this.put(end as Buffer, 0, (end as Buffer).length);
  }

  /** A completed chunk, or undefined when none is full yet. */
  takeFull(): Buffer | undefined {
    const chunk = this.full.shift();
    this.hasFull = this.full.length > 0;
    return chunk;
  }

  /** Whatever has been written and not yet taken. */
  takeRest(): Buffer | undefined {
    if (this.position === 0) return undefined;
    const rest = this.chunk.subarray(0, this.position);
    this.position = 0;
    return rest;
  }

  /** The general row: features or prediction parsed, checked and formatted (errors name the record). */
  private checkedRow(input: LineCursor, output: LineCursor, plainFeatures: boolean): void {
    const { settings } = this;
    const inputData = input.buffer.subarray(input.start, input.end);
    const outputData = output.buffer.subarray(output.start, output.end);
    let features: Buffer | string = inputData;
    let id: string | undefined;
    let actual: string | undefined;
    if (!plainFeatures) {
      const text = inputData.toString('utf8');
      // With an InputFilter and no id or actual column, the record's other fields need not be numbers.
      const filterOnly = settings.inputFilter && settings.idIndex === -1 && settings.actualIndex === -1;
      const parsed = filterOnly
        ? { features: '', id: undefined, actual: undefined }
        : settings.input === 'csv'
          ? csvFeatures(text, input.line, this.inputUri, settings)
          : jsonFeatures(text, input.line, this.inputUri, settings);
      features = settings.inputFilter
        ? filteredFeatures(text, input.line, this.inputUri, settings)
        : parsed.features;
      id = parsed.id;
      actual = normalizeActual(parsed.actual, settings.labels);
    }
    const parsedPrediction = parsePrediction(
      settings.joinInput
        ? joinedPrediction(inputData, outputData, output.line, this.outputUri, settings)
        : outputData,
      output.line,
      input.line,
      this.inputUri,
      this.outputUri,
      settings.predictionFormat,
    );
    const prediction = predictionFragment(parsedPrediction, output.line, this.outputUri, settings);
    const featureBytes = typeof features === 'string' ? Buffer.from(features, 'latin1') : features;
    this.statistics.addRow(
      featureBytes,
      0,
      featureBytes.length,
      typeof parsedPrediction === 'number' ? parsedPrediction : Math.max(...parsedPrediction),
      typeof parsedPrediction === 'number' ? 1 : parsedPrediction.length,
      actual,
    );
    this.statistics.addLabel(labelOf(parsedPrediction, settings));
    // Numbers and `null` are ASCII: latin1 encodes them a byte per character.
    const parts = [this.sourceFragment, Buffer.from(String(input.line), 'latin1')];
    if (id !== undefined) parts.push(ID, Buffer.from(JSON.stringify(id), 'utf8'));
    if (actual !== undefined) parts.push(ACTUAL, Buffer.from(JSON.stringify(actual), 'utf8'));
    if (settings.storeFeatures) parts.push(FEATURES_OPEN, featureBytes, FEATURES_CLOSE);
    else parts.push(NO_FEATURES);
    parts.push(Buffer.from(prediction, 'utf8'), this.modelFragment);
    this.reserve(parts.reduce((total, part) => total + part.length, 0));
    for (const part of parts) this.put(part, 0, part.length);
  }

  /** The index of the score's label. */
  private labelFor(score: number, outputLine: number): number {
    const fragments = this.labelFragments as Buffer[];
    if (!Number.isFinite(score)) {
      // Valid JSON number syntax can still overflow a double (1e999).
      throw new PredictionMismatchError(
        `${this.outputUri}, line ${outputLine}: prediction ${score} is not finite`,
      );
    }
    if (fragments.length === 2) return score >= this.settings.threshold ? 1 : 0;
    if (!Number.isInteger(score) || score < 0 || score >= fragments.length) {
      throw new PredictionMismatchError(
        `${this.outputUri}, line ${outputLine}: ${score} is not a class index for ${fragments.length} labels`,
      );
    }
    return score;
  }

  /** Makes room for `length` bytes in the current chunk (a row is never split across chunks). */
  private reserve(length: number): void {
    if (this.position + length <= this.chunk.length) return;
    if (this.position > 0) {
      this.full.push(this.chunk.subarray(0, this.position));
      this.hasFull = true;
    }
    this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, length));
    this.position = 0;
  }

  /** Copies bytes the caller has reserved room for. */
  private copy(data: Buffer, start: number, end: number): void {
    this.position += data.copy(this.chunk, this.position, start, end);
  }

  /** {@link copy}, by a byte loop when short (cheaper than a native call for a few bytes). */
  private put(data: Buffer, start: number, end: number): void {
    if (end - start > SMALL_COPY) {
      this.copy(data, start, end);
      return;
    }
    const chunk = this.chunk;
    let at = this.position;
    for (let i = start; i < end; i += 1) chunk[at++] = data[i] as number;
    this.position = at;
  }

  /** Writes a record number the caller has reserved room for, digit by digit (no string). */
  private recordNumber(value: number): void {
    const chunk = this.chunk;
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
    let at = this.position + digits;
    this.position = at;
    let rest = value;
    do {
      at -= 1;
      chunk[at] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    } while (rest > 0);
  }
}

/** Returns the features as JSON array content (without brackets) and the id, when configured. */
function csvFeatures(
  line: string,
  index: number,
  uri: string,
  settings: Settings,
): { features: string; id: string | undefined; actual: string | undefined } {
  // Numeric CSV needs no CSV parser: numbers cannot contain commas, quotes or newlines, so a split on
  // "," is exact. Only a line with a quote (a quoted field) needs real CSV parsing.
  const fields = line.includes('"') ? csvFields(line, index, uri) : line.split(',');
  if (settings.featureNames && fields.length !== settings.featureNames.length) {
    throw new InvalidInputError(
      `${uri}, record ${index}: ${fields.length} columns but ${settings.featureNames.length} featureNames`,
    );
  }
  let features = '';
  let separator = '';
  let id: string | undefined;
  let actual: string | undefined;
  for (let i = 0; i < fields.length; i += 1) {
    const field = fields[i] as string;
    if (i === settings.idIndex) {
      id = field;
      continue;
    }
    if (i === settings.actualIndex) {
      actual = field;
      continue;
    }
    features += separator + featureValue(field, i, index, uri, settings);
    separator = ',';
  }
  return { features, id, actual };
}

function csvFields(line: string, index: number, uri: string): string[] {
  try {
    const rows = parseCsv(line, { relax_column_count: true }) as string[][];
    return rows[0] ?? [];
  } catch (error) {
    throw new InvalidInputError(`${uri}, record ${index}: not valid CSV: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A feature as JSON text. Empty fields and "nan" are missing values (XGBoost reads them so): JSON null. */
function featureValue(field: string, column: number, index: number, uri: string, settings: Settings): string {
  const text = field.trim();
  // The model server reads "nan" as missing, as numpy does; so must the results, or a run it scored fails here.
  if (text === '' || MISSING_NAN.test(text)) return 'null';
  const value = Number(text);
  if (!Number.isFinite(value)) {
    const name = settings.featureNames?.[column];
    throw new InvalidInputError(
      `${uri}, record ${index}: feature ${column + 1}${name ? ` (${name})` : ''} is not a number: ${JSON.stringify(field)}`,
    );
  }
  return String(value);
}

const MISSING_NAN = /^[+-]?nan$/i;

function jsonFeatures(
  line: string,
  index: number,
  uri: string,
  settings: Settings,
): { features: string; id: string | undefined; actual: string | undefined } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new InvalidInputError(`${uri}, record ${index}: not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let list: unknown[];
  let id: unknown;
  let actual: unknown;
  let names: readonly (string | undefined)[] | undefined;
  if (Array.isArray(value)) {
    list = value;
    names = settings.featureNames;
    if (settings.idIndex !== -1 || settings.actualIndex !== -1) {
      id = settings.idIndex === -1 ? undefined : list[settings.idIndex];
      actual = settings.actualIndex === -1 ? undefined : list[settings.actualIndex];
      const kept = (_: unknown, i: number) => i !== settings.idIndex && i !== settings.actualIndex;
      list = list.filter(kept);
      names = settings.featureNames?.filter(kept);
    }
  } else if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (settings.idColumn !== undefined) id = object[settings.idColumn];
    if (settings.actualColumn !== undefined) actual = object[settings.actualColumn];
    if (settings.featureNames) {
      names = settings.featureNames.filter((n) => n !== settings.idColumn && n !== settings.actualColumn);
      list = names.map((n) => object[n as string]);
    } else if (Array.isArray(object.features)) {
      list = object.features;
    } else {
      throw new InvalidInputError(
        `${uri}, record ${index}: a JSON object record needs a "features" array, or results.featureNames to read its fields`,
      );
    }
  } else {
    throw new InvalidInputError(
      `${uri}, record ${index}: expected a JSON array of features or an object, got ${line.slice(0, 80)}`,
    );
  }
  let features = '';
  for (let i = 0; i < list.length; i += 1) {
    const item = list[i];
    let text: string;
    if (item === null || item === undefined) {
      text = 'null';
    } else if (typeof item === 'number' && Number.isFinite(item)) {
      text = String(item);
    } else {
      const name = names?.[i];
      throw new InvalidInputError(
        `${uri}, record ${index}: feature ${i + 1}${name ? ` (${name})` : ''} is not a number: ${JSON.stringify(item)}`,
      );
    }
    features += i === 0 ? text : `,${text}`;
  }
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') {
    throw new InvalidInputError(
      `${uri}, record ${index}: id ${JSON.stringify(id)} is not a string or number`,
    );
  }
  if (actual !== undefined && actual !== null && typeof actual !== 'string' && typeof actual !== 'number') {
    throw new InvalidInputError(
      `${uri}, record ${index}: ${settings.actualColumn} ${JSON.stringify(actual)} is not a string or number (results.actualColumn holds the true outcome)`,
    );
  }
  return {
    features,
    id: id === undefined || id === null ? undefined : String(id),
    actual: actual === undefined || actual === null ? undefined : String(actual),
  };
}

/**
 * The true outcome as `actual` stores it, so SQL compares like with like: a class index given with
 * labels becomes its label (`1` → `malignant`), a number is written canonically (`1.0` → `1`), an
 * empty value is missing; anything else is kept as written.
 */
export function normalizeActual(
  raw: string | undefined,
  labels: readonly string[] | undefined,
): string | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '' || MISSING_NAN.test(text)) return undefined;
  if (labels?.includes(text)) return text;
  const value = Number(text);
  if (!Number.isFinite(value)) return text;
  if (labels && Number.isInteger(value) && value >= 0 && value < labels.length) return labels[value];
  return String(value);
}

/**
 * The prediction's part of a joined output line (JoinSource Input): after the input record and a comma
 * for CSV, the `SageMakerOutput` member for JSON.
 */
function joinedPrediction(
  input: Buffer,
  output: Buffer,
  outputLine: number,
  outputUri: string,
  settings: Settings,
): Buffer {
  const where = `${outputUri}, line ${outputLine}`;
  if (settings.input === 'csv') {
    const starts =
      output.length > input.length &&
      output[input.length] === 0x2c &&
      output.subarray(0, input.length).equals(input);
    if (!starts) {
      throw new PredictionMismatchError(
        `${where}: with JoinSource Input the output line should be its input record followed by the prediction, but it does not start with the record`,
      );
    }
    return output.subarray(input.length + 1);
  }
  let joined: unknown;
  try {
    joined = JSON.parse(output.toString('utf8'));
  } catch {
    throw new PredictionMismatchError(
      `${where}: with JoinSource Input the output line should be a JSON object`,
    );
  }
  const prediction = (joined as { SageMakerOutput?: unknown } | null)?.SageMakerOutput;
  if (prediction === undefined) {
    throw new PredictionMismatchError(
      `${where}: with JoinSource Input the output object should hold SageMakerOutput`,
    );
  }
  return Buffer.from(JSON.stringify(prediction));
}

/** The features the InputFilter sent the model, as JSON array content. */
function filteredFeatures(text: string, line: number, uri: string, settings: Settings): string {
  const record = settings.input === 'csv' ? parseCsvRecord(text) : JSON.parse(text);
  let selected: unknown;
  try {
    selected = (settings.inputFilter as JsonSelector)(record);
  } catch (error) {
    throw new InvalidInputError(`${uri}, record ${line}: InputFilter: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const values = Array.isArray(selected)
    ? selected
    : selected !== null && typeof selected === 'object'
      ? Object.values(selected)
      : [selected];
  return values
    .map((value, i) => {
      if (value === null || value === undefined || value === '') return 'null';
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      return featureValue(String(value), i, line, uri, { ...settings, featureNames: undefined });
    })
    .join(',');
}

/** The prediction in an output line, in any form the container writes (see prediction-formats.ts). */
function parsePrediction(
  data: Buffer,
  outputLine: number,
  inputIndex: number,
  inputUri: string,
  outputUri: string,
  format: PredictionFormat,
): Prediction {
  const where = `${outputUri}, line ${outputLine} (prediction for ${inputUri} record ${inputIndex})`;
  return parsePredictionLine(data.toString('utf8'), format, where);
}

/** The label {@link predictionFragment} writes for a prediction it accepted (`null`: none). */
function labelOf(prediction: Prediction, settings: Settings): string | null {
  const { labels } = settings;
  if (typeof prediction === 'number') {
    if (!labels) return null;
    if (labels.length === 2) return labels[prediction >= settings.threshold ? 1 : 0] as string;
    return labels[prediction] ?? null;
  }
  let best = 0;
  for (let i = 1; i < prediction.length; i += 1) {
    if ((prediction[i] as number) > (prediction[best] as number)) best = i;
  }
  return labels ? (labels[best] ?? null) : String(best);
}

/** `,"score":…` plus `,"scores":[…]` and `,"label":"…"` as the prediction and labels call for. */
function predictionFragment(
  prediction: Prediction,
  outputLine: number,
  outputUri: string,
  settings: Settings,
): string {
  const { labels, labelFragments } = settings;
  if (typeof prediction === 'number') {
    const score = `,"score":${prediction}`;
    if (!labels || !labelFragments) return score;
    if (labels.length === 2) return score + labelFragments[prediction >= settings.threshold ? 1 : 0];
    // More than two classes but one value: the model answered with the class index (multi:softmax).
    const fragment = Number.isInteger(prediction) ? labelFragments[prediction] : undefined;
    if (fragment === undefined) {
      throw new PredictionMismatchError(
        `${outputUri}, line ${outputLine}: ${prediction} is not a class index for ${labels.length} labels`,
      );
    }
    return score + fragment;
  }
  if (labels && prediction.length !== labels.length) {
    throw new PredictionMismatchError(
      `${outputUri}, line ${outputLine}: ${prediction.length} class scores but ${labels.length} labels`,
    );
  }
  let best = 0;
  for (let i = 1; i < prediction.length; i += 1) {
    if ((prediction[i] as number) > (prediction[best] as number)) best = i;
  }
  const label = labelFragments ? labelFragments[best] : `,"label":"${best}"`;
  return `,"score":${prediction[best]},"scores":[${prediction.join(',')}]${label}`;
}
