import { parse as parseCsv } from 'csv-parse/sync';
import { InvalidInputError, PredictionMismatchError } from '../errors.js';
import { type JsonSelector, parseCsvRecord } from './data-processing.js';
import { type Prediction, type PredictionFormat, parsePredictionLine } from './prediction-formats.js';

/*
 * One record of a ParseResults join: its features read from the input record (CSV fields or JSON, the
 * InputFilter applied, the id and true-outcome columns taken out) and its prediction read from the
 * transform's output line, with the label the threshold or the class index gives. Split from
 * result-parsing.ts, which streams the objects and drives the join.
 */

/** The two record forms ParseResults reads: SageMaker's CSV and JSON lines. */
export type InputFormat = 'csv' | 'jsonlines';

/** A ParseResults request's settings, checked and compiled once per job (see readSettings). */
export interface Settings {
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

/** Returns the features as JSON array content (without brackets) and the id, when configured. */
export function csvFeatures(
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

export function csvFields(line: string, index: number, uri: string): string[] {
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
export function featureValue(
  field: string,
  column: number,
  index: number,
  uri: string,
  settings: Settings,
): string {
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

export function jsonFeatures(
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
export function joinedPrediction(
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
export function filteredFeatures(text: string, line: number, uri: string, settings: Settings): string {
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
export function parsePrediction(
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
export function labelOf(prediction: Prediction, settings: Settings): string | null {
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
export function predictionFragment(
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
