import { parse as parseCsvSync } from 'csv-parse/sync';
import { stringify as stringifyCsvSync } from 'csv-stringify/sync';
import { JSONPath } from 'jsonpath-plus';
import { InvalidInputError, PredictionMismatchError } from '../errors.js';
import { recordFormatOf } from './media-types.js';

/**
 * Batch Transform's DataProcessing (InputFilter, JoinSource, OutputFilter) for CSV and JSON records, as
 * SageMaker documents it in "Associate Prediction Results with Input Records":
 *
 * - a CSV record is treated as a JSON array of its fields, so only index paths apply (`$[1:]`, `$[0,-1]`);
 * - JSON records (application/json, application/jsonlines) take any supported path (`$.features`);
 * - JoinSource Input appends the prediction's fields to a CSV record, or puts the prediction under
 *   `SageMakerOutput` of a JSON object (a non-object input goes under `SageMakerInput`);
 * - OutputFilter then selects from the joined record (or from the prediction alone without a join).
 *
 * JSONPath evaluation is jsonpath-plus's; this module only maps SageMaker's documented subset onto it
 * (quoted name unions and negative indexes, which jsonpath-plus spells differently).
 */

/** The record formats DataProcessing understands. */
export type RecordFormat = 'csv' | 'json';

/** The DataProcessing part of a CreateTransformJob request. */
export interface DataProcessingConfig {
  InputFilter?: string;
  OutputFilter?: string;
  JoinSource?: 'Input' | 'None';
}

/** The record format a MIME type names: src/core/media-types.ts decides. */
export { recordFormatOf };

function isDefaultFilter(filter: string | undefined): boolean {
  return filter === undefined || filter === '' || filter.trim() === '$';
}

/** Whether the configuration changes anything (SageMaker's defaults `$`, None, `$` change nothing). */
export function isDataProcessingActive(config: DataProcessingConfig | undefined): boolean {
  return (
    !!config &&
    (!isDefaultFilter(config.InputFilter) ||
      !isDefaultFilter(config.OutputFilter) ||
      config.JoinSource === 'Input')
  );
}

/** Whether outputs must be aligned record by record (a join, or an OutputFilter). */
export function needsRecordAlignment(config: DataProcessingConfig | undefined): boolean {
  return !!config && (config.JoinSource === 'Input' || !isDefaultFilter(config.OutputFilter));
}

/**
 * The constraints SageMaker puts on DataProcessing, as validation messages (empty when valid):
 * CSV or JSON content types (both ContentType and, for join/OutputFilter, Accept), SplitType Line for a
 * join or OutputFilter (records must line up one to one) and AssembleWith Line, and only the documented
 * JSONPath operators.
 */
export function dataProcessingErrors(request: {
  DataProcessing?: DataProcessingConfig;
  TransformInput: { ContentType?: string; SplitType?: string };
  TransformOutput: { Accept?: string; AssembleWith?: string };
}): string[] {
  const config = request.DataProcessing;
  if (!config) return [];
  const errors: string[] = [];
  for (const [field, value] of [
    ['inputFilter', config.InputFilter],
    ['outputFilter', config.OutputFilter],
  ] as const) {
    if (value === undefined) continue;
    if (value.length > 63) {
      errors.push(
        `Value at 'dataProcessing.${field}' failed to satisfy constraint: Member must have length less than or equal to 63`,
      );
      continue;
    }
    if (!isDefaultFilter(value)) {
      try {
        compileJsonPath(value);
      } catch (error) {
        errors.push(`dataProcessing.${field}: ${(error as Error).message}`);
      }
    }
  }
  if (config.JoinSource !== undefined && config.JoinSource !== 'Input' && config.JoinSource !== 'None') {
    errors.push(
      `Value '${config.JoinSource}' at 'dataProcessing.joinSource' failed to satisfy constraint: Member must satisfy enum value set: [Input, None]`,
    );
  }
  if (!isDataProcessingActive(config)) return errors;
  const inputFormat = recordFormatOf(request.TransformInput.ContentType);
  if (!inputFormat) {
    errors.push(
      `DataProcessing needs TransformInput.ContentType text/csv, application/json or application/jsonlines (got ${request.TransformInput.ContentType ?? 'none'})`,
    );
  }
  const splitType = request.TransformInput.SplitType ?? 'None';
  if (needsRecordAlignment(config)) {
    if (!recordFormatOf(request.TransformOutput.Accept)) {
      errors.push(
        `JoinSource Input and OutputFilter need TransformOutput.Accept text/csv, application/json or application/jsonlines (got ${request.TransformOutput.Accept ?? 'none'})`,
      );
    }
    if (splitType !== 'Line') {
      errors.push(`JoinSource Input and OutputFilter need TransformInput.SplitType Line (got ${splitType})`);
    }
    if ((request.TransformOutput.AssembleWith ?? 'None') !== 'Line') {
      errors.push(
        `JoinSource Input and OutputFilter need TransformOutput.AssembleWith Line (got ${request.TransformOutput.AssembleWith ?? 'None'})`,
      );
    }
  } else if (splitType !== 'Line' && splitType !== 'None') {
    errors.push(`InputFilter needs TransformInput.SplitType Line or None (got ${splitType})`);
  }
  if (inputFormat === 'csv' && splitType === 'None' && !isDefaultFilter(config.InputFilter)) {
    errors.push('InputFilter on text/csv needs TransformInput.SplitType Line (one CSV row per record)');
  }
  return errors;
}

/** A compiled JSONPath selection: returns what the path selects, shaped as SageMaker returns it. */
export type JsonSelector = (value: unknown) => unknown;

/**
 * Compiles one of SageMaker's JSONPath expressions: `$`, `.name`, `*`, `['a','b']`, `[1,3,-1]`, `[2:5]`.
 * A path naming one element selects that element; a union, slice or wildcard selects several, returned
 * as an array (from arrays and CSV rows) or as an object of the named members (from objects, as in
 * `$['id','SageMakerOutput']`). An index outside the record, or a path that selects nothing, throws.
 *
 * @throws InvalidInputError for operators SageMaker does not support (`..`, filters, scripts).
 */
export function compileJsonPath(expression: string): JsonSelector {
  const path = expression.trim();
  if (!path.startsWith('$')) throw new InvalidInputError(`JSONPath "${expression}" must start with $`);
  if (path === '$') return (value) => value;
  if (path.includes('..') || path.includes('?') || path.includes('(') || path.includes('@')) {
    throw new InvalidInputError(
      `JSONPath "${expression}" uses an operator Batch Transform does not support (supported: $ .name * ['name'(,'name')] [n(,n)] [start:end])`,
    );
  }
  // SageMaker allows `$.a.['b','c']`; jsonpath-plus wants `$.a['b','c']`.
  let unionMembers = 0;
  let brackets = 0;
  const rewritten = path.replace(/\.\[/g, '[').replace(/\[([^\]]*)\]/g, (_whole, inner: string) => {
    brackets += 1;
    const members = inner.split(',').map((m) => m.trim());
    if (members.some((m) => m === '')) {
      throw new InvalidInputError(`JSONPath "${expression}" has an empty member in [${inner}]`);
    }
    if (members.length > 1) unionMembers = members.length;
    const mapped = members.map((member) => {
      const quoted = /^'(.*)'$|^"(.*)"$/.exec(member);
      if (quoted) {
        const name = quoted[1] ?? quoted[2] ?? '';
        // jsonpath-plus spells a union of names without quotes; a single name keeps its quotes.
        return members.length > 1 ? name : member;
      }
      if (/^-\d+$/.test(member)) {
        // jsonpath-plus has no negative index, but has negative slices: [-k] is [-k:-k+1].
        const k = Number(member.slice(1));
        return k === 1 ? '-1:' : `${member}:-${k - 1}`;
      }
      if (/^\d+$|^-?\d*:-?\d*$|^\*$/.test(member)) return member;
      throw new InvalidInputError(`JSONPath "${expression}": unsupported selector [${inner}]`);
    });
    return `[${mapped.join(',')}]`;
  });
  if (!/^\$(\.[^.[\]]+|\[[^\]]*\])*$/.test(rewritten)) {
    throw new InvalidInputError(`JSONPath "${expression}" is not a supported expression`);
  }
  const selectsMany = /[*,:]/.test(path.slice(1));
  const onlyUnion = unionMembers > 0 && !/[*:]/.test(path.slice(1)) && brackets >= 1;
  return (value) => {
    const matches = JSONPath({
      path: rewritten,
      json: value as object,
      resultType: 'all',
      wrap: true,
      eval: false,
    }) as { value: unknown; parent: unknown; parentProperty: string | number }[];
    if (!selectsMany) {
      const first = matches[0];
      if (!first) throw new InvalidInputError(`JSONPath ${expression} selects nothing from the record`);
      return first.value;
    }
    if (onlyUnion && matches.length < unionMembers) {
      throw new InvalidInputError(
        `JSONPath ${expression} names ${unionMembers} elements but the record has only ${matches.length} of them (index out of range or missing key)`,
      );
    }
    const fromObject = matches.length > 0 && matches.every((m) => isPlainObject(m.parent));
    if (fromObject && !path.endsWith('*')) {
      const out: Record<string, unknown> = {};
      for (const m of matches) out[String(m.parentProperty)] = m.value;
      return out;
    }
    return matches.map((m) => m.value);
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const textDecoder = new TextDecoder();

/** Parses one CSV record (RFC 4180 quoting) into its fields. */
export function parseCsvRecord(record: Uint8Array | string): string[] {
  const text = typeof record === 'string' ? record : textDecoder.decode(record);
  // Fast path: without quotes a CSV record is a plain split.
  if (!text.includes('"')) return text.split(',');
  const rows = parseCsvSync(text, { relax_column_count: true }) as string[][];
  if (rows.length !== 1) {
    throw new InvalidInputError(
      `A CSV record must be one row (embedded newlines are not supported), got ${rows.length}`,
    );
  }
  return rows[0] as string[];
}

/** Formats fields as one CSV record (no line terminator), quoting only where needed. */
export function formatCsvRecord(fields: readonly unknown[]): string {
  const cells = fields.map((field) =>
    field === null || field === undefined
      ? ''
      : typeof field === 'object'
        ? JSON.stringify(field)
        : String(field),
  );
  if (!cells.some((cell) => /[",\r\n]/.test(cell))) return cells.join(',');
  return stringifyCsvSync([cells], { record_delimiter: 'unix' }).replace(/\n$/, '');
}

/** Per-record DataProcessing, compiled once per job. */
export interface RecordProcessor {
  /** Whether InputFilter changes records (otherwise records are sent untouched, without parsing). */
  readonly filtersInput: boolean;
  /** Whether each output line is rebuilt from input and prediction (join and/or OutputFilter). */
  readonly rewritesOutput: boolean;
  /** Whether the original input record is needed after the model answers (JoinSource Input). */
  readonly joinsInput: boolean;
  /** The part of one input record that is sent to the model. */
  filterInput(record: Uint8Array): Uint8Array;
  /** One output line (without terminator) from the input record and its prediction. */
  assembleOutput(input: Uint8Array | undefined, prediction: Uint8Array): string;
}

/**
 * Compiles DataProcessing for a job whose input and output record formats are known.
 *
 * @example
 * // CSV whose first column is an id: send the features, write "id,prediction".
 * const p = compileDataProcessing({ InputFilter: '$[1:]', JoinSource: 'Input', OutputFilter: '$[0,-1]' },
 *   { inputFormat: 'csv', outputFormat: 'csv' });
 * p.filterInput(Buffer.from('7,1.5,2')) // "1.5,2"
 * p.assembleOutput(Buffer.from('7,1.5,2'), Buffer.from('0.9')) // "7,0.9"
 */
export function compileDataProcessing(
  config: DataProcessingConfig | undefined,
  formats: { inputFormat?: RecordFormat; outputFormat?: RecordFormat },
): RecordProcessor {
  const inputFilter = isDefaultFilter(config?.InputFilter)
    ? undefined
    : compileJsonPath(config?.InputFilter ?? '$');
  const outputFilter = isDefaultFilter(config?.OutputFilter)
    ? undefined
    : compileJsonPath(config?.OutputFilter ?? '$');
  const join = config?.JoinSource === 'Input';
  const inputFormat = formats.inputFormat;
  const outputFormat = formats.outputFormat ?? inputFormat;

  const parseInput = (record: Uint8Array): unknown => {
    if (inputFormat === 'csv') return parseCsvRecord(record);
    return parseJson(record, 'input record');
  };
  const formatAs = (format: RecordFormat | undefined, value: unknown): string => {
    if (format === 'csv') return Array.isArray(value) ? formatCsvRecord(value) : formatCsvRecord([value]);
    return JSON.stringify(value);
  };
  const parsePrediction = (prediction: Uint8Array): unknown => {
    if (outputFormat === 'csv') return parseCsvRecord(prediction);
    return parseJson(prediction, 'prediction');
  };

  return {
    filtersInput: inputFilter !== undefined,
    rewritesOutput: join || outputFilter !== undefined,
    joinsInput: join,
    filterInput(record) {
      if (!inputFilter) return record;
      return Buffer.from(formatAs(inputFormat, inputFilter(parseInput(record))));
    },
    assembleOutput(input, prediction) {
      let joined: unknown;
      let format: RecordFormat | undefined;
      if (join) {
        if (!input) throw new Error('assembleOutput needs the input record for JoinSource Input');
        if (inputFormat === 'csv') {
          // SageMaker appends the transformed row to the input row.
          const predicted = parsePrediction(prediction);
          joined = [...parseCsvRecord(input), ...(Array.isArray(predicted) ? predicted : [predicted])];
          format = 'csv';
        } else {
          const original = parseJson(input, 'input record');
          const output =
            outputFormat === 'csv' ? csvToJson(parseCsvRecord(prediction)) : parsePrediction(prediction);
          joined = isPlainObject(original)
            ? { ...original, SageMakerOutput: output }
            : { SageMakerInput: original, SageMakerOutput: output };
          format = 'json';
        }
      } else {
        joined = parsePrediction(prediction);
        format = outputFormat;
      }
      return formatAs(format, outputFilter ? outputFilter(joined) : joined);
    },
  };
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  const text = textDecoder.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidInputError(`The ${what} is not valid JSON: ${text.slice(0, 100)}`);
  }
}

/** A CSV prediction placed in JSON: numbers as numbers, one field as a scalar, several as an array. */
function csvToJson(fields: string[]): unknown {
  const values = fields.map((f) => (/^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(f) ? Number(f) : f));
  return values.length === 1 ? values[0] : values;
}

/** The predictions found in one response, or how many there were when they do not match the records. */
export type PredictionSplit = { ok: true; predictions: Buffer[] } | { ok: false; received: number };

/**
 * Cuts one response body into one prediction per record sent: one line each (the usual answer of
 * CSV and JSON Lines containers; a final newline and CRLF are tolerated), or, for a JSON answer that is
 * a single array, one element each.
 */
export function splitPredictions(
  body: Uint8Array,
  expected: number,
  format: RecordFormat | undefined,
): PredictionSplit {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const lines = splitLines(buffer);
  if (lines.length === expected) return { ok: true, predictions: lines };
  if (format === 'json' && buffer.length > 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(buffer.toString('utf8'));
    } catch {
      return { ok: false, received: lines.length };
    }
    if (expected === 1) return { ok: true, predictions: [Buffer.from(JSON.stringify(parsed))] };
    if (Array.isArray(parsed)) {
      if (parsed.length === expected) {
        return { ok: true, predictions: parsed.map((p) => Buffer.from(JSON.stringify(p))) };
      }
      return { ok: false, received: parsed.length };
    }
    return { ok: false, received: 1 };
  }
  return { ok: false, received: lines.length };
}

/** How many predictions a response holds (see {@link splitPredictions}), without copying lines. */
export function countPredictions(
  body: Uint8Array,
  expected: number,
  format: RecordFormat | undefined,
): number {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const lines = countLines(buffer);
  if (lines === expected || format !== 'json') return lines;
  const split = splitPredictions(buffer, expected, format);
  return split.ok ? split.predictions.length : split.received;
}

function countLines(buffer: Buffer): number {
  if (buffer.length === 0) return 0;
  let count = 0;
  let at = buffer.indexOf(0x0a);
  while (at !== -1) {
    count += 1;
    at = buffer.indexOf(0x0a, at + 1);
  }
  return buffer[buffer.length - 1] === 0x0a ? count : count + 1;
}

function splitLines(buffer: Buffer): Buffer[] {
  if (buffer.length === 0) return [];
  const out: Buffer[] = [];
  let start = 0;
  let at = buffer.indexOf(0x0a);
  while (at !== -1) {
    out.push(trimCr(buffer.subarray(start, at)));
    start = at + 1;
    at = buffer.indexOf(0x0a, start);
  }
  if (start < buffer.length) out.push(trimCr(buffer.subarray(start)));
  return out;
}

function trimCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}

/** Builds the error a miscounting container causes. */
export function predictionMismatch(
  source: string,
  range: string,
  sent: number,
  received: number,
): PredictionMismatchError {
  return new PredictionMismatchError(
    `${source} ${range}: sent ${sent} records, received ${received} predictions from the model container`,
  );
}
