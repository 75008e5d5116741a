import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { CreateModelRequest } from '../core/build-manifest-models.js';
import type { ParseProgressEvent } from '../core/result-parsing.js';
import { attemptIdFor } from '../core/run-attempt.js';
import type { QueryProgressEvent } from '../core/run-queries.js';
import type { PipelineSettings, RunRequest } from '../core/run-request.js';
import type { TransformJobRequest } from '../core/transform-job.js';
import { checkModelArtifact } from '../model-server/xgboost-model.js';
import { createQueryLoader, listQueryNames } from '../query-files.js';
import { createBuildManifestHandler } from '../steps/build-manifest.js';
import { createParseResultsHandler } from '../steps/parse-results.js';
import { createRecordFailureHandler } from '../steps/record-failure.js';
import { createRegisterTableHandler } from '../steps/register-table.js';
import { createRunQueriesHandler } from '../steps/run-queries.js';
import type { DuckDbCatalog } from './duckdb-catalog.js';
import { FileObjectStore } from './file-object-store.js';
import { recoverInterruptedRuns } from './interrupted-runs.js';
import { LocalModelContainers } from './model-containers.js';
import { LocalModelRegistry } from './model-registry.js';
import { DEFINITION_PATH, QUERIES_DIR } from './paths.js';
import type { ExecutionResult, ResourceImplementations } from './state-machine-runner.js';
import { LocalTransformEngine, type TransformProgressEvent } from './transform-engine.js';

/** The bucket name the local store uses for runs/ and results/ (and, by default, incoming/). */
export const LOCAL_BUCKET = 'local-pipeline';

/**
 * The attempts this process is running now, as `<store root>\0<attemptId>`: opening a home takes back
 * interrupted attempts, and another pipeline in this process may be running one on the same home (a
 * count: the same execution name may run twice, as a duplicate event does).
 */
const liveAttempts = new Map<string, number>();

export interface LocalPipelineOptions {
  /** Where everything lives: s3/ (the object store), catalog.duckdb, models.json. */
  home: string;
  /** Called as each Task state starts and ends, for progress output. */
  onStateEvent?: (event: StateEvent) => void;
  /** Called as transform jobs read, batch and write, for progress bars. */
  onTransformProgress?: (event: TransformProgressEvent) => void;
  /** Called as ParseResults joins records with their predictions, for progress lines. */
  onParseProgress?: (event: ParseProgressEvent) => void;
  /** Called as RunQueries starts and ends each query. */
  onQueryProgress?: (event: QueryProgressEvent) => void;
  /** Retry waits per state in ms (tests use 0). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  /**
   * Open the catalog read-only (`npm start -- query`): nothing done through this pipeline can change
   * the catalog or the results, and several readers can share the catalog file. Runs need read-write.
   */
  readOnly?: boolean;
  /**
   * Told when a read-write open takes back a run that was interrupted after publishing began (default:
   * a line on stderr).
   */
  onRecovery?: (message: string) => void;
  /**
   * The run will need the built-in model server (it has a model file): start one server process now,
   * as the home opens, so it has loaded its code by the time the transform job asks for it
   * (LocalModelContainers.prestart).
   */
  prestartModelServer?: boolean;
  /** The model file the run will serve first, for that server to load while it waits. */
  prestartModelFile?: string;
}

/** What one run (LocalPipeline.run) is told besides its request. */
export interface RunOptions {
  /**
   * Puts the run's failure messages in the user's terms (the CLI's paths, line numbers and column
   * names), for failure.json and the failure report to say what the terminal says.
   */
  userText?: (text: string) => string;
  /**
   * The user's own input (a file or folder path), which the reports name as the run's input instead of
   * the request's `input`, the pipeline's copy or link in the store (a copy is deleted with its attempt).
   */
  userInput?: string;
}

export interface StateEvent {
  state: string;
  phase: 'start' | 'end' | 'error';
  input?: unknown;
  output?: unknown;
  error?: Error;
  elapsedMs?: number;
}

/**
 * The whole pipeline on one machine: the same state machine file, the same handler code, with local
 * adapters (file object store, DuckDB catalog, local transform engine, model containers as processes).
 */
export class LocalPipeline {
  readonly home: string;
  readonly store: FileObjectStore;
  readonly catalog: DuckDbCatalog;
  readonly models: LocalModelRegistry;
  readonly containers: LocalModelContainers;
  readonly engine: LocalTransformEngine;
  readonly settings: PipelineSettings;
  private readonly options: LocalPipelineOptions;

  private constructor(
    options: LocalPipelineOptions,
    catalog: DuckDbCatalog,
    store: FileObjectStore,
    containers: LocalModelContainers,
  ) {
    this.options = options;
    this.home = resolve(options.home);
    this.store = store;
    this.catalog = catalog;
    this.models = containers.registry;
    this.containers = containers;
    this.engine = new LocalTransformEngine({
      store: this.store,
      resolveModel: (name, environment, demand) => this.containers.resolve(name, environment, demand),
      ...(options.onTransformProgress ? { log: options.onTransformProgress } : {}),
    });
    this.settings = {
      bucket: LOCAL_BUCKET,
      database: 'local',
      sagemakerRoleArn: 'arn:aws:iam::000000000000:role/local-sagemaker-execution',
    };
  }

  /** Opens (creating when new) the pipeline home. */
  static async open(options: LocalPipelineOptions): Promise<LocalPipeline> {
    const home = resolve(options.home);
    await mkdir(home, { recursive: true });
    const store = new FileObjectStore(join(home, 's3'));
    const containers = new LocalModelContainers(
      new LocalModelRegistry(join(home, 'models.json')),
      (uri) => store.pathOf(uri),
      undefined,
      { inProcess: true },
    );
    // First, so the server's start overlaps everything below (DuckDB's load and open, the plan).
    if (options.prestartModelServer) containers.prestart(options.prestartModelFile);
    try {
      return new LocalPipeline(options, await LocalPipeline.openCatalog(options, store), store, containers);
    } catch (error) {
      await containers.close();
      throw error;
    }
  }

  /** Opens the catalog, and for a run takes back what killed runs left (see below). */
  private static async openCatalog(options: LocalPipelineOptions, store: FileObjectStore) {
    // Loaded here, not with this module: DuckDB's native library takes a while, and the standby
    // server (prestartModelServer) should be started before.
    const [{ DuckDbCatalog }] = await Promise.all([
      import('./duckdb-catalog.js'),
      // The run's interpreter, loaded now while nothing waits for it.
      options.readOnly ? undefined : import('./state-machine-runner.js'),
    ]);
    const catalogPath = join(resolve(options.home), 'catalog.duckdb');
    if (options.readOnly && !existsSync(catalogPath)) {
      // A read-only open needs the file: create the empty catalog once (no tables, no partitions).
      await (await DuckDbCatalog.open(catalogPath, store)).close();
    }
    const catalog = await DuckDbCatalog.open(catalogPath, store, { readOnly: options.readOnly === true });
    if (!options.readOnly) {
      // Safe only here: DuckDB holds an exclusive lock on the catalog file for a read-write open, so no
      // other process has this home open for a run, and nothing else writes to its store. Every file in
      // the store's temp folder is then a write a killed or crashed run never finished. (A read-only open
      // shares the file with other readers and a run may still be writing: it cleans nothing.)
      await store.removeStaleTemporaries();
      // For the same reason, an attempt that began publishing and never committed is not running (but
      // for this process's own, kept in liveAttempts): its runner was killed, and nothing ran the
      // state machine's Catch. Do what RecordFailure would have done: switch back, then clean.
      const log = options.onRecovery ?? ((message: string) => process.stderr.write(`${message}\n`));
      await recoverInterruptedRuns(
        { store, catalog, bucket: LOCAL_BUCKET },
        (attemptId) => liveAttempts.has(`${store.root}\0${attemptId}`),
        log,
      );
    }
    return catalog;
  }

  /** Runs the state machine on a run request; resolves with the execution's result whatever it was. */
  async run(
    request: RunRequest,
    executionName: string = randomUUID(),
    options: RunOptions = {},
  ): Promise<ExecutionResult> {
    const { loadDefinition, runStateMachine } = await import('./state-machine-runner.js');
    const definition = await loadDefinition(DEFINITION_PATH);
    const live = `${this.store.root}\0${attemptIdFor(executionName)}`;
    liveAttempts.set(live, (liveAttempts.get(live) ?? 0) + 1);
    try {
      return await runStateMachine(definition, request, this.implementations(request, options), {
        executionName,
        ...(this.options.retryIntervalOverrides
          ? { retryIntervalOverrides: this.options.retryIntervalOverrides }
          : {}),
        store: this.store,
      });
    } finally {
      const left = (liveAttempts.get(live) ?? 1) - 1;
      if (left > 0) liveAttempts.set(live, left);
      else liveAttempts.delete(live);
    }
  }

  /** Stops the model containers and closes the catalog, at once: DuckDB closes as the servers stop. */
  async close(): Promise<void> {
    const results = await Promise.allSettled([this.containers.close(), this.catalog.close()]);
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }

  private implementations(request: RunRequest, options: RunOptions): ResourceImplementations {
    const store = this.store;
    // The reports name local files as the user finds them rather than the store's s3:// URIs, and the
    // input as the user gave it.
    const display = (uri: string) =>
      options.userInput !== undefined && uri === request.input ? options.userInput : displayUri(store, uri);
    const lambda =
      <E, R>(handler: (event: E, context: never) => Promise<R>) =>
      (event: unknown) =>
        handler(event as E, lambdaContext() as never);
    const buildManifest = createBuildManifestHandler(() => ({
      store,
      settings: this.settings,
      modelExists: (name) => this.models.exists(name),
      knownQueries: () => listQueryNames(QUERIES_DIR),
      checkModelArtifact: (uri) => checkModelArtifact(store.pathOf(uri), uri),
    }));
    const { onParseProgress, onQueryProgress } = this.options;
    const parseResults = createParseResultsHandler(() => ({
      store,
      ...(onParseProgress ? { onProgress: onParseProgress } : {}),
    }));
    const registerTable = createRegisterTableHandler(() => ({ catalog: this.catalog, store }));
    const runQueries = createRunQueriesHandler(() => ({
      store,
      queryEngine: this.catalog,
      loadQuery: createQueryLoader(QUERIES_DIR),
      displayUri: display,
      // As many at once as the catalog runs side by side over small data (duckdb-readers.ts): one per
      // core. More would only wait there, and each query's time as progress shows it include the others'.
      queries: {
        concurrency: Math.max(1, availableParallelism()),
        ...(onQueryProgress ? { onProgress: onQueryProgress } : {}),
      },
    }));
    const recordFailure = createRecordFailureHandler(() => ({
      store,
      catalog: this.catalog,
      bucket: this.settings.bucket,
      now: () => new Date(),
      displayUri: display,
      ...(options.userText ? { userText: options.userText } : {}),
    }));

    const implementations: ResourceImplementations = {
      'lambda:buildManifest': lambda(buildManifest),
      'lambda:parseResults': lambda(parseResults),
      'lambda:registerTable': lambda(registerTable),
      'lambda:runQueries': lambda(runQueries),
      'lambda:recordFailure': lambda(recordFailure),
      'arn:aws:states:::sagemaker:createModel': (input) => this.models.create(input as CreateModelRequest),
      'arn:aws:states:::sagemaker:createTransformJob.sync': async (input, { signal }) => {
        const request = input as TransformJobRequest;
        // As the .sync integration does when its execution is stopped: StopTransformJob.
        const stop = () => this.engine.stopTransformJob(request.TransformJobName);
        signal.addEventListener('abort', stop, { once: true });
        const description = await this.engine
          .runTransformJob(request)
          .finally(() => signal.removeEventListener('abort', stop));
        if (description.TransformJobStatus !== 'Completed') {
          // What the .sync integration raises on AWS: States.TaskFailed with the job description as cause.
          const error = new Error(JSON.stringify(description));
          error.name = 'States.TaskFailed';
          throw error;
        }
        return description;
      },
    };
    return this.withStateEvents(implementations);
  }

  private withStateEvents(implementations: ResourceImplementations): ResourceImplementations {
    const onStateEvent = this.options.onStateEvent;
    if (!onStateEvent) return implementations;
    const wrapped: ResourceImplementations = {};
    for (const [resource, implementation] of Object.entries(implementations)) {
      const state = stateLabel(resource);
      wrapped[resource] = async (input, context) => {
        const started = performance.now();
        onStateEvent({ state, phase: 'start', input });
        try {
          const output = await implementation(input, context);
          onStateEvent({ state, phase: 'end', input, output, elapsedMs: performance.now() - started });
          return output;
        } catch (error) {
          onStateEvent({
            state,
            phase: 'error',
            input,
            error: error as Error,
            elapsedMs: performance.now() - started,
          });
          throw error;
        }
      };
    }
    return wrapped;
  }
}

function stateLabel(resource: string): string {
  if (resource.startsWith('lambda:')) return resource.slice('lambda:'.length);
  return resource.slice(resource.lastIndexOf(':') + 1);
}

function lambdaContext() {
  const deadline = Date.now() + 15 * 60_000;
  return {
    functionName: 'local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:local',
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: 'local',
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

/**
 * Where a store URI is on this machine, as the CLI prints paths: relative to the working directory when
 * under it, else absolute; a prefix keeps its trailing "/". The URI itself when it has no local path.
 */
function displayUri(store: FileObjectStore, uri: string): string {
  let path: string;
  try {
    path = uri.endsWith('/') ? `${store.directoryOf(uri)}/` : store.pathOf(uri);
  } catch {
    return uri;
  }
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : `${rel}${uri.endsWith('/') ? '/' : ''}`;
}
