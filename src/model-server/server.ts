/**
 * The built-in model container: an HTTP server speaking SageMaker's inference container contract
 * (GET /ping, GET /execution-parameters, POST /invocations) for an XGBoost JSON model.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { InvalidInputError, InvalidRecordError } from '../errors.js';
import { type ExecutionParameters, INVALID_RECORD_HEADER } from '../ports.js';
import {
  CONTENT_TYPES,
  type ContentType,
  CsvInvocation,
  formatPredictions,
  type ParsedRecords,
  parseCsvRecords,
  parseJsonLinesRecords,
  parseJsonRecords,
} from './records.js';
import { loadXGBoostModel, type XGBoostModel } from './xgboost-model.js';

/** Where SageMaker puts the extracted model artifacts inside a container. */
export const SAGEMAKER_MODEL_DIR = '/opt/ml/model';
/** The port SageMaker expects a container to listen on unless SAGEMAKER_BIND_TO_PORT says otherwise. */
export const SAGEMAKER_DEFAULT_PORT = 8080;
const CLOSE_GRACE_MS = 5_000;

export interface ModelServerOptions {
  /** A loaded model; or give `modelPath`. */
  model?: XGBoostModel;
  /** A model file, model directory or model.tar.gz (see loadXGBoostModel). */
  modelPath?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Default 127.0.0.1: the local engine reaches the server over loopback only. */
  host?: string;
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
 * it on the SageMaker container contract.
 *
 * @example
 * ```ts
 * const server = await startModelServer({ modelPath: 'examples/model/xgboost-model.json', port: 0 });
 * await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body });
 * await server.close();
 * ```
 */
export async function startModelServer(options: ModelServerOptions): Promise<RunningModelServer> {
  const model = options.model ?? (await loadXGBoostModel(options.modelPath ?? SAGEMAKER_MODEL_DIR));
  const host = options.host ?? '127.0.0.1';
  const server = createServer(createModelRequestHandler(model));
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

/** The answer to GET /execution-parameters, which SageMaker reads when a job leaves these unset. */
export function executionParameters(): Required<ExecutionParameters> {
  return { MaxConcurrentTransforms: availableParallelism(), BatchStrategy: 'MultiRecord', MaxPayloadInMB: 6 };
}

/** The request listener, for mounting the contract on a server of one's own. */
export function createModelRequestHandler(model: XGBoostModel) {
  const parameters = JSON.stringify(executionParameters());
  return (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const method = request.method ?? 'GET';
    if (path === '/invocations' && method === 'POST') {
      invoke(model, request, response);
      return;
    }
    request.resume();
    const [status, body, headers] = answer(path, method, parameters);
    send(response, status, body, headers);
  };
}

const ROUTE_METHODS: Record<string, string> = {
  '/ping': 'GET',
  '/execution-parameters': 'GET',
  '/invocations': 'POST',
};

function answer(path: string, method: string, parameters: string): [number, string, Record<string, string>?] {
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

function invoke(model: XGBoostModel, request: IncomingMessage, response: ServerResponse): void {
  // Decided before reading the body, so a wrong type is refused without parsing anything.
  const contentType = requestContentType(request.headers['content-type']);
  if (!contentType) {
    request.resume();
    send(
      response,
      415,
      `Unsupported Content-Type "${request.headers['content-type']}": send ${CONTENT_TYPES.join(', ')}\n`,
    );
    return;
  }
  const accept = responseContentType(request.headers.accept);
  if (!accept) {
    request.resume();
    send(
      response,
      406,
      `Unsupported Accept "${request.headers.accept}": ask for ${CONTENT_TYPES.join(', ')}\n`,
    );
    return;
  }
  const invocation =
    contentType === 'text/csv'
      ? new CsvInvocation(model, accept)
      : new BufferedInvocation(model, contentType, accept);
  let failed = false;
  const fail = (error: unknown) => {
    failed = true;
    if (error instanceof InvalidInputError) {
      // Says which record in a header too, so a caller that knows where the request came from (the
      // local engine) can name the input's line without reading the message.
      const headers: Record<string, string> =
        error instanceof InvalidRecordError ? { [INVALID_RECORD_HEADER]: String(error.record) } : {};
      send(response, 400, `${error.message}\n`, headers);
    } else {
      process.stderr.write(`model server: ${(error as Error).stack ?? String(error)}\n`);
      send(response, 500, `Internal error: ${(error as Error).message}\n`);
    }
  };
  request.on('data', (chunk: Buffer) => {
    if (failed) return; // the answer is sent; the rest of the body is read and dropped
    try {
      invocation.write(chunk);
    } catch (error) {
      fail(error);
    }
  });
  request.on('error', () => response.destroy());
  request.on('end', () => {
    if (failed) return;
    let output: string;
    try {
      output = invocation.end();
    } catch (error) {
      fail(error);
      return;
    }
    send(response, 200, output, { 'content-type': accept });
  });
}

/** JSON bodies are parsed whole: a JSON document cannot be split on newlines, and JSON lines are rare here. */
class BufferedInvocation {
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly model: XGBoostModel,
    private readonly contentType: ContentType,
    private readonly accept: ContentType,
  ) {}

  write(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  end(): string {
    const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const { values, numRows } = parseRecords(body, this.contentType, this.model.numFeature);
    const predictions = this.model.predictBatch(values, numRows, this.model.numFeature);
    return formatPredictions(this.model, predictions, numRows, this.accept);
  }
}

function parseRecords(body: Buffer, contentType: ContentType, numFeatures: number): ParsedRecords {
  switch (contentType) {
    case 'text/csv':
      return parseCsvRecords(body, numFeatures);
    case 'application/jsonlines':
      return parseJsonLinesRecords(body, numFeatures);
    case 'application/json':
      return parseJsonRecords(body, numFeatures);
  }
}

/** The request's media type, without parameters such as charset; absent means CSV, as for Accept. */
function requestContentType(header: string | undefined): ContentType | undefined {
  if (header === undefined || header.trim() === '') return 'text/csv';
  return normalise(mediaType(header));
}

/** The first supported type in Accept; absent or a wildcard means CSV. */
function responseContentType(header: string | undefined): ContentType | undefined {
  if (header === undefined || header.trim() === '') return 'text/csv';
  for (const part of header.split(',')) {
    const type = mediaType(part);
    if (type === '*/*' || type === 'text/*') return 'text/csv';
    if (type === 'application/*') return 'application/json';
    const supported = normalise(type);
    if (supported) return supported;
  }
  return undefined;
}

function mediaType(value: string): string {
  return (value.split(';', 1)[0] as string).trim().toLowerCase();
}

/** SageMaker and its SDKs spell JSON lines a few ways; they all mean one JSON value per line. */
function normalise(type: string): ContentType | undefined {
  if (type === 'application/x-jsonlines' || type === 'application/jsonl') return 'application/jsonlines';
  return (CONTENT_TYPES as readonly string[]).includes(type) ? (type as ContentType) : undefined;
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
