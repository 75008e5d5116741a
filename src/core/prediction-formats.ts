/**
 * Reads one prediction from one line of a transform job's output, in every form a SageMaker XGBoost
 * container (or another container following the same conventions) writes:
 *
 * - a value line, as the XGBoost container writes in batch mode (`str(p)`): `0.9951731562614441`,
 *   `1e-05`, `2.0`;
 * - a Python list line, batch mode for multi:softprob: `[0.99, 0.001, 0.003]`;
 * - a CSV row: `0.99,0.001,0.003` (the endpoint path's text/csv, and other containers);
 * - a JSON line: a number, an array, `{"score": p}`, `{"scores": [...]}`, or a SAGEMAKER_INFERENCE_OUTPUT
 *   selection `{"predicted_label": 1, "probability": 0.9, ...}`;
 * - a JSON document `{"predictions": [...]}` holding one record's prediction;
 * - a CSV row of a SAGEMAKER_INFERENCE_OUTPUT selection, read by the selected keys' order
 *   (`1,0.9,"[0.1, 0.9]"`).
 *
 * A prediction is a number (a probability, a value, a class index) or one number per class.
 */
import { PredictionMismatchError } from '../errors.js';

/** One record's prediction: a single value, or one value per class. */
export type Prediction = number | number[];

/** What the reader needs to know about the output beyond its text. */
export interface PredictionFormat {
  /**
   * SAGEMAKER_INFERENCE_OUTPUT's keys, in its order, when the container was given it: needed to read CSV
   * selection rows, whose fields carry no names.
   */
  selectedKeys?: readonly string[] | undefined;
}

/** SAGEMAKER_INFERENCE_OUTPUT as the container reads it: spaces removed, lower-cased, split on commas. */
export function selectedKeysOf(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.replace(/ /g, '').toLowerCase().split(',');
}

/**
 * The prediction in one output line. `where` names the output line (and its input record) in errors.
 *
 * @throws PredictionMismatchError when the line holds no prediction in a known form, or a JSON document
 *   holds several (one line must be one record's prediction).
 * @example
 * parsePredictionLine('[0.99, 0.001, 0.009]', {}, where) // [0.99, 0.001, 0.009]
 * parsePredictionLine('1,0.9,"[0.1, 0.9]"', { selectedKeys: ['predicted_label', 'probability', 'probabilities'] }, where) // 0.9
 */
export function parsePredictionLine(line: string, format: PredictionFormat, where: string): Prediction {
  const text = line.trim();
  const first = text[0];
  if (first === '{' || first === '[') {
    const value = parseJson(text, where);
    return first === '{'
      ? fromObject(value as Record<string, unknown>, where, text)
      : fromArray(value, where, text);
  }
  const fields = csvFields(text, where);
  if (format.selectedKeys && fields.length === format.selectedKeys.length) {
    const object: Record<string, unknown> = {};
    format.selectedKeys.forEach((key, i) => {
      const field = (fields[i] as string).trim();
      object[key] = field.startsWith('[') ? parseJson(field, where) : selectionNumber(field);
    });
    return fromObject(object, where, text);
  }
  if (fields.length === 1) return number(fields[0] as string, where);
  return fields.map((field) => number(field, where));
}

/** Selected keys, most telling first: a probability before a label, a label before a raw margin. */
const SCORE_KEYS = [
  'scores',
  'score',
  'probabilities',
  'probability',
  'predicted_score',
  'predicted_label',
  'raw_scores',
  'raw_score',
] as const;

function fromObject(object: Record<string, unknown>, where: string, text: string): Prediction {
  if (Array.isArray(object.predictions)) {
    if (object.predictions.length !== 1) {
      throw new PredictionMismatchError(
        `${where}: one JSON document holds ${object.predictions.length} predictions, so output lines do not ` +
          'match input records: use Accept text/csv or application/jsonlines (the XGBoost container writes one ' +
          'document per request for application/json with SAGEMAKER_INFERENCE_OUTPUT)',
      );
    }
    const only = object.predictions[0];
    if (only !== null && typeof only === 'object' && !Array.isArray(only)) {
      return fromObject(only as Record<string, unknown>, where, text);
    }
    return fromArray(only, where, text);
  }
  for (const key of SCORE_KEYS) {
    const value = object[key];
    if (value === undefined || value === null || (typeof value === 'number' && Number.isNaN(value))) continue;
    // A binary classifier's [P(0), P(1)] (probabilities, raw_scores): its score is P(1).
    if (Array.isArray(value) && value.length === 2 && key !== 'scores' && key !== 'score') {
      return fromArray(value[1], where, text);
    }
    return fromArray(value, where, text);
  }
  throw new PredictionMismatchError(
    `${where}: expected a number, a list of numbers, {"score": n}, {"scores": [..]} or a SAGEMAKER_INFERENCE_OUTPUT ` +
      `selection (predicted_label, probability, probabilities, raw_score(s), predicted_score), got ${text.slice(0, 80)}`,
  );
}

function fromArray(value: unknown, where: string, text: string): Prediction {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((v) => typeof v === 'number' && Number.isFinite(v))
  ) {
    return value.length === 1 ? (value[0] as number) : (value as number[]);
  }
  throw new PredictionMismatchError(
    `${where}: prediction is not a number or a list of numbers: ${text.slice(0, 80)}`,
  );
}

/**
 * JSON, and Python's `repr` of lists, which is JSON too. Python's json writes NaN for the selected keys an
 * objective cannot fill (and repr writes nan): read as null, which no prediction is.
 */
function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text.replace(/-?\b(?:NaN|Infinity|nan|inf)\b/g, 'null'));
  } catch {
    throw new PredictionMismatchError(`${where}: not valid JSON or a list of numbers: ${text.slice(0, 80)}`);
  }
}

/** A CSV row's fields; quoted fields (a selection's lists) keep their content, commas included. */
function csvFields(text: string, where: string): string[] {
  if (!text.includes('"')) return text.split(',');
  const fields: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length)
          throw new PredictionMismatchError(`${where}: unterminated quote: ${text.slice(0, 80)}`);
        if (text[i] === '"' && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else value += text[i++];
      }
      fields.push(value);
      i++; // the comma
    } else {
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? text.length : comma;
      fields.push(text.slice(i, end));
      i = end + 1;
    }
  }
  return fields;
}

function selectionNumber(field: string): number {
  return field === 'nan' ? Number.NaN : Number(field);
}

function number(text: string, where: string): number {
  const trimmed = text.trim();
  const value = trimmed === '' ? Number.NaN : Number(trimmed);
  if (!Number.isFinite(value)) {
    throw new PredictionMismatchError(`${where}: prediction is not a number: ${JSON.stringify(text)}`);
  }
  return value;
}
