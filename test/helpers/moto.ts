/**
 * One moto_server (moto 5, the AWS emulator) for a test file: reuses the one `.ci/run` started
 * (MOTO_ENDPOINT) or spawns its own on a free 127.0.0.1 port and stops it afterwards.
 *
 * moto keeps one in-memory state per server for all services; tests share it, so each test names its
 * own bucket/table/model (see `uniqueName`) instead of resetting the server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

export interface Moto {
  /** `http://127.0.0.1:PORT`, for the SDK's `endpoint` or `AWS_ENDPOINT_URL`. */
  endpoint: string;
  /** Stops the server if this helper started it; a no-op for a shared MOTO_ENDPOINT. */
  stop(): Promise<void>;
}

/** The credentials and region every test client uses against moto (moto accepts any). */
export const MOTO_REGION = 'us-east-1';
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

const START_TIMEOUT_MS = 30_000;
const INSTALL_HINT =
  "moto_server is not on PATH: the AWS tests run against moto's emulator. Install it with `pip install 'moto[server]'` (moto 5), or set MOTO_ENDPOINT to a running moto_server.";

/** Starts (or reuses) moto_server and resolves once it answers HTTP. */
export async function startMoto(): Promise<Moto> {
  const shared = process.env.MOTO_ENDPOINT;
  if (shared) {
    await waitUntilAnswering(shared, START_TIMEOUT_MS, () => undefined);
    return { endpoint: shared.replace(/\/+$/, ''), stop: async () => undefined };
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess;
  try {
    child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    throw new Error(INSTALL_HINT, { cause: error });
  }
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString()).slice(-4000);
  });
  const spawnError = new Promise<Error>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ENOENT' ? new Error(INSTALL_HINT, { cause: error }) : error),
    );
  });
  const exited = () =>
    child.exitCode !== null || child.signalCode !== null
      ? `moto_server exited (${child.exitCode ?? child.signalCode}) before answering: ${stderr.trim()}`
      : undefined;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = once(child, 'exit');
      child.kill('SIGTERM');
      await closed;
    }
  };
  try {
    await Promise.race([
      waitUntilAnswering(endpoint, START_TIMEOUT_MS, exited),
      spawnError.then((error) => Promise.reject(error)),
    ]);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { endpoint, stop };
}

/** A name unique to this test process, for buckets/tables/models in the shared moto state. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

async function waitUntilAnswering(
  endpoint: string,
  timeoutMs: number,
  failed: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const reason = failed();
    if (reason) throw new Error(reason);
    try {
      // moto's dashboard endpoint answers once the server is up, whatever the service state.
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      await response.arrayBuffer();
      if (response.ok) return;
      last = new Error(`HTTP ${response.status}`);
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto_server at ${endpoint} did not answer within ${timeoutMs / 1000} s`, {
    cause: last,
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
