/**
 * The built-in model container: an HTTP server speaking the SageMaker XGBoost container's contract
 * (algorithm_mode/serve.py): GET /ping, GET /execution-parameters, POST /invocations, with its content
 * types, status codes, payload limit and response encodings. Reading requests is records.ts', writing
 * responses encoding.ts', predicting the model's; this module is the HTTP part only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { mediaType, mediaTypeParameters, xgboostRequestFormatOf } from '../core/media-types.js';
import { XGBOOST_DEFAULT_MAX_CONTENT_LENGTH } from '../core/xgboost-container.js';
import { InvalidInputError, InvalidRecordError } from '../errors.js';
import { INVALID_RECORD_HEADER } from '../ports.js';
import {
  type EncodingSettings,
  encodePredictions,
  encodingSettingsFromEnv,
  parseAccept,
  SUPPORTED_ACCEPTS,
} from './encoding.js';
import { type ParsedRecords, parseCsvRecords, parseLibsvmRecords, type RequestFormat } from './records.js';
import { loadXGBoostModel, type XGBoostModel } from './xgboost-model.js';

/** Where SageMaker puts the extracted model artifacts inside a container. */
export const SAGEMAKER_MODEL_DIR = '/opt/ml/model';
/** The port SageMaker expects a container to listen on unless SAGEMAKER_BIND_TO_PORT says otherwise. */
export const SAGEMAKER_DEFAULT_PORT = 8080;
/** The container's Flask MAX_CONTENT_LENGTH unless the environment sets it: 6 MiB (one home: core/xgboost-container.ts). */
export const DEFAULT_MAX_CONTENT_LENGTH = XGBOOST_DEFAULT_MAX_CONTENT_LENGTH;
const CLOSE_GRACE_MS = 5_000;

/** The container's behaviour as its environment sets it (read once, at start-up). */
export interface ContainerSettings extends EncodingSettings {
  /** MAX_CONTENT_LENGTH: bodies longer than this many bytes get 413. */
  maxContentLength: number;
  /** SAGEMAKER_INFERENCE_ENSEMBLE is "true" (the default): several model files are averaged. */
  ensemble: boolean;
}

/** The container's settings from environment variables, as serve.py and serve_utils.py read them. */
export function containerSettingsFromEnv(env: NodeJS.ProcessEnv): ContainerSettings {
  const raw = env.MAX_CONTENT_LENGTH;
  const maxContentLength = raw === undefined ? DEFAULT_MAX_CONTENT_LENGTH : Number(raw);
  if (!Number.isSafeInteger(maxContentLength) || maxContentLength < 0) {
    throw new InvalidInputError(`MAX_CONTENT_LENGTH must be a number of bytes, got "${raw}"`);
  }
  return {
    ...encodingSettingsFromEnv(env),
    maxContentLength,
    ensemble: (env.SAGEMAKER_INFERENCE_ENSEMBLE ?? 'true') === 'true',
  };
}

export interface ModelServerOptions {
  /** A loaded model; or give `modelPath`. */
  model?: XGBoostModel;
  /** A model file, model directory or model.tar.gz (see loadXGBoostModel). */
  modelPath?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Default 127.0.0.1: the local engine reaches the server over loopback only. */
  host?: string;
  /** Default: from process.env, as the container reads its environment. */
  settings?: ContainerSettings;
}

export interface RunningModelServer {
  /** `http://host:port`, without a trailing slash. */
  url: string;
  port: number;
  model: XGBoostModel;
  /** Stops accepting connections, drops idle keep-alive ones, and resolves when the server is closed. */
  close(): Promise<void>;
}

/**
 * Loads the model (before listening, so /ping is 200 from the first request it can answer) and serves
 * it on the SageMaker XGBoost container's contract.
 *
 * @example
 * ```ts
 * const server = await startModelServer({ modelPath: 'model.tar.gz', port: 0 });
 * await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body });
 * await server.close();
 * ```
 */
export async function startModelServer(options: ModelServerOptions): Promise<RunningModelServer> {
  const settings = options.settings ?? containerSettingsFromEnv(process.env);
  const model =
    options.model ??
    (await loadXGBoostModel(options.modelPath ?? SAGEMAKER_MODEL_DIR, { ensemble: settings.ensemble }));
  const host = options.host ?? '127.0.0.1';
  const server = createServer(createModelRequestHandler(model, settings));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? SAGEMAKER_DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    model,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
        // In-flight requests get a grace period to finish; a client that holds its connection open
        // after that must not keep a stopping container alive.
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      }),
  };
}

/**
 * The answer to GET /execution-parameters, as the container computes it: one concurrent transform per
 * CPU, MULTI_RECORD, and the payload limit in whole MiB.
 */
export function executionParameters(settings: Pick<ContainerSettings, 'maxContentLength'>): {
  MaxConcurrentTransforms: number;
  BatchStrategy: 'MULTI_RECORD';
  MaxPayloadInMB: number;
} {
  return {
    MaxConcurrentTransforms: availableParallelism(),
    BatchStrategy: 'MULTI_RECORD',
    MaxPayloadInMB: Math.trunc(settings.maxContentLength / (1024 * 1024)),
  };
}

/** The request listener, for mounting the contract on a server of one's own. */
export function createModelRequestHandler(model: XGBoostModel, settings: ContainerSettings) {
  const parameters = executionParameters(settings);
  // json.dumps' separators, as the container writes it.
  const parametersBody = `{"MaxConcurrentTransforms": ${parameters.MaxConcurrentTransforms}, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": ${parameters.MaxPayloadInMB}}`;
  const bodies = new BodyBuffers();
  return (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const method = request.method ?? 'GET';
    if (path === '/invocations' && method === 'POST') {
      readBody(request, settings.maxContentLength, bodies).then(
        (body) => {
          if (body === undefined) {
            send(
              response,
              413,
              `Request Entity Too Large: the body is over MAX_CONTENT_LENGTH (${settings.maxContentLength} bytes), ` +
                "the SageMaker XGBoost container's limit. Lower the job's MaxPayloadInMB to " +
                `${Math.trunc(settings.maxContentLength / (1024 * 1024))} or raise MAX_CONTENT_LENGTH in the model's Environment\n`,
            );
            return;
          }
          let answer: Answer;
          try {
            answer = invoke(model, settings, body, request.headers['content-type'], request.headers.accept);
          } finally {
            // invoke copies what it keeps (values into a Float32Array, text into strings): the bytes
            // can serve the next request.
            bodies.release(body);
          }
          send(response, answer.status, answer.body, answer.headers);
        },
        () => response.destroy(),
      );
      return;
    }
    request.resume();
    const [status, body, headers] = route(path, method, parametersBody);
    send(response, status, body, headers);
  };
}

const ROUTE_METHODS: Record<string, string> = {
  '/ping': 'GET',
  '/execution-parameters': 'GET',
  '/invocations': 'POST',
};

function route(path: string, method: string, parameters: string): [number, string, Record<string, string>?] {
  const allowed = ROUTE_METHODS[path];
  if (!allowed) {
    return [
      404,
      `No route ${method} ${path}: this container serves GET /ping, GET /execution-parameters and POST /invocations\n`,
    ];
  }
  if (method !== allowed && !(method === 'HEAD' && allowed === 'GET')) {
    return [405, `Use ${allowed} ${path}\n`, { allow: allowed }];
  }
  // The model is loaded before the server listens, so a server that answers is ready.
  if (path === '/ping') return [200, ''];
  return [200, parameters, { 'content-type': 'application/json' }];
}

/**
 * Request bodies' memory, reused: a transform job sends one multi-megabyte body after another, and a
 * fresh buffer for each (Buffer.concat) cost a tenth of the server's CPU in copying into new pages and
 * collecting them. One spare buffer is kept, the largest released; a request arriving while it is in use
 * gets a buffer of its own.
 */
class BodyBuffers {
  private spare: Buffer | undefined;
  /** The memory this class allocated: only that is reused (a Buffer.concat result may share Node's pool). */
  private readonly own = new WeakSet<ArrayBufferLike>();

  /** A buffer of `size` bytes whose contents are undefined. */
  take(size: number): Buffer {
    const spare = this.spare;
    if (spare && spare.length >= size) {
      this.spare = undefined;
      return spare.subarray(0, size);
    }
    const fresh = Buffer.allocUnsafeSlow(size);
    this.own.add(fresh.buffer);
    return fresh;
  }

  /** Gives back a body once nothing reads it any more (one not from {@link take} is left alone). */
  release(body: Buffer): void {
    if (!this.own.has(body.buffer)) return;
    const whole = Buffer.from(body.buffer, 0, body.buffer.byteLength);
    if (!this.spare || whole.length > this.spare.length) this.spare = whole;
  }
}

/**
 * The body, or undefined once it passes `limit` bytes (the rest is read and dropped). With a
 * Content-Length (as the local engine and SageMaker send), the bytes go straight into one buffer.
 */
function readBody(request: IncomingMessage, limit: number, bodies: BodyBuffers): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    let over = Number.isFinite(declared) && declared > limit;
    const known = Number.isSafeInteger(declared) && declared >= 0 && !over;
    let target = known ? bodies.take(declared) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      if (over) return;
      if (size + chunk.length > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      if (target && size + chunk.length <= target.length) chunk.copy(target, size);
      else {
        // More bytes than declared (Node's parser does not allow it, but be safe): collect instead.
        if (target) chunks.push(target.subarray(0, size));
        target = undefined;
        chunks.push(chunk);
      }
      size += chunk.length;
    });
    request.on('error', reject);
    request.on('end', () => {
      if (over) resolve(undefined);
      else if (target) resolve(target.subarray(0, size));
      else resolve(Buffer.concat(chunks, size));
    });
  });
}

interface Answer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** POST /invocations, in the container's order: empty, content type, parse, predict, Accept, encode. */
export function invoke(
  model: XGBoostModel,
  settings: ContainerSettings,
  body: Uint8Array,
  contentTypeHeader: string | undefined,
  acceptHeader: string | undefined,
): Answer {
  if (body.length === 0) return { status: 204, body: '' };
  const format = requestFormat(contentTypeHeader);
  if (typeof format !== 'string') return { status: 415, body: `${format.error}\n` };
  let records: ParsedRecords;
  try {
    records = format === 'csv' ? parseCsvRecords(body) : parseLibsvmRecords(body, model.numFeature);
  } catch (error) {
    return recordFailure(error, 415, format);
  }
  let predictions: Float64Array;
  try {
    if (format === 'csv' && records.numFeatures !== model.numFeature) {
      // XGBoost refuses more columns than the model has. With fewer, the container would predict as
      // though the last ones were missing: refused here too, so the mistake shows before a run on AWS.
      throw new InvalidRecordError(
        1,
        `has ${records.numFeatures} values; the model expects ${model.numFeature}` +
          (records.numFeatures < model.numFeature
            ? ' (the SageMaker XGBoost container would predict with the missing columns as missing values)'
            : ''),
        { status: 400 },
      );
    }
    predictions = model.predictBatch(records.values, records.numRows, records.numFeatures);
  } catch (error) {
    return recordFailure(error, 400, format);
  }
  const accept = parseAccept(acceptHeader, settings);
  if (!accept) {
    return {
      status: 406,
      body: `Accept type ${acceptHeader} is not supported. Please use supported accept types: ${SUPPORTED_ACCEPTS.join(', ')}.\n`,
    };
  }
  const encoded = encodePredictions(model, predictions, records.numRows, accept, settings);
  return { status: encoded.status, body: encoded.body, headers: { 'content-type': encoded.contentType } };
}

function recordFailure(error: unknown, status: number, format: RequestFormat): Answer {
  if (error instanceof InvalidRecordError) {
    // The record's number goes in a header too, so the local engine can name the input's line.
    return {
      status: error.status,
      body: `Loading ${format} data failed: ${error.message}\n`,
      headers: { [INVALID_RECORD_HEADER]: String(error.record) },
    };
  }
  if (error instanceof InvalidInputError) return { status, body: `${error.message}\n` };
  process.stderr.write(`model server: ${(error as Error).stack ?? String(error)}\n`);
  return { status: 500, body: `Internal error: ${(error as Error).message}\n` };
}

/** Request content types the container reads; what it says for the others (415). */
function requestFormat(header: string | undefined): RequestFormat | { error: string } {
  // Flask gives no content type when the header is absent, and the container then reads libsvm.
  if (header === undefined) return 'libsvm';
  const type = mediaType(header);
  const format = xgboostRequestFormatOf(type);
  if (format === 'csv') {
    const labelSize = mediaTypeParameters(header).label_size;
    if (labelSize !== undefined && labelSize !== '1') {
      return {
        error: `${header} is not an accepted csv ContentType. Optional parameter label_size must be equal to 1`,
      };
    }
    return 'csv';
  }
  if (format === 'libsvm') return 'libsvm';
  if (type === 'application/json' || type.includes('jsonlines') || type === 'application/jsonl') {
    return {
      error:
        `${header} is not an accepted ContentType: the SageMaker XGBoost container does not accept JSON or ` +
        'JSON lines input (it reads text/csv and text/libsvm). Send CSV: set TransformInput.ContentType to text/csv',
    };
  }
  if (type === 'application/x-recordio-protobuf' || type === 'recordio-protobuf') {
    return {
      error: `${header}: recordio-protobuf input is not read by the built-in server; send text/csv or text/libsvm`,
    };
  }
  return {
    error: `${header} is not an accepted ContentType: csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, application/x-parquet, application/x-recordio-protobuf.`,
  };
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    ...headers,
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}
