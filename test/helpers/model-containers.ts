/**
 * Model containers for fault tests: an in-process SageMaker-contract server wrapping the built-in
 * server's real prediction code with deterministic fault injection, and the built-in server as a real
 * child process that a test can kill -9 and restart on the same port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { containerSettingsFromEnv, invoke } from '../../src/model-server/server.js';
import { loadXGBoostModel, type XGBoostModel } from '../../src/model-server/xgboost-model.js';
import { sha256 } from './records.js';

export const SAMPLE_MODEL = join(PROJECT_ROOT, 'examples/model/xgboost-model.json');
export const SAMPLE_INPUT_DIR = join(PROJECT_ROOT, 'examples/sample/input');
const MODEL_SERVER_ENTRY = join(PROJECT_ROOT, 'src/model-server/main.ts');
const START_TIMEOUT_MS = 20_000;
/** The container as a transform job runs it: SAGEMAKER_BATCH set. */
const BATCH_SETTINGS = containerSettingsFromEnv({ SAGEMAKER_BATCH: 'true' });

/** What a faulty container does with one POST /invocations. */
export type Fault = 'none' | '5xx' | '429' | 'hang';

export interface FaultyContainerOptions {
  model: XGBoostModel;
  /**
   * Decides the fault for an invocation from its body's SHA-256 (hex) and which attempt at that body
   * this is (1 = first). Default: no faults.
   */
  fault?: (bodyHash: string, attempt: number) => Fault;
  /** Delay before each successful answer, in ms (a slow container). */
  delayMs?: number;
}

/**
 * A SageMaker-contract container on 127.0.0.1 that predicts with the built-in server's own CSV parsing,
 * XGBoost and formatting code, and injects faults as told. Emits `invocation` (count, body hash) as each
 * POST /invocations arrives.
 */
export class FaultyContainer extends EventEmitter {
  url = '';
  port = 0;
  /** Every invocation received, in arrival order. */
  readonly invocations: { hash: string; attempt: number; fault: Fault }[] = [];
  /** Bodies answered with 200, by hash: each must end up exactly once per distinct record. */
  readonly answered = new Map<string, number>();
  private readonly attempts = new Map<string, number>();
  private readonly server: Server;
  private readonly options: FaultyContainerOptions;

  constructor(options: FaultyContainerOptions) {
    super();
    this.options = options;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** Sets the delay of later answers (e.g. to make a rerun fast). */
  setDelay(ms: number): void {
    this.options.delayMs = ms;
  }

  async close(): Promise<void> {
    // Hung requests hold their sockets: drop them so close resolves.
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.url === '/ping') {
      res.writeHead(200).end();
      return;
    }
    if (req.url !== '/invocations') {
      res.writeHead(404).end();
      return;
    }
    const body = Buffer.concat(chunks);
    const hash = sha256(body);
    const attempt = (this.attempts.get(hash) ?? 0) + 1;
    this.attempts.set(hash, attempt);
    const fault = this.options.fault?.(hash, attempt) ?? 'none';
    this.invocations.push({ hash, attempt, fault });
    this.emit('invocation', this.invocations.length, hash);
    if (fault === 'hang') return; // never answers: the client's InvocationsTimeoutInSeconds ends it
    if (fault === '429') {
      res.writeHead(429, { 'content-type': 'text/plain' }).end('injected fault: too many requests\n');
      return;
    }
    if (fault === '5xx') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('injected fault: try again\n');
      return;
    }
    let output: string;
    try {
      const { model } = this.options;
      const answer = invoke(model, BATCH_SETTINGS, body, 'text/csv', 'text/csv');
      if (answer.status !== 200) throw new Error(answer.body);
      output = answer.body;
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
      return;
    }
    if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
    if (res.destroyed) return;
    this.answered.set(hash, (this.answered.get(hash) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'text/csv' }).end(output);
  }
}

/** Starts a {@link FaultyContainer} serving the sample model. */
export async function startFaultyContainer(
  options: Omit<FaultyContainerOptions, 'model'> & { model?: XGBoostModel } = {},
): Promise<FaultyContainer> {
  const model = options.model ?? (await loadXGBoostModel(SAMPLE_MODEL));
  return new FaultyContainer({ ...options, model }).start();
}

/** The built-in model server running as a child process, as the local runner starts it. */
export interface ModelServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Kills the process with SIGKILL (no clean shutdown) and resolves once it has exited. */
  kill(): Promise<void>;
}

/** Starts `src/model-server/main.ts` in a child process; `port` 0 picks a free one. */
export async function spawnModelServer(options: {
  port: number;
  model?: string;
}): Promise<ModelServerProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MODEL_SERVER_ENTRY,
      '--model',
      options.model ?? SAMPLE_MODEL,
      '--port',
      String(options.port),
    ],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = once(child, 'exit');
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(
        () => reject(new Error(`model server did not start in ${START_TIMEOUT_MS} ms: ${output}`)),
        START_TIMEOUT_MS,
      );
      const onData = (data: Buffer) => {
        output += data.toString();
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`model server exited with ${code} before listening: ${output}`));
      });
    });
    const port = Number(new URL(url).port);
    return {
      url,
      port,
      child,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited;
        }
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
