/**
 * Writes predictions as the SageMaker XGBoost container answers /invocations (algorithm_mode/serve.py,
 * serve_utils.py), re-expressed from its source:
 *
 * - `SAGEMAKER_INFERENCE_OUTPUT` set (selectable output): per record the selected keys (predicted_label,
 *   labels, probability, probabilities, raw_score, raw_scores, predicted_score) as JSON
 *   `{"predictions": [...]}`, JSON lines, or CSV rows in the variable's key order (lists quoted);
 * - batch (`SAGEMAKER_BATCH` set, as SageMaker sets it for every transform job): `str(p)` per record, one
 *   per line, whatever the Accept: `0.9951731562614441`, and for multi:softprob a Python list
 *   `[0.99, 0.001, 0.003]`;
 * - otherwise (an endpoint): JSON `{"predictions": [{"score": p}, ...]}`, or CSV rows for text/csv;
 *   other Accepts have no encoder there (the container answers 500).
 *
 * Numbers are written as Python writes them (`repr` of the float32 prediction widened to a double).
 */
import { mediaType } from '../core/media-types.js';
import type { XGBoostModel } from './xgboost-model.js';

/** The Accept types the container knows (serve.SUPPORTED_ACCEPTS). */
export const SUPPORTED_ACCEPTS = [
  'application/json',
  'application/jsonlines',
  'application/x-recordio-protobuf',
  'text/csv',
] as const;
export type Accept = (typeof SUPPORTED_ACCEPTS)[number];

/** The keys SAGEMAKER_INFERENCE_OUTPUT may select, in the order the container fills them. */
export const SELECTABLE_KEYS = [
  'predicted_label',
  'labels',
  'probability',
  'probabilities',
  'raw_score',
  'raw_scores',
  'predicted_score',
] as const;
type SelectableKey = (typeof SELECTABLE_KEYS)[number];

/** Which keys each objective can fill (serve_utils.VALID_OBJECTIVES); others get NaN. */
const VALID_KEYS: Record<string, readonly SelectableKey[]> = {
  'reg:squarederror': ['predicted_score'],
  'reg:logistic': ['predicted_score'],
  'reg:gamma': ['predicted_score'],
  'reg:absoluteerror': ['predicted_score'],
  'reg:tweedie': ['predicted_score'],
  'binary:logistic': ['predicted_label', 'labels', 'probability', 'probabilities', 'raw_score', 'raw_scores'],
  'binary:logitraw': ['predicted_label', 'labels', 'raw_score', 'raw_scores'],
  'binary:hinge': ['predicted_label', 'labels', 'raw_score', 'raw_scores'],
  'multi:softmax': ['predicted_label', 'labels', 'raw_score', 'raw_scores'],
  'multi:softprob': ['predicted_label', 'labels', 'probability', 'probabilities', 'raw_score', 'raw_scores'],
};

/** How the server encodes responses: the container's environment, read once at start-up. */
export interface EncodingSettings {
  /** SAGEMAKER_BATCH is set (to anything). */
  batch: boolean;
  /** SAGEMAKER_INFERENCE_OUTPUT split on ",", spaces removed, lower-cased; undefined when unset. */
  selectedKeys: string[] | undefined;
  /** SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, or text/csv: the answer to an absent or `*\/*` Accept. */
  defaultAccept: string;
}

/** The container's settings from its environment variables. */
export function encodingSettingsFromEnv(env: NodeJS.ProcessEnv): EncodingSettings {
  const output = env.SAGEMAKER_INFERENCE_OUTPUT;
  return {
    batch: Boolean(env.SAGEMAKER_BATCH),
    selectedKeys: output === undefined ? undefined : output.replace(/ /g, '').toLowerCase().split(','),
    defaultAccept: env.SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT ?? 'text/csv',
  };
}

/**
 * The Accept the container answers with (serve._parse_accept): the header's media type, lower-cased;
 * absent or `*\/*` means the default. Returns undefined when it is not supported (the container's 406).
 * Like the container, only a single media type is understood: `text/csv, application/json` is not one.
 */
export function parseAccept(header: string | undefined, settings: EncodingSettings): string | undefined {
  const type = mediaType(header ?? '');
  if (type === '' || type === '*/*') return settings.defaultAccept;
  return (SUPPORTED_ACCEPTS as readonly string[]).includes(type) ? type : undefined;
}

/** A response: status, body and content type. */
export interface EncodedResponse {
  status: number;
  body: string;
  contentType: string;
}

/**
 * Encodes `numRows × model.outputsPerRow` predictions for `accept` as the container would. Never
 * throws: the container's encoding failures are 500 responses with its message.
 */
export function encodePredictions(
  model: XGBoostModel,
  predictions: Float64Array,
  numRows: number,
  accept: string,
  settings: EncodingSettings,
): EncodedResponse {
  if (settings.batch && !settings.selectedKeys && model.outputsPerRow === 1) {
    // The transform job's answer, one value a line: written straight from the predictions (the hot path).
    let body = '';
    for (let r = 0; r < numRows; r++) body += `${pythonFloat(predictions[r] as number)}\n`;
    return { status: 200, body, contentType: accept };
  }
  const rows = predictionRows(model, predictions, numRows);
  if (settings.selectedKeys)
    return encodeSelected(model, rows, settings.selectedKeys, accept, settings.batch);
  if (settings.batch) {
    let body = '';
    for (const row of rows) body += `${pythonStr(row)}\n`;
    return { status: 200, body, contentType: accept };
  }
  if (accept === 'application/json') {
    const items = rows.map((row) => `{"score": ${jsonDumps(row)}}`);
    return { status: 200, body: `{"predictions": [${items.join(', ')}]}`, contentType: accept };
  }
  if (accept === 'text/csv') {
    let body = '';
    for (const row of rows)
      body += `${Array.isArray(row) ? row.map(pythonFloat).join(',') : pythonFloat(row)}\n`;
    return { status: 200, body, contentType: accept };
  }
  // sagemaker_containers' encoders know NPY, CSV and JSON only; the container's Flask app answers 500.
  return {
    status: 500,
    body: `Content type ${accept} is not supported by this framework.`,
    contentType: 'text/plain',
  };
}

/** Each record's prediction as the container holds it after `preds.tolist()`: a float, or a list for softprob. */
function predictionRows(
  model: XGBoostModel,
  predictions: Float64Array,
  numRows: number,
): (number | number[])[] {
  const k = model.outputsPerRow;
  const rows: (number | number[])[] = new Array(numRows);
  for (let r = 0; r < numRows; r++) {
    rows[r] = k === 1 ? (predictions[r] as number) : Array.from(predictions.subarray(r * k, (r + 1) * k));
  }
  return rows;
}

type Selected = number | number[];

function encodeSelected(
  model: XGBoostModel,
  rows: (number | number[])[],
  keys: string[],
  accept: string,
  batch: boolean,
): EncodedResponse {
  const objective = model.objective;
  const valid = VALID_KEYS[objective];
  if (!valid) {
    return {
      status: 500,
      body: `Objective \`${objective}\` unsupported for selectable inference predictions.`,
      contentType: 'text/plain',
    };
  }
  const wanted = new Set(keys);
  const invalid = [...wanted].filter((key) => !(valid as readonly string[]).includes(key));
  const records = rows.map((raw) => {
    const out = new Map<string, Selected>();
    for (const key of SELECTABLE_KEYS) {
      if (wanted.has(key) && valid.includes(key))
        out.set(key, selectedValue(key, objective, model.numClass, raw));
    }
    for (const key of invalid) out.set(key, Number.NaN);
    return out;
  });
  if (accept === 'application/json' || accept === 'application/jsonlines') {
    const items = records.map(
      (record) =>
        `{${[...record].map(([key, value]) => `${JSON.stringify(key)}: ${jsonDumps(value)}`).join(', ')}}`,
    );
    if (accept === 'application/json') {
      return { status: 200, body: `{"predictions": [${items.join(', ')}]}`, contentType: accept };
    }
    return { status: 200, body: items.map((item) => `${item}\n`).join(''), contentType: accept };
  }
  if (accept === 'text/csv') {
    const lines = records.map((record) =>
      keys
        .map((key) => {
          const value = record.get(key);
          if (value === undefined) return 'nan';
          return Array.isArray(value) ? `"${pythonStr(value)}"` : pythonStr(value);
        })
        .join(','),
    );
    return { status: 200, body: lines.join('\n') + (batch ? '\n' : ''), contentType: accept };
  }
  return {
    status: 500,
    body: `Cannot encode selected predictions into accept type '${accept}'.`,
    contentType: 'text/plain',
  };
}

/** One selected key's value for one record (serve_utils._get_*). Integers stay integers (`int(...)`). */
function selectedValue(
  key: SelectableKey,
  objective: string,
  numClass: number,
  raw: number | number[],
): Selected {
  const value = Array.isArray(raw) ? Number.NaN : raw;
  const max = Array.isArray(raw) ? Math.max(...raw) : Number.NaN;
  const pair = (): number[] => [1 - value, value];
  switch (key) {
    case 'predicted_label':
      if (objective === 'binary:hinge' || objective === 'multi:softmax') return value;
      if (objective === 'binary:logistic') return integer(value > 0.5 ? 1 : 0);
      if (objective === 'binary:logitraw') return integer(value > 0 ? 1 : 0);
      return integer((raw as number[]).indexOf(max));
    case 'labels':
      return objective.startsWith('binary:')
        ? [integer(0), integer(1)]
        : Array.from({ length: numClass }, (_, i) => integer(i));
    case 'probability':
      return objective === 'multi:softprob' ? max : value;
    case 'probabilities':
    case 'raw_scores':
      return objective === 'multi:softprob' ? (raw as number[]) : pair();
    case 'raw_score':
      return objective === 'multi:softprob' ? max : value;
    case 'predicted_score':
      return value;
  }
}

/**
 * Python ints and floats differ in how they print (`1` vs `1.0`); integers from `int(...)` are marked
 * by being stored as this boxed type so the writers can tell.
 */
class PyInt extends Number {}
function integer(n: number): number {
  return new PyInt(n) as unknown as number;
}

/** Python's `str()` of a float, an int, or a list of them. */
export function pythonStr(value: number | number[]): string {
  if (Array.isArray(value)) return `[${value.map((v) => pythonStr(v)).join(', ')}]`;
  if ((value as unknown) instanceof PyInt) return String(Number(value));
  return pythonFloat(value);
}

/** `json.dumps` of a float, an int, or a list of them (NaN as `NaN`, as Python's json writes it). */
function jsonDumps(value: number | number[]): string {
  if (Array.isArray(value)) return `[${value.map((v) => jsonDumps(v)).join(', ')}]`;
  if ((value as unknown) instanceof PyInt) return String(Number(value));
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  return pythonFloat(value);
}

/**
 * Python's `repr(float)`: the shortest digits that read back as the same double (as JS has), written
 * in fixed notation when the decimal exponent is in [-4, 16), else as `1.5e-05` / `1e+16`, and with
 * `.0` on integral values.
 */
export function pythonFloat(value: number): string {
  const x = Number(value);
  const magnitude = x < 0 ? -x : x;
  // Between 1e-4 and 1e16 both languages write the shortest round-trip digits in fixed notation (JS
  // switches to exponents only below 1e-6 and from 1e21); Python adds ".0" to integral values.
  if (magnitude >= 1e-4 && magnitude < 1e16) {
    const text = String(x);
    return Number.isInteger(x) ? `${text}.0` : text;
  }
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const fraction = digits.slice(exponent + 1);
    return `${sign}${whole}.${fraction === '' ? '0' : fraction}`;
  }
  const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
  return `${sign}${head}e${exponent < 0 ? '-' : '+'}${exponentDigits}`;
}
