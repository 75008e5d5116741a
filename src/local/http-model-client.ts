import { Agent, type IncomingMessage, request } from 'node:http';
import type { Readable } from 'node:stream';
import { InvalidInputError, InvocationTimeoutError } from '../errors.js';
import {
  type ExecutionParameters,
  INVALID_RECORD_HEADER,
  type InvocationResult,
  type InvokeOptions,
  type ModelClient,
} from '../ports.js';

/**
 * A model client that can also send a body as it is read (HTTP chunked encoding), which the engine uses
 * for MaxPayloadInMB 0 so a whole object is never held in memory, or as pieces it never joins.
 */
export interface StreamingModelClient extends ModelClient {
  invokeStream(body: Readable, options: InvokeOptions): Promise<InvocationResult>;
  /** {@link ModelClient.invoke} with the body given as consecutive pieces, sent without joining them. */
  invokeParts(parts: readonly Uint8Array[], options: InvokeOptions): Promise<InvocationResult>;
}

/** Whether a client can stream request bodies. */
export function isStreamingModelClient(client: ModelClient): client is StreamingModelClient {
  return typeof (client as Partial<StreamingModelClient>).invokeStream === 'function';
}

/**
 * A model container over HTTP, speaking the SageMaker hosting contract: `GET /ping`,
 * `GET /execution-parameters`, `POST /invocations`.
 *
 * Uses node:http with a keep-alive agent (one TCP connection per concurrent request, reused for the
 * whole job): at thousands of small requests per second, connection setup would otherwise dominate.
 * Every request has a deadline covering the whole exchange, body included.
 */
export class HttpModelClient implements StreamingModelClient {
  readonly baseUrl: URL;
  private readonly agent: Agent;

  /** @param baseUrl e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  constructor(baseUrl: string, options: { maxSockets?: number } = {}) {
    this.baseUrl = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    if (this.baseUrl.protocol !== 'http:') {
      throw new InvalidInputError(`HttpModelClient supports http:// URLs only, got ${baseUrl}`);
    }
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256, scheduling: 'lifo' });
  }

  async ping(timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.send('GET', 'ping', undefined, {}, timeoutMs);
      return response.statusCode === 200;
    } catch {
      return false;
    }
  }

  async executionParameters(timeoutMs: number): Promise<ExecutionParameters | undefined> {
    const response = await this.send(
      'GET',
      'execution-parameters',
      undefined,
      { accept: 'application/json' },
      timeoutMs,
    );
    // SageMaker treats a container without the endpoint (any non-200) as "no preferences".
    if (response.statusCode !== 200) return undefined;
    try {
      return JSON.parse(Buffer.from(response.body).toString('utf8')) as ExecutionParameters;
    } catch {
      return undefined;
    }
  }

  invoke(body: Uint8Array, options: InvokeOptions): Promise<InvocationResult> {
    return this.send('POST', 'invocations', body, headersFor(options, body.byteLength), options.timeoutMs);
  }

  invokeParts(parts: readonly Uint8Array[], options: InvokeOptions): Promise<InvocationResult> {
    const length = parts.reduce((total, part) => total + part.byteLength, 0);
    return this.send('POST', 'invocations', parts, headersFor(options, length), options.timeoutMs);
  }

  invokeStream(body: Readable, options: InvokeOptions): Promise<InvocationResult> {
    return this.send('POST', 'invocations', body, headersFor(options), options.timeoutMs);
  }

  /** Closes idle keep-alive connections (open requests finish first). */
  close(): void {
    this.agent.destroy();
  }

  private send(
    method: string,
    path: string,
    body: Uint8Array | readonly Uint8Array[] | Readable | undefined,
    headers: Record<string, string | number>,
    timeoutMs: number,
  ): Promise<InvocationResult> {
    const url = new URL(path, this.baseUrl);
    return new Promise<InvocationResult>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const req = request(url, { method, headers, agent: this.agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const contentType = res.headers['content-type'];
          const invalidRecord = Number(res.headers[INVALID_RECORD_HEADER]);
          resolve({
            statusCode: res.statusCode ?? 0,
            body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size),
            ...(contentType ? { contentType } : {}),
            ...(Number.isSafeInteger(invalidRecord) && invalidRecord > 0 ? { invalidRecord } : {}),
          });
        });
      });
      const timer = setTimeout(() => {
        const error = new InvocationTimeoutError(
          `${method} ${url.href} timed out after ${timeoutMs} ms`,
          timeoutMs,
        );
        fail(error);
        req.destroy(error);
      }, timeoutMs);
      req.on('error', (error) => fail(error));
      if (body === undefined) {
        req.end();
      } else if (body instanceof Uint8Array) {
        req.end(body);
      } else if ('pipe' in body) {
        body.on('error', (error) => {
          fail(error);
          req.destroy(error);
        });
        body.pipe(req);
      } else {
        // One writev for all the pieces (Content-Length is set): no joined copy of the body.
        req.cork();
        for (const part of body) req.write(part);
        req.end();
      }
    });
  }
}

function headersFor(options: InvokeOptions, length?: number): Record<string, string | number> {
  const headers: Record<string, string | number> = { 'content-type': options.contentType };
  if (options.accept) headers.accept = options.accept;
  if (length !== undefined) headers['content-length'] = length;
  return headers;
}
