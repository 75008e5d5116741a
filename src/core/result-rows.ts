import { PredictionMismatchError } from '../errors.js';
import type { FeatureStatistics } from './feature-stats.js';
import { copyNumberListWithNulls, NumberListParse, PlainNumberLists } from './json-numbers.js';
import type { LineCursor } from './line-cursor.js';
import {
  csvFeatures,
  filteredFeatures,
  joinedPrediction,
  jsonFeatures,
  labelOf,
  normalizeActual,
  parsePrediction,
  predictionFragment,
  type Settings,
} from './result-records.js';

/*
 * The result rows of a ParseResults join as UTF-8 bytes: RowWriter writes each record's JSON line
 * straight into byte chunks. Split from result-parsing.ts, which streams the objects and drives the join.
 */

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
export class RowWriter {
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
  private readonly plainLists = new PlainNumberLists();
  /** Reads a plain CSV line's values while checking it (see NumberListParse). */
  private readonly features = new NumberListParse();
  /** Reads a CSV prediction line the same way (one JSON number is the common output). */
  private readonly prediction = new NumberListParse();
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
    const features = this.features;
    const prediction = this.prediction;
    let plainFeatures = false;
    let featuresRead = false;
    let emptyFields = 0;
    if (this.plainCsvColumns !== 0) {
      // Checked and read in one pass: the statistics need every value anyway.
      if (features.parse(input.buffer, input.start, input.end, input)) {
        if (this.plainCsvColumns === -1 || features.fields === this.plainCsvColumns) {
          plainFeatures = true;
          featuresRead = true;
          emptyFields = features.emptyFields;
        }
      } else if (this.plainLists.isPlainList(input.text(), input.start, input.end, this.plainCsvColumns)) {
        // Valid JSON numbers the one-pass reader leaves alone (a field over 200 bytes): copied as they are.
        plainFeatures = true;
      }
    }
    // One JSON number per line is the common output: its bytes go into the row as written.
    const plainScore =
      this.settings.output === 'csv' &&
      prediction.parse(output.buffer, output.start, output.end, output) &&
      prediction.fields === 1 &&
      prediction.emptyFields === 0;
    if (!plainFeatures || !plainScore) {
      this.checkedRow(input, output, plainFeatures && emptyFields === 0);
      return;
    }
    const score = prediction.values[0] as number;
    if (featuresRead) this.statistics.addRowValues(features.values, features.fields, score, 1);
    else this.statistics.addRow(input.buffer, input.start, input.end, score, 1, undefined);
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
