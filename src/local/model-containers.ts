import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TransientError } from '../errors.js';
import type { RunningModelServer } from '../model-server/server.js';
import { STANDBY_ARGUMENT, type StandbyStart } from '../model-server/standby.js';
import type { ModelClient } from '../ports.js';
import { HttpModelClient } from './http-model-client.js';
import { startInProcessServer } from './in-process-container.js';
import type { LocalModelRegistry } from './model-registry.js';

/**
 * How to start the built-in server: from the sources through tsx (tests, `tsx src/cli.ts`), or, in the
 * esbuild build `npm start` runs (scripts/build.mjs), its own bundle beside this file's chunk.
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const MODEL_SERVER_ARGS = FROM_SOURCES
  ? ['--import', 'tsx', fileURLToPath(new URL('../model-server/main.ts', import.meta.url))]
  : [fileURLToPath(new URL('./model-server.js', import.meta.url))];
/** The build's V8 code cache (see scripts/start.mjs): the server and its workers start without compiling. */
const COMPILE_CACHE: Record<string, string> = FROM_SOURCES
  ? {}
  : { NODE_COMPILE_CACHE: fileURLToPath(new URL('./.v8-cache', import.meta.url)) };
const START_TIMEOUT_MS = 30_000;
/**
 * A job's input up to this size (summed over the jobs that asked for the same model and environment) is
 * served by one server process instead of one per core. Starting the workers costs about a quarter of a
 * second (each is a Node process loading the server and compiling the model) and one process predicts
 * 5-10 MB of CSV a second, so below about 2 MB the extra processes finish later than one would alone.
 */
export const ONE_PROCESS_MAX_BYTES = 2 * 1024 * 1024;
/**
 * Variables Node reads as it starts (its options, libuv's, OpenSSL's, ICU's locale and time zone): a
 * standby process started without them cannot become a server whose environment sets them.
 */
const READ_AT_STARTUP = /^(NODE_|UV_|OPENSSL_|SSL_|LC_|LANG$|LANGUAGE$|TZ$)/;

/** How containers are run. */
export interface LocalModelContainersOptions {
  /**
   * Serve a small job's built-in container inside this process (in-process-container.ts) rather than in
   * a process of its own: a job whose model and environment were asked for at most
   * {@link ONE_PROCESS_MAX_BYTES} of input, whose environment sets nothing a process reads as it starts
   * and no other server count than one. The local pipeline sets it; the default is a process always.
   */
  inProcess?: boolean;
}

/**
 * Whether a container with environment `env` behaves the same inside this process: nothing in it that
 * Node reads as a process starts, and one server (SAGEMAKER_MODEL_SERVER_WORKERS unset or 1).
 */
function servesInProcess(env: Record<string, string>): boolean {
  const workers = env.SAGEMAKER_MODEL_SERVER_WORKERS;
  return (
    (workers === undefined || workers.trim() === '1') &&
    !Object.keys(env).some((name) => READ_AT_STARTUP.test(name))
  );
}

/** What the engine knows of the job that needs the container. */
export interface ContainerDemand {
  /** The job's input size in bytes. */
  inputBytes?: number;
}

/**
 * Starts and reuses model containers for the local engine. A model whose image is a URL is a container
 * the user runs; any other image is served by the built-in XGBoost server in a child process of its own
 * (its own core, as a SageMaker instance would be), with the job's Environment as its environment, or,
 * for a small job when the options allow it, inside this process (see {@link LocalModelContainersOptions}).
 */
export class LocalModelContainers {
  private readonly running = new Map<
    string,
    Promise<{ client: HttpModelClient; child?: ChildProcess; server?: RunningModelServer }>
  >();
  /** Input bytes asked of each model and environment so far. */
  private readonly demand = new Map<string, number>();
  /** A built-in server process that has loaded its code and waits for a job's start (see prestart). */
  private standby: ChildProcess | undefined;
  /** The environment the standby process started with: what Node read as it started. */
  private standbyEnv: Record<string, string> = {};
  private closed = false;

  /**
   * @param serverCommand the built-in server's command line, to which `--model <path> --port 0` is
   *   added; a test replaces it with a stand-in that reports what the process received.
   */
  constructor(
    readonly registry: LocalModelRegistry,
    private readonly artifactPath: (modelDataUrl: string) => string,
    private readonly serverCommand: readonly string[] = [process.execPath, ...MODEL_SERVER_ARGS],
    private readonly options: LocalModelContainersOptions = {},
  ) {}

  /**
   * A client for the model, starting its container on first use. A built-in server gets one process per
   * core, or one when the jobs that asked for this model and environment have read at most
   * {@link ONE_PROCESS_MAX_BYTES} in all (the model's SAGEMAKER_MODEL_SERVER_WORKERS wins either way).
   */
  async resolve(
    modelName: string,
    environment: Record<string, string> = {},
    demand: ContainerDemand = {},
  ): Promise<ModelClient> {
    const container = JSON.stringify([modelName, environment]);
    const asked = (this.demand.get(container) ?? 0) + (demand.inputBytes ?? Number.POSITIVE_INFINITY);
    this.demand.set(container, asked);
    const workers = asked <= ONE_PROCESS_MAX_BYTES ? 1 : undefined;
    const key = createHash('sha256')
      .update(JSON.stringify([modelName, environment, workers ?? 'per core']))
      .digest('hex');
    let started = this.running.get(key);
    if (!started) {
      started = this.start(modelName, environment, workers);
      this.running.set(key, started);
      started.catch(() => this.running.delete(key));
    }
    return (await started).client;
  }

  /**
   * Starts a built-in server process ahead of need: it loads the server's code while the run is being
   * planned, then waits. The first built-in container started after this becomes that process, with
   * the command line and environment a process started for it would have had (src/model-server/main.ts
   * standBy), unless that environment sets a variable Node reads as it starts. Unused, it is stopped by
   * {@link close} (or goes when this process does: it watches its IPC channel). `modelFile`, the model
   * file the run will use, is loaded by the process meanwhile; the server uses that load only when its
   * artifact has the same bytes.
   */
  prestart(modelFile?: string): void {
    if (this.standby || this.closed) return;
    const [command, ...args] = this.serverCommand as [string, ...string[]];
    const hint = modelFile ? [resolvePath(modelFile)] : [];
    const env = { ...containerProcessEnvironment({}), ...COMPILE_CACHE };
    const child = spawn(command, [...args, STANDBY_ARGUMENT, ...hint], {
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    // A standby that cannot start is not used: the job's own start reports any problem.
    child.on('error', () => {});
    this.standby = child;
    this.standbyEnv = env;
  }

  /** Closes every client's connections and stops every container this instance started. */
  async close(): Promise<void> {
    this.closed = true;
    const standby = this.standby;
    this.standby = undefined;
    const all = await Promise.allSettled(this.running.values());
    this.running.clear();
    const stopping: Promise<void>[] = standby ? [stopChild(standby)] : [];
    for (const result of all) {
      if (result.status !== 'fulfilled') continue;
      result.value.client.close();
      if (result.value.child) stopping.push(stopChild(result.value.child));
      if (result.value.server) stopping.push(result.value.server.close());
    }
    await Promise.all(stopping);
  }

  /** The standby process, if there is one still waiting and it can become a server with `env`. */
  private takeStandby(env: Record<string, string>): ChildProcess | undefined {
    const child = this.standby;
    if (!child) return undefined;
    this.standby = undefined;
    const base = this.standbyEnv;
    const startupDiffers = [...new Set([...Object.keys(base), ...Object.keys(env)])].some(
      (name) => READ_AT_STARTUP.test(name) && base[name] !== env[name],
    );
    if (child.exitCode !== null || child.signalCode !== null || !child.connected || startupDiffers) {
      void stopChild(child);
      return undefined;
    }
    return child;
  }

  private async start(modelName: string, environment: Record<string, string>, workers?: number) {
    const model = await this.registry.get(modelName);
    const image = model.PrimaryContainer.Image;
    if (/^https?:\/\//.test(image)) return { client: new HttpModelClient(image) };
    const modelDataUrl = model.PrimaryContainer.ModelDataUrl;
    if (!modelDataUrl)
      throw new TransientError(`Model "${modelName}" has no ModelDataUrl for the built-in server`);
    const env = { ...model.PrimaryContainer.Environment, ...environment };
    if (this.options.inProcess && workers === 1 && servesInProcess(env)) {
      const server = await startInProcessServer(modelName, this.artifactPath(modelDataUrl), env);
      return { client: new HttpModelClient(server.url), server };
    }
    const [command, ...args] = this.serverCommand as [string, ...string[]];
    const serverArgs = ['--model', this.artifactPath(modelDataUrl), '--port', '0'];
    if (workers !== undefined) serverArgs.push('--workers', String(workers));
    const processEnv = { ...containerProcessEnvironment(env), ...COMPILE_CACHE };
    let child = this.takeStandby(processEnv);
    if (child) {
      const start: StandbyStart = { argv: serverArgs, env: processEnv };
      child.send(start);
    } else {
      // The IPC channel is how the server notices this process is gone (see main.ts untilStopped).
      child = spawn(command, [...args, ...serverArgs], {
        env: processEnv,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
    }
    const url = await waitForListening(child, modelName);
    return { client: new HttpModelClient(url), child };
  }
}

function waitForListening(child: ChildProcess, modelName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new TransientError(
          `Model server for "${modelName}" did not start in ${START_TIMEOUT_MS} ms: ${output}`,
        ),
      );
    }, START_TIMEOUT_MS);
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /https?:\/\/[\w.:[\]-]+:\d+/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(match[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (data: Buffer) => {
      output += data.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new TransientError(`Model server for "${modelName}" exited with code ${code}: ${output.trim()}`),
      );
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * What the built-in server may take from this process's environment: only what Node needs to start
 * (finding executables, its home and temp folders, the locale). Never credentials or other settings of
 * the caller: SageMaker gives a container only the model's Environment and the batch variables.
 */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'SYSTEMROOT'] as const;

/**
 * The process environment of a model container started here: the few variables Node needs to start,
 * then the model's Environment and the job's batch variables (which win). No AWS_* or other variable
 * of the caller reaches it.
 */
export function containerProcessEnvironment(
  environment: Record<string, string>,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = parent[name];
    if (value !== undefined) base[name] = value;
  }
  return { ...base, ...environment };
}
