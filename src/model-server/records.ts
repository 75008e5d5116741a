/**
 * Turns an /invocations request body into a row-major Float32Array of features, reading it as the
 * SageMaker XGBoost container does (algorithm_mode/serve_utils.parse_content_data, encoder.csv_to_dmatrix):
 *
 * - text/csv: the body is stripped, split on "\n", and each line on the delimiter csv.Sniffer finds in
 *   the first line (a letter or digit means ","); an empty field is missing; no quoting (a quote is an
 *   unreadable value, as `float('"1"')` is in Python); every line must have as many fields as the first.
 * - text/libsvm (libsvm, text/x-libsvm): `label index:value ...` per line, indices 1-based unless one is
 *   0; absent indices are missing values.
 *
 * Errors name the record (1-based line within the request): that message becomes the job's FailureReason.
 */
import { exactDecimal, fastDecimal } from '../core/decimal.js';
import { LineCursor } from '../core/line-cursor.js';
import { type InvalidInputError, InvalidRecordError } from '../errors.js';

/** Rows parsed from a request: `numRows × numFeatures` values, NaN where a value is missing. */
export interface ParsedRecords {
  values: Float32Array;
  numRows: number;
  /** Values per row in `values`: the CSV's field count, or the model's feature count for libsvm. */
  numFeatures: number;
}

/** The request formats the container reads (data_utils.get_content_type), by its names for them. */
export type RequestFormat = 'csv' | 'libsvm';

const NEWLINE = 0x0a;
/** csv.Sniffer's preferred delimiters, in its order. */
const PREFERRED_DELIMITERS = [0x2c, 0x09, 0x3b, 0x20, 0x3a];

/**
 * The delimiter Python's csv.Sniffer picks for one line of numbers: the first of its preferred
 * delimiters (`,` tab `;` space `:`) the line holds; otherwise its most frequent character (the highest
 * one on a tie), replaced by "," when that is a letter or digit, as the container does.
 */
export function sniffDelimiter(line: Uint8Array): number {
  const sample = line.subarray(0, 512);
  for (const candidate of PREFERRED_DELIMITERS) if (sample.indexOf(candidate) !== -1) return candidate;
  const counts = new Map<number, number>();
  for (const byte of sample) if (byte < 127) counts.set(byte, (counts.get(byte) ?? 0) + 1);
  let best = 0x2c;
  let bestCount = 0;
  for (const [byte, count] of counts) {
    if (count > bestCount || (count === bestCount && byte > best)) {
      best = byte;
      bestCount = count;
    }
  }
  const alphanumeric = (best >= 0x30 && best <= 0x39) || ((best | 0x20) >= 0x61 && (best | 0x20) <= 0x7a);
  return alphanumeric ? 0x2c : best;
}

/** Bytes Python's `bytes.strip()` removes: space, \t, \n, \r, \x0b, \x0c. */
function isStripped(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/** `body` without leading and trailing whitespace, as the container's `payload.strip()`. */
function strip(body: Uint8Array): Uint8Array {
  let start = 0;
  let end = body.length;
  while (start < end && isStripped(body[start] as number)) start++;
  while (end > start && isStripped(body[end - 1] as number)) end--;
  return body.subarray(start, end);
}

/**
 * Parses a CSV request body. The field count of the first line is the row width; every other line must
 * match it (numpy refuses ragged rows). Throws InvalidRecordError naming the line.
 */
export function parseCsvRecords(raw: Uint8Array, firstLine = 1): ParsedRecords {
  const body = strip(raw);
  const length = body.length;
  if (length === 0) return { values: new Float32Array(0), numRows: 0, numFeatures: 0 };
  const firstEnd = body.indexOf(NEWLINE) === -1 ? length : body.indexOf(NEWLINE);
  const delimiter = sniffDelimiter(body.subarray(0, firstEnd));
  let width = 1;
  for (let i = 0; i < firstEnd; i++) if (body[i] === delimiter) width++;
  let lines = 1;
  for (let i = body.indexOf(NEWLINE); i !== -1; i = body.indexOf(NEWLINE, i + 1)) lines++;
  const values = new Float32Array(lines * width);

  let row = 0;
  let pos = 0;
  while (pos <= length && row < lines) {
    let lineEnd = body.indexOf(NEWLINE, pos);
    if (lineEnd === -1) lineEnd = length;
    const end = lineEnd;
    const line = firstLine + row;
    const rowOffset = row * width;
    let column = 0;
    let i = pos;
    // One pass over the bytes: plain decimals ("-12.5") are read as they are scanned; any other field
    // (a sign "+", spaces, an exponent, "nan", more than 15 significant digits) goes to parseNumberBytes.
    while (true) {
      if (column === width) throw wrongWidth(line, width + countByte(body, i, end, delimiter) + 1, width);
      const start = i;
      if (i < end && body[i] === 0x2d) i++;
      const negative = i > start;
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
      const atDelimiter = i >= end || body[i] === delimiter;
      // Leading zeros are counted as digits here: never more than the significant ones, so still exact.
      const exact = atDelimiter && digits > 0 ? exactDecimal(mantissa, digits, -scale) : Number.NaN;
      let value: number;
      if (!Number.isNaN(exact)) {
        value = negative ? -exact : exact;
      } else if (atDelimiter && i === start) {
        value = Number.NaN; // an empty field is a missing value ("" -> "nan" in the container)
      } else {
        while (i < end && body[i] !== delimiter) i++;
        value = parseNumberBytes(body, start, i, line, column + 1);
      }
      values[rowOffset + column] = value;
      column++;
      if (i >= end) break;
      i++; // past the delimiter
    }
    if (column !== width) throw wrongWidth(line, column, width);
    row++;
    pos = lineEnd + 1;
  }
  return { values, numRows: row, numFeatures: width };
}

/**
 * Parses a libsvm request body into rows of `numFeatures` values (absent = missing). Indices are 1-based
 * unless the body uses index 0, as the container shifts them. Throws InvalidRecordError for an index
 * beyond the model's features or a value that is not a number.
 */
export function parseLibsvmRecords(raw: Uint8Array, numFeatures: number): ParsedRecords {
  const body = strip(raw);
  if (body.length === 0) return { values: new Float32Array(0), numRows: 0, numFeatures };
  const entries: { row: number; column: number; value: number }[] = [];
  let minColumn = Number.POSITIVE_INFINITY;
  let lastRow = -1;
  // Lines as LineCursor splits them; a blank line is skipped but still a row (numbered by its line).
  const cursor = LineCursor.over(body);
  for (; cursor.find(); cursor.consume()) {
    const row = cursor.line - 1;
    const line = cursor.buffer.toString('utf8', cursor.start, cursor.end);
    for (const item of line.split(' ')) {
      const colon = item.indexOf(':');
      if (colon === -1) continue; // the label, or an empty token
      const index = item.slice(0, colon).trim();
      const rest = item.slice(colon + 1);
      const valueText = rest.includes(':') ? rest.slice(0, rest.indexOf(':')) : rest;
      if (!/^[+-]?\d+$/.test(index))
        throw recordError(row + 1, `has an index that is not an integer: ${JSON.stringify(item)}`);
      const column = Number(index);
      const value = parseNumberText(valueText, row + 1, column);
      entries.push({ row, column, value });
      minColumn = Math.min(minColumn, column);
      lastRow = row;
    }
  }
  // scipy's csr_matrix ends at the last row that has an entry.
  const numRows = lastRow + 1;
  const shift = minColumn >= 1 ? 1 : 0;
  const values = new Float32Array(numRows * numFeatures).fill(Number.NaN);
  for (const { row, column, value } of entries) {
    const feature = column - shift;
    if (feature < 0 || feature >= numFeatures) {
      throw new InvalidRecordError(
        row + 1,
        `has feature index ${column}, beyond the model's ${numFeatures} features`,
        { status: 400 },
      );
    }
    const at = row * numFeatures + feature;
    // Duplicate indices add up, as scipy's COO to CSR conversion does.
    values[at] = Number.isNaN(values[at] as number) ? value : (values[at] as number) + value;
  }
  return { values, numRows, numFeatures };
}

function countByte(body: Uint8Array, from: number, end: number, byte: number): number {
  let count = 0;
  for (let i = from; i < end; i++) if (body[i] === byte) count++;
  return count;
}

function wrongWidth(line: number, got: number, expected: number): InvalidInputError {
  return recordError(
    line,
    `has ${got} value${got === 1 ? '' : 's'} but the first record has ${expected}: every record of a request needs the same number of fields`,
  );
}

function recordError(line: number, problem: string): InvalidInputError {
  return new InvalidRecordError(line, problem);
}

/**
 * Parses `body[start, end)` as a decimal number; empty is missing (NaN). Surrounding whitespace is
 * dropped (numpy's float() does); the digits go to the project's one fast decimal parser
 * (src/core/decimal.ts), and whatever it declines (more digits, big exponents, "nan") to `Number()`
 * through {@link slowNumber}, which also names a field that is no number.
 */
function parseNumberBytes(
  body: Uint8Array,
  start: number,
  end: number,
  line: number,
  column: number,
): number {
  let i = start;
  while (i < end && isStripped(body[i] as number)) i++;
  let last = end;
  while (last > i && isStripped(body[last - 1] as number)) last--;
  if (i === last) return Number.NaN;
  return fastDecimal(body, i, last) ?? slowNumber(body, start, end, line, column);
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
