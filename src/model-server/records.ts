/**
 * Turns an /invocations request body into a row-major Float32Array of features, and predictions back
 * into a response body. Errors name the record (1-based line within the request) and the problem, since
 * that message becomes the transform job's FailureReason.
 */
import { parse as parseCsvSync } from 'csv-parse/sync';
import { InvalidInputError, InvalidRecordError } from '../errors.js';
import type { XGBoostModel } from './xgboost-model.js';

/** Rows parsed from a request: `numRows × numFeatures` values, NaN where a value is missing. */
export interface ParsedRecords {
  values: Float32Array;
  numRows: number;
}

/** Request content types the server reads, and response types it writes. */
export const CONTENT_TYPES = ['text/csv', 'application/jsonlines', 'application/json'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

const COMMA = 0x2c;
const NEWLINE = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Parses CSV records (one per line, no header; an empty field is a missing value; CRLF and a missing
 * final newline are fine). Each record must have exactly `numFeatures` values.
 *
 * Numeric CSV without quotes is parsed by hand, straight from the bytes: a model server's input is
 * numbers and commas, and a general CSV parser plus `Number()` per field costs several string
 * allocations per value, which is most of a request's time. A body with a quote goes to csv-parse.
 */
export function parseCsvRecords(body: Uint8Array, numFeatures: number, firstLine = 1): ParsedRecords {
  if (body.indexOf(QUOTE) !== -1) return parseQuotedCsv(body, numFeatures, firstLine);
  const length = body.length;
  let lines = 0;
  for (let i = body.indexOf(NEWLINE); i !== -1; i = body.indexOf(NEWLINE, i + 1)) lines++;
  if (length > 0 && body[length - 1] !== NEWLINE) lines++;
  const values = new Float32Array(lines * numFeatures);

  let row = 0;
  let pos = 0;
  while (pos < length) {
    let lineEnd = body.indexOf(NEWLINE, pos);
    if (lineEnd === -1) lineEnd = length;
    const end = lineEnd > pos && body[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    const line = firstLine + row;
    if (end === pos && numFeatures > 1) throw recordError(line, 'is empty');
    const rowOffset = row * numFeatures;
    let column = 0;
    let i = pos;
    // One pass over the bytes: plain decimals ("-12.5") are read as they are scanned; any other field
    // (a sign "+", spaces, an exponent, "nan", more than 15 significant digits) goes to parseNumberBytes.
    while (true) {
      if (column === numFeatures) {
        throw wrongCount(line, numFeatures + countCommas(body, i, end) + 1, numFeatures);
      }
      const start = i;
      if (i < end && body[i] === 0x2d) i++;
      const negative = i > start;
      // Digits are counted from positions, not per digit: at most 15 digits in all means at most 15
      // significant ones, which is all the fast path needs (longer numbers go to parseNumberBytes).
      let mantissa = 0;
      const intStart = i;
      for (; i < end; i++) {
        const digit = (body[i] as number) - 0x30;
        if (digit >>> 0 > 9) break;
        mantissa = mantissa * 10 + digit;
      }
      let digits = i - intStart;
      let scale = 0;
      if (i < end && body[i] === 0x2e) {
        const fractionStart = ++i;
        for (; i < end; i++) {
          const digit = (body[i] as number) - 0x30;
          if (digit >>> 0 > 9) break;
          mantissa = mantissa * 10 + digit;
        }
        scale = i - fractionStart;
        digits += scale;
      }
      const c = i < end ? (body[i] as number) : COMMA;
      let value: number;
      if (c === COMMA && digits > 0 && digits <= 15) {
        value = scale === 0 ? mantissa : mantissa / (POW10[scale] as number);
        if (negative) value = -value;
      } else if (c === COMMA && i === start) {
        value = Number.NaN; // an empty field is a missing value
      } else {
        while (i < end && body[i] !== COMMA) i++;
        value = parseNumberBytes(body, start, i, line, column + 1);
      }
      values[rowOffset + column] = value;
      column++;
      if (i >= end) break;
      i++; // past the comma
    }
    if (column !== numFeatures) throw wrongCount(line, column, numFeatures);
    row++;
    pos = lineEnd + 1;
  }
  return { values, numRows: row };
}

function parseQuotedCsv(body: Uint8Array, numFeatures: number, firstLine: number): ParsedRecords {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsvSync(Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
      info: true,
      relax_column_count: true,
      skip_empty_lines: false,
    }) as unknown as typeof records; // `info: true` wraps each record; csv-parse's sync typings miss it
  } catch (error) {
    throw new InvalidInputError(`Request is not valid CSV: ${(error as Error).message}`, { cause: error });
  }
  const values = new Float32Array(records.length * numFeatures);
  records.forEach(({ record, info }, r) => {
    const line = firstLine + info.lines - 1;
    if (record.length !== numFeatures) throw wrongCount(line, record.length, numFeatures);
    record.forEach((text, c) => {
      values[r * numFeatures + c] = parseNumberText(text, line, c + 1);
    });
  });
  return { values, numRows: records.length };
}

/**
 * Parses `body[start, end)` as a decimal number; empty is missing (NaN).
 *
 * Fast path (Clinger's): with at most 15 significant digits the mantissa is an exact integer below
 * 2^53, and 10^k for k ≤ 22 is exact too, so one multiplication or division is correctly rounded, giving
 * the same double as `Number()`. Anything else (more digits, big exponents, "nan") takes `Number()`.
 */
function parseNumberBytes(
  body: Uint8Array,
  start: number,
  end: number,
  line: number,
  column: number,
): number {
  let i = start;
  while (i < end && (body[i] === 0x20 || body[i] === 0x09)) i++;
  let last = end;
  while (last > i && (body[last - 1] === 0x20 || body[last - 1] === 0x09)) last--;
  if (i === last) return Number.NaN;

  let negative = false;
  if (body[i] === 0x2d) {
    negative = true;
    i++;
  } else if (body[i] === 0x2b) {
    i++;
  }
  let mantissa = 0;
  let significant = 0;
  let exponent = 0;
  let sawDigit = false;
  for (; i < last; i++) {
    const digit = (body[i] as number) - 0x30;
    if (digit < 0 || digit > 9) break;
    if (significant > 0 || digit !== 0) significant++;
    mantissa = mantissa * 10 + digit;
    sawDigit = true;
  }
  if (i < last && body[i] === 0x2e) {
    i++;
    for (; i < last; i++) {
      const digit = (body[i] as number) - 0x30;
      if (digit < 0 || digit > 9) break;
      if (significant > 0 || digit !== 0) significant++;
      mantissa = mantissa * 10 + digit;
      exponent--;
      sawDigit = true;
    }
  }
  if (sawDigit && i < last && (body[i] === 0x65 || body[i] === 0x45)) {
    i++;
    let expNegative = false;
    if (body[i] === 0x2d || body[i] === 0x2b) {
      expNegative = body[i] === 0x2d;
      i++;
    }
    let exp = 0;
    const expStart = i;
    // Five digits at most: a longer exponent is out of double range anyway and goes to Number().
    for (; i < last && i - expStart < 5; i++) {
      const digit = (body[i] as number) - 0x30;
      if (digit < 0 || digit > 9) break;
      exp = exp * 10 + digit;
    }
    if (i === expStart) return slowNumber(body, start, end, line, column);
    exponent += expNegative ? -exp : exp;
  }
  if (!sawDigit || i !== last || significant > 15) return slowNumber(body, start, end, line, column);
  let value: number;
  if (exponent === 0) value = mantissa;
  else if (exponent < 0 && exponent >= -22) value = mantissa / (POW10[-exponent] as number);
  else if (exponent > 0 && exponent <= 22) value = mantissa * (POW10[exponent] as number);
  else return slowNumber(body, start, end, line, column);
  return negative ? -value : value;
}

/**
 * Parses one CSV field as the request parser does: the same double as `Number()` for decimal text,
 * NaN for an empty field or "nan". Throws InvalidInputError for anything else.
 */
export function parseCsvNumber(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  return parseNumberBytes(bytes, 0, bytes.length, 1, 1);
}

function slowNumber(body: Uint8Array, start: number, end: number, line: number, column: number): number {
  const text = Buffer.from(body.buffer, body.byteOffset + start, end - start).toString('utf8');
  return parseNumberText(text, line, column);
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL = /^[+-]?(nan|inf|infinity)$/i;

/** Parses one field's text as numpy would read a float; empty and "nan" are missing (NaN). */
function parseNumberText(text: string, line: number, column: number): number {
  const trimmed = text.trim();
  if (trimmed === '') return Number.NaN;
  if (DECIMAL.test(trimmed)) return Number(trimmed);
  const special = SPECIAL.exec(trimmed);
  if (special) {
    if ((special[1] as string).toLowerCase() === 'nan') return Number.NaN;
    return trimmed.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const shown = trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed;
  throw recordError(line, `has a non-numeric value in field ${column}: ${JSON.stringify(shown)}`);
}

/** Parses JSON lines: each line a JSON array of numbers (null = missing) or `{"features": [...]}`. */
export function parseJsonLinesRecords(body: Uint8Array, numFeatures: number): ParsedRecords {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1)?.trim() === '') lines.pop();
  const values = new Float32Array(lines.length * numFeatures);
  lines.forEach((raw, r) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw recordError(r + 1, 'is not valid JSON');
    }
    writeJsonRecord(parsed, values, r, numFeatures, r + 1);
  });
  return { values, numRows: lines.length };
}

/**
 * Parses a JSON body: `{"instances": [[...], ...]}`, an array of records, or one record (an array of
 * numbers). A record may also be `{"features": [...]}`.
 */
export function parseJsonRecords(body: Uint8Array, numFeatures: number): ParsedRecords {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (error) {
    throw new InvalidInputError(`Request is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  let records: unknown[];
  if (Array.isArray(parsed)) {
    records =
      parsed.length > 0 && parsed.every((v) => typeof v === 'number' || v === null) ? [parsed] : parsed;
  } else if (
    parsed !== null &&
    typeof parsed === 'object' &&
    Array.isArray((parsed as { instances?: unknown }).instances)
  ) {
    records = (parsed as { instances: unknown[] }).instances;
  } else {
    throw new InvalidInputError('JSON request must be {"instances": [[...], ...]} or an array of numbers');
  }
  const values = new Float32Array(records.length * numFeatures);
  records.forEach((record, r) => {
    writeJsonRecord(record, values, r, numFeatures, r + 1);
  });
  return { values, numRows: records.length };
}

function writeJsonRecord(
  record: unknown,
  values: Float32Array,
  row: number,
  numFeatures: number,
  line: number,
) {
  const features =
    record !== null && typeof record === 'object' && !Array.isArray(record)
      ? (record as { features?: unknown }).features
      : record;
  if (!Array.isArray(features)) throw recordError(line, 'is not an array of numbers');
  if (features.length !== numFeatures) throw wrongCount(line, features.length, numFeatures);
  for (let c = 0; c < numFeatures; c++) {
    const value = features[c];
    if (value === null) values[row * numFeatures + c] = Number.NaN;
    else if (typeof value === 'number') values[row * numFeatures + c] = value;
    else throw recordError(line, `has a non-numeric value in field ${c + 1}: ${JSON.stringify(value)}`);
  }
}

function countCommas(body: Uint8Array, from: number, end: number): number {
  let count = 0;
  for (let i = from; i < end; i++) if (body[i] === COMMA) count++;
  return count;
}

function recordError(line: number, problem: string): InvalidInputError {
  return new InvalidRecordError(line, problem);
}

function wrongCount(line: number, got: number, expected: number): InvalidInputError {
  return recordError(line, `has ${got} value${got === 1 ? '' : 's'}; the model expects ${expected}`);
}

/**
 * Writes predictions (`numRows × model.outputsPerRow`, from predictBatch) as a response body:
 * - text/csv: one line per record, the score, or the class probabilities comma-separated;
 * - application/jsonlines: one object per line, `{"score": x}` or `{"scores": [...]}`, with
 *   `"predicted_label"` for classifiers;
 * - application/json: `{"predictions": [those objects]}`.
 */
export function formatPredictions(
  model: XGBoostModel,
  predictions: Float64Array,
  numRows: number,
  accept: ContentType,
): string {
  return wrapPredictions([formatPredictionItems(model, predictions, numRows, accept)], accept);
}

/**
 * The records' part of a response body, so a body can be built a batch of records at a time: lines
 * for CSV and JSON lines, comma-separated objects for JSON. {@link wrapPredictions} joins the parts.
 */
function formatPredictionItems(
  model: XGBoostModel,
  predictions: Float64Array,
  numRows: number,
  accept: ContentType,
): string {
  if (accept === 'text/csv') return formatCsv(model, predictions, numRows);
  let out = '';
  if (accept === 'application/jsonlines') {
    for (let r = 0; r < numRows; r++) out += `${predictionObject(model, predictions, r)}\n`;
    return out;
  }
  for (let r = 0; r < numRows; r++) out += (r > 0 ? ',' : '') + predictionObject(model, predictions, r);
  return out;
}

function wrapPredictions(parts: string[], accept: ContentType): string {
  if (accept !== 'application/json') return parts.join('');
  return `{"predictions":[${parts.filter((part) => part !== '').join(',')}]}`;
}

/**
 * Predicts CSV records as the request body arrives, a chunk of complete lines at a time, so the server
 * holds the (much smaller) output rather than the whole input: with MaxPayloadInMB 0 a body can be a
 * whole object. Throws InvalidInputError, naming the line within the request, from `write` or `end`.
 */
export class CsvInvocation {
  private readonly parts: string[] = [];
  private carry: Uint8Array | undefined;
  private nextLine = 1;
  /** Set once a quote appears: from there on the rest is kept and handed to csv-parse at the end. */
  private quoted: Uint8Array[] | undefined;

  constructor(
    private readonly model: XGBoostModel,
    private readonly accept: ContentType,
  ) {}

  write(chunk: Uint8Array): void {
    let start = 0;
    if (this.carry) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      // Only the line cut by the chunk boundary is copied; the rest is parsed where it lies.
      this.lines(Buffer.concat([this.carry, chunk.subarray(0, newline + 1)]));
      this.carry = undefined;
      start = newline + 1;
    }
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline >= start) this.lines(chunk.subarray(start, lastNewline + 1));
    const rest = chunk.subarray(Math.max(start, lastNewline + 1));
    if (rest.length > 0) this.carry = Buffer.from(rest);
  }

  /** The whole response body. */
  end(): string {
    if (this.carry) this.lines(this.carry);
    this.carry = undefined;
    if (this.quoted)
      this.predict(parseCsvRecords(Buffer.concat(this.quoted), this.model.numFeature, this.nextLine));
    return wrapPredictions(this.parts, this.accept);
  }

  private lines(bytes: Uint8Array): void {
    if (!this.quoted && bytes.indexOf(QUOTE) !== -1) this.quoted = [];
    if (this.quoted) {
      this.quoted.push(bytes);
      return;
    }
    this.predict(parseCsvRecords(bytes, this.model.numFeature, this.nextLine));
  }

  private predict({ values, numRows }: ParsedRecords): void {
    const predictions = this.model.predictBatch(values, numRows, this.model.numFeature);
    this.parts.push(formatPredictionItems(this.model, predictions, numRows, this.accept));
    this.nextLine += numRows;
  }
}

function formatCsv(model: XGBoostModel, predictions: Float64Array, numRows: number): string {
  const k = model.outputsPerRow;
  let out = '';
  if (k === 1) {
    for (let r = 0; r < numRows; r++) out += `${predictions[r]}\n`;
    return out;
  }
  for (let r = 0; r < numRows; r++) {
    out += predictions[r * k];
    for (let c = 1; c < k; c++) out += `,${predictions[r * k + c]}`;
    out += '\n';
  }
  return out;
}

function predictionObject(model: XGBoostModel, predictions: Float64Array, r: number): string {
  switch (model.outputKind) {
    case 'multiclass-probabilities': {
      const k = model.outputsPerRow;
      let best = 0;
      for (let c = 1; c < k; c++)
        if ((predictions[r * k + c] as number) > (predictions[r * k + best] as number)) best = c;
      const scores = Array.from(predictions.subarray(r * k, (r + 1) * k)).join(',');
      return `{"scores":[${scores}],"predicted_label":${best}}`;
    }
    case 'multiclass-label':
      return `{"score":${predictions[r]},"predicted_label":${predictions[r]}}`;
    case 'binary': {
      const score = predictions[r] as number;
      // binary:logistic scores are probabilities (XGBClassifier's > 0.5 rule); logitraw scores are margins.
      const positive = model.objective === 'binary:logitraw' ? score > 0 : score > 0.5;
      return `{"score":${score},"predicted_label":${positive ? 1 : 0}}`;
    }
    default:
      return `{"score":${predictions[r]}}`;
  }
}
