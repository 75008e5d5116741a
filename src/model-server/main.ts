/**
 * Process entry of the built-in model container:
 *
 *   npx tsx src/model-server/main.ts --model examples/model/xgboost-model.json --port 8080
 *   npm start -- serve-model --model examples/model/xgboost-model.json
 *
 * Prints one line with the URL once it listens (the local engine waits for that line), and exits 0 on
 * SIGTERM or SIGINT after closing the server. As in a SageMaker container, the model defaults to
 * $SM_MODEL_DIR or /opt/ml/model and the port to $SAGEMAKER_BIND_TO_PORT or 8080.
 */
import cluster, { type Worker } from 'node:cluster';
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rehearse } from './rehearsal.js';
import {
  type ContainerSettings,
  containerSettingsFromEnv,
  SAGEMAKER_DEFAULT_PORT,
  SAGEMAKER_MODEL_DIR,
  startModelServer,
} from './server.js';
import { STANDBY_ARGUMENT, type StandbyStart } from './standby.js';
import { loadXGBoostModel, type XGBoostModel } from './xgboost-model.js';

export interface ServeModelOptions {
  /** Model file, directory or model.tar.gz; default $SM_MODEL_DIR, then /opt/ml/model. */
  model?: string | undefined;
  /** Port as typed by the user; default $SAGEMAKER_BIND_TO_PORT, then 8080. "0" picks a free port. */
  port?: string | undefined;
  /** Default 127.0.0.1. */
  host?: string | undefined;
  /**
   * Server processes wanted by whoever starts the server (the local engine asks for one for a small
   * job); $SAGEMAKER_MODEL_SERVER_WORKERS, the model's own setting, wins. Default one per core.
   */
  workers?: string | undefined;
}

/**
 * Serves a model until SIGTERM or SIGINT; resolves with the exit code (0 after a clean stop, 1 when the
 * server cannot start, with the reason on stderr).
 */
export async function serveModelCommand(
  options: ServeModelOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const modelPath = options.model ?? env.SM_MODEL_DIR ?? SAGEMAKER_MODEL_DIR;
  const portText = options.port ?? env.SAGEMAKER_BIND_TO_PORT ?? String(SAGEMAKER_DEFAULT_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`Invalid port "${portText}"\n`);
    return 1;
  }
  const workers = workerCount(env.SAGEMAKER_MODEL_SERVER_WORKERS ?? options.workers);
  if (workers === undefined) {
    const [name, value] =
      env.SAGEMAKER_MODEL_SERVER_WORKERS === undefined
        ? ['--workers', options.workers]
        : ['SAGEMAKER_MODEL_SERVER_WORKERS', env.SAGEMAKER_MODEL_SERVER_WORKERS];
    process.stderr.write(`Invalid ${name} "${value}": give a positive integer\n`);
    return 1;
  }
  const host = options.host ?? '127.0.0.1';
  let settings: ContainerSettings;
  try {
    settings = containerSettingsFromEnv(env);
  } catch (error) {
    process.stderr.write(`Model server could not start: ${(error as Error).message}\n`);
    return 1;
  }
  if (cluster.isWorker) return serveAsWorker(modelPath, port, host, settings);
  if (workers > 1) return serveWithWorkers(modelPath, workers, settings);
  let server: Awaited<ReturnType<typeof startModelServer>>;
  try {
    const model = await loadModel(modelPath, settings);
    server = await startModelServer({ model, modelPath, port, host, settings });
  } catch (error) {
    process.stderr.write(`Model server could not start: ${(error as Error).message}\n`);
    return 1;
  }
  const { model } = server;
  // Listen for SIGTERM before saying so: whoever reads the line may stop the server at once.
  const stopped = untilStopped();
  process.stdout.write(`Model server listening on ${server.url} (${describe(modelPath, model)})\n`);
  const signal = await stopped;
  await server.close();
  process.stderr.write(`Model server stopped (${signal})\n`);
  return 0;
}

/**
 * Model server processes, as SageMaker's own containers size them: SAGEMAKER_MODEL_SERVER_WORKERS, by
 * default one per core. Prediction is CPU-bound, and one process would use one core however many
 * requests MaxConcurrentTransforms sends at once. `undefined` when the value is not a positive integer.
 */
function workerCount(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return availableParallelism();
  const count = Number(text);
  return Number.isInteger(count) && count >= 1 ? count : undefined;
}

/**
 * The primary of a multi-process server: checks the model loads (so a bad model fails at once, with
 * the reason), forks the workers, which share one listening port (connections are dealt round-robin),
 * prints the URL once every worker listens, replaces a worker that dies, and stops them all on SIGTERM.
 */
async function serveWithWorkers(
  modelPath: string,
  count: number,
  settings: ContainerSettings,
): Promise<number> {
  // Each worker reads the same --port and --host and listens itself; the cluster shares the socket.
  let model: Awaited<ReturnType<typeof loadXGBoostModel>>;
  try {
    model = await loadModel(modelPath, settings);
  } catch (error) {
    process.stderr.write(`Model server could not start: ${(error as Error).message}\n`);
    return 1;
  }
  let stopping = false;
  let url = '';
  const fork = (): Worker => cluster.fork({ SAGEMAKER_MODEL_SERVER_WORKERS: '1', SM_MODEL_DIR: modelPath });
  const started = await new Promise<string | Error>((resolve) => {
    let listening = 0;
    cluster.on('message', (_worker, message: { url?: string; error?: string }) => {
      if (message.error) resolve(new Error(message.error));
      else if (message.url && ++listening === count) resolve(message.url);
    });
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      if (!url) {
        resolve(new Error(`worker ${worker.process.pid} exited (${signal ?? code}) while starting`));
        return;
      }
      process.stderr.write(
        `Model server worker ${worker.process.pid} exited (${signal ?? code}); replacing it\n`,
      );
      fork();
    });
    for (let n = 0; n < count; n++) fork();
  });
  const stopAll = () =>
    Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (!worker || worker.isDead()) return resolve();
            // A worker that does not stop within 5 s is killed: one signal must stop the server.
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), 5000);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  if (started instanceof Error) {
    stopping = true;
    await stopAll();
    process.stderr.write(`Model server could not start: ${started.message}\n`);
    return 1;
  }
  url = started;
  // Ctrl-C signals the workers too: they must not be replaced as they stop.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
    });
  }
  const stopped = untilStopped();
  process.stdout.write(
    `Model server listening on ${url} (${describe(modelPath, model)}; ${count} worker processes)\n`,
  );
  const signal = await stopped;
  stopping = true;
  await stopAll();
  process.stderr.write(`Model server stopped (${signal}), with its ${count} worker processes\n`);
  return 0;
}

/** A worker of {@link serveWithWorkers}: serves until SIGTERM, telling the primary its URL or why it failed. */
async function serveAsWorker(
  modelPath: string,
  port: number,
  host: string,
  settings: ContainerSettings,
): Promise<number> {
  let server: Awaited<ReturnType<typeof startModelServer>>;
  try {
    server = await startModelServer({ modelPath, port, host, settings });
  } catch (error) {
    process.send?.({ error: (error as Error).message });
    return 1;
  }
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  process.send?.({ url: server.url });
  await stopped;
  await server.close();
  // The IPC channel to the primary would keep this worker alive (and the primary waiting for it).
  if (process.connected) process.disconnect();
  return 0;
}

/** The start-up line's model part: path, objective, booster, features, trees, ensemble size. */
function describe(modelPath: string, model: Awaited<ReturnType<typeof loadXGBoostModel>>): string {
  const boosters = [...new Set(model.members.map((m) => m.booster))].join('+');
  const ensemble = model.members.length > 1 ? `, an ensemble of ${model.members.length} models` : '';
  return (
    `${modelPath}: ${model.objective} ${boosters}, ${model.numFeature} features, ` +
    `${model.numTrees} trees${ensemble}`
  );
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** A model a standby process loaded from the file it was told the run would use, before its start. */
interface Preloaded {
  path: string;
  bytes: Buffer;
  ensemble: boolean;
  model: XGBoostModel;
}
let preloading: Promise<Preloaded | undefined> | undefined;

/** Loads (and compiles) the hinted model file as a start without SAGEMAKER_INFERENCE_ENSEMBLE would. */
async function preload(path: string): Promise<Preloaded | undefined> {
  try {
    const { ensemble } = containerSettingsFromEnv(process.env);
    const bytes = await readFile(path);
    return { path, bytes, ensemble, model: await loadXGBoostModel(path, { ensemble }) };
  } catch {
    // The server's own load reports what is wrong with the model.
    return undefined;
  }
}

/**
 * The model at `modelPath`: the one the standby preloaded when the file is the same (same bytes, same
 * extension, same ensemble setting: the job's artifact is a copy of the user's file), else loaded now.
 */
async function loadModel(modelPath: string, settings: ContainerSettings): Promise<XGBoostModel> {
  const early = await preloading;
  preloading = undefined;
  if (
    early &&
    early.ensemble === settings.ensemble &&
    extname(early.path).toLowerCase() === extname(modelPath).toLowerCase()
  ) {
    const bytes = await readFile(modelPath).catch(() => undefined);
    if (bytes?.equals(early.bytes)) return early.model;
  }
  return loadXGBoostModel(modelPath, { ensemble: settings.ensemble });
}

/**
 * A process started with {@link STANDBY_ARGUMENT} (by src/local/model-containers.ts, while the run is
 * still being planned) has loaded this code and waits for the command line and environment of the
 * server a job needs, then becomes that server: its environment is replaced by the one received, whole,
 * so the server, its settings and its cluster workers see exactly what a process started with it would.
 * Given a model file after the argument (the run's), it loads that meanwhile (see loadModel), and then
 * rehearses with it (rehearsal.ts).
 * `undefined` when the pipeline went away first.
 */
function standBy(): Promise<StandbyStart | undefined> {
  const hint = process.argv[3];
  let started = false;
  if (hint) {
    preloading = preload(hint);
    // Meanwhile, warm the code the job's first requests run (rehearsal.ts). The server's own start,
    // should it come first, does not wait for the rehearsal: each listens on a port of its own.
    void preloading.then((early) => (early && !started ? rehearse(early.model) : undefined));
  }
  return new Promise((resolve) => {
    process.once('message', (message: StandbyStart) => {
      started = true;
      for (const name of Object.keys(process.env)) {
        if (!Object.hasOwn(message.env, name)) delete process.env[name];
      }
      Object.assign(process.env, message.env);
      // Cluster workers are started with the primary's arguments (cluster.setupPrimary's default).
      process.argv.splice(2, Number.POSITIVE_INFINITY, ...message.argv);
      resolve(message);
    });
    process.once('disconnect', () => resolve(undefined));
  });
}

// Not a top-level await: the command line's build (one CommonJS file, scripts/build.mjs) includes this
// module for `serve-model`, and CommonJS has none. A rejection still ends the process as one would.
if (isEntryPoint()) void serveAsEntryPoint();

/** `node model-server.js …`: serve (after a standby's wait for its model, when started as one). */
async function serveAsEntryPoint(): Promise<void> {
  const waiting = process.argv[2] === STANDBY_ARGUMENT;
  if (!waiting || (await standBy())) {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      // SageMaker starts containers as `docker run <image> serve`: the word is accepted and ignored.
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        workers: { type: 'string' },
      },
    });
    process.exitCode = await serveModelCommand(values);
  }
  // Started by the local pipeline, the IPC channel to it would keep this process alive after a stop.
  if (process.connected) process.disconnect();
}

/**
 * Resolves when the server should stop: on SIGTERM or SIGINT, or when the process that started it with
 * an IPC channel (the local pipeline) is gone, so a killed runner leaves no orphaned containers.
 */
function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (process.send) process.once('disconnect', () => resolve('parent exited'));
  });
}
