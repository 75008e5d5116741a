import { PassThrough, pipeline, type Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { type BatchRecord, batchLines, batchRecords, type RecordBatch } from '../core/batching.js';
import {
  compileDataProcessing,
  countPredictions,
  needsRecordAlignment,
  predictionMismatch,
  type RecordFormat,
  type RecordProcessor,
  recordFormatOf,
  splitPredictions,
} from '../core/data-processing.js';
import { parseManifest } from '../core/manifest.js';
import { type InputRecord, splitRecordChunks } from '../core/record-splitting.js';
import type {
  AssembleWith,
  BatchStrategy,
  SplitType,
  TransformJobDescription,
  TransformJobRequest,
  TransformJobStatus,
} from '../core/transform-job.js';
import { transformOutputUri } from '../core/transform-output.js';
import { InvalidInputError, ObjectNotFoundError } from '../errors.js';
import type {
  ExecutionParameters,
  InvocationResult,
  ModelClient,
  ObjectInfo,
  ObjectStore,
  TransformRunner,
} from '../ports.js';
import { isStreamingModelClient } from './http-model-client.js';
import { mapOrdered } from './transform-ordered.js';
import { validateTransformJobRequest } from './transform-validation.js';

const MIB = 1024 * 1024;
const NEWLINE = Buffer.from('\n');
/** SageMaker's documented defaults when neither the request nor the container says otherwise. */
const DEFAULT_MAX_PAYLOAD_IN_MB = 6;
const DEFAULT_TIMEOUT_SECONDS = 600;
const DEFAULT_MAX_RETRIES = 3;
/** SageMaker gives /ping 2 s per attempt. */
const PING_TIMEOUT_MS = 2000;
const EXECUTION_PARAMETERS_TIMEOUT_MS = 5000;
/** Batches taken ahead of the writer beyond those in flight: keeps the model busy while a write waits. */
const EXTRA_WINDOW = 2;

/** Progress of a job, for a progress bar or logs. Sent in order; a throwing listener is ignored. */
export type TransformProgressEvent =
  | { type: 'job-started'; jobName: string; objects: number; totalBytes: number; settings: EffectiveSettings }
  | { type: 'object-started'; jobName: string; inputUri: string; outputUri: string; bytes: number }
  | {
      type: 'batch-written';
      jobName: string;
      inputUri: string;
      /** Records of this object written so far, and input bytes (as stored, so compressed for Gzip) read. */
      records: number;
      bytesRead: number;
      bytesTotal: number;
      /** The same for the whole job. */
      jobRecords: number;
      jobBytesRead: number;
      jobBytesTotal: number;
    }
  | { type: 'object-completed'; jobName: string; inputUri: string; outputUri: string; records: number }
  | { type: 'job-ended'; jobName: string; status: TransformJobStatus; failureReason?: string };

/** The settings a job actually ran with, after the request, /execution-parameters and defaults. */
export interface EffectiveSettings {
  maxConcurrentTransforms: number;
  batchStrategy: BatchStrategy;
  maxPayloadInMB: number;
  /** Where each of the three came from. */
  source: Record<
    'maxConcurrentTransforms' | 'batchStrategy' | 'maxPayloadInMB',
    'request' | 'container' | 'default'
  >;
}

/** What the engine needs: a store for inputs and outputs, and a way to reach a model's container. */
export interface LocalTransformEngineOptions {
  store: ObjectStore;
  /**
   * A client for the model's container. `environment` is the job's Environment plus the variables
   * SageMaker sets for batch (SAGEMAKER_BATCH and, when the request sets them,
   * SAGEMAKER_MAX_CONCURRENT_TRANSFORMS / SAGEMAKER_BATCH_STRATEGY / SAGEMAKER_MAX_PAYLOAD_IN_MB): a
   * container started for the job should get them as its process environment.
   */
  resolveModel: (
    modelName: string,
    environment: Record<string, string>,
  ) => Promise<ModelClient> | ModelClient;
  now?: () => Date;
  log?: (event: TransformProgressEvent) => void;
  /** First retry delay; later ones double, with full jitter. Default 100 ms (tests pass 1). */
  retryBaseDelayMs?: number;
  /** How long the container may take to answer /ping with 200 before the job fails. Default 60 s. */
  startupTimeoutMs?: number;
}

/** A failure that ends the job; its message becomes the FailureReason. */
class JobFailure extends Error {
  override name = 'JobFailure';
}

class JobStopped extends Error {
  override name = 'JobStopped';
  constructor() {
    super('Stopped by request (StopTransformJob)');
  }
}

interface JobPlan {
  request: TransformJobRequest;
  jobName: string;
  splitType: SplitType;
  gzip: boolean;
  contentType: string;
  accept: string | undefined;
  assembleWith: AssembleWith;
  timeoutMs: number;
  maxRetries: number;
  settings: EffectiveSettings;
  maxPayloadBytes: number;
  processor: RecordProcessor;
  /** 'rewrite': per-record outputs rebuilt (join/OutputFilter); 'count': predictions counted per batch. */
  alignment: 'rewrite' | 'count' | 'none';
  outputFormat: RecordFormat | undefined;
}

interface InputObject {
  uri: string;
  size: number;
  outputUri: string;
}

type WorkItem =
  | { kind: 'batch'; object: number; batch: RecordBatch; bytesRead: number; last: boolean }
  | { kind: 'stream'; object: number; last: true }
  | { kind: 'empty'; object: number; bytesRead: number; last: true };

interface WorkResult {
  object: number;
  chunks: Buffer[];
  records: number;
  bytesRead: number;
  last: boolean;
}

interface RunState {
  signal: AbortSignal;
  /** Set by the first failed invocation so no new one starts (the job is lost anyway). */
  failure?: Error;
}

/**
 * Runs SageMaker Batch Transform jobs on this machine against any container speaking the SageMaker
 * hosting contract, honouring CreateTransformJob's parameters (see docs/transform-parameters.md).
 *
 * Streaming: objects are read as streams, cut into records and batches as they arrive, and at most
 * MaxConcurrentTransforms + 2 batches are held between reading and writing; outputs are written in
 * input order as their turn comes, so memory does not grow with input size.
 *
 * Atomicity: each output object goes through `store.putStream`, so it appears only once complete. A
 * job that fails or is stopped then deletes every output key it owns (including those it had already
 * committed for other objects): a job's output is either complete, or absent.
 */
export class LocalTransformEngine implements TransformRunner {
  private readonly store: ObjectStore;
  private readonly resolveModel: LocalTransformEngineOptions['resolveModel'];
  private readonly now: () => Date;
  private readonly log: ((event: TransformProgressEvent) => void) | undefined;
  private readonly retryBaseDelayMs: number;
  private readonly startupTimeoutMs: number;
  private readonly jobs = new Map<string, TransformJobDescription>();
  private readonly running = new Map<string, AbortController>();

  constructor(options: LocalTransformEngineOptions) {
    this.store = options.store;
    this.resolveModel = options.resolveModel;
    this.now = options.now ?? (() => new Date());
    this.log = options.log;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.startupTimeoutMs = options.startupTimeoutMs ?? 60_000;
  }

  /**
   * Runs a job to its end and resolves with its description (Completed, Failed with FailureReason, or
   * Stopped), like `createTransformJob.sync`.
   *
   * @throws InvalidInputError (ValidationException-style) when the request is invalid, or a job of the
   *   same name is running; nothing is started then.
   */
  async runTransformJob(request: TransformJobRequest): Promise<TransformJobDescription> {
    validateTransformJobRequest(request);
    const jobName = request.TransformJobName;
    if (this.running.has(jobName)) {
      throw new InvalidInputError(`ResourceInUse: Transform job ${jobName} is already in progress`);
    }
    const controller = new AbortController();
    this.running.set(jobName, controller);
    const description: TransformJobDescription = {
      ...structuredClone(request),
      TransformJobArn: `arn:aws:sagemaker:local:000000000000:transform-job/${jobName}`,
      TransformJobStatus: 'InProgress',
      CreationTime: this.now().toISOString(),
    };
    this.jobs.set(jobName, description);
    const outputs: string[] = [];
    try {
      description.TransformStartTime = this.now().toISOString();
      await this.execute(request, description, outputs, controller.signal);
      description.TransformJobStatus = 'Completed';
    } catch (error) {
      const stopped = error instanceof JobStopped || controller.signal.aborted;
      description.TransformJobStatus = stopped ? 'Stopped' : 'Failed';
      if (!stopped) description.FailureReason = failureReason(error);
      await this.deleteOutputs(outputs);
    } finally {
      this.running.delete(jobName);
      description.TransformEndTime = this.now().toISOString();
    }
    this.emit({
      type: 'job-ended',
      jobName,
      status: description.TransformJobStatus,
      ...(description.FailureReason ? { failureReason: description.FailureReason } : {}),
    });
    return structuredClone(description);
  }

  /** The description of a job this engine ran or is running, or `undefined`. */
  describeTransformJob(name: string): TransformJobDescription | undefined {
    const description = this.jobs.get(name);
    return description ? structuredClone(description) : undefined;
  }

  /**
   * Asks a running job to stop: no new invocation starts, in-flight ones finish, and the job ends as
   * Stopped with its outputs removed. Returns false when no such job is running.
   */
  stopTransformJob(name: string): boolean {
    const controller = this.running.get(name);
    if (!controller) return false;
    const description = this.jobs.get(name);
    if (description) description.TransformJobStatus = 'Stopping';
    controller.abort();
    return true;
  }

  private emit(event: TransformProgressEvent): void {
    if (!this.log) return;
    try {
      this.log(event);
    } catch {
      // Progress reporting must never change a job's outcome.
    }
  }

  private async execute(
    request: TransformJobRequest,
    description: TransformJobDescription,
    outputs: string[],
    signal: AbortSignal,
  ): Promise<void> {
    const jobName = request.TransformJobName;
    const { prefix, objects } = await this.listInputs(request);
    for (const object of objects) {
      object.outputUri = transformOutputUri(prefix, object.uri, request.TransformOutput.S3OutputPath);
      outputs.push(object.outputUri);
    }
    const client = await this.startModel(request);
    const settings = await this.resolveSettings(request, client);
    description.MaxConcurrentTransforms = settings.maxConcurrentTransforms;
    description.BatchStrategy = settings.batchStrategy;
    description.MaxPayloadInMB = settings.maxPayloadInMB;
    const plan = makePlan(request, settings);
    this.emit({
      type: 'job-started',
      jobName,
      objects: objects.length,
      totalBytes: objects.reduce((sum, o) => sum + o.size, 0),
      settings,
    });
    if (signal.aborted) throw new JobStopped();
    await this.transformObjects(plan, client, objects, signal);
  }

  private async listInputs(
    request: TransformJobRequest,
  ): Promise<{ prefix: string; objects: InputObject[] }> {
    const { S3DataType, S3Uri } = request.TransformInput.DataSource.S3DataSource;
    if (S3DataType === 'ManifestFile') {
      let text: string;
      try {
        text = Buffer.from(await this.store.getBytes(S3Uri)).toString('utf8');
      } catch (error) {
        if (error instanceof ObjectNotFoundError)
          throw new JobFailure(`Manifest file ${S3Uri} does not exist`);
        throw error;
      }
      const manifest = parseManifest(text, S3Uri);
      const objects: InputObject[] = [];
      for (const entry of manifest.objects) {
        const info = await this.store.head(entry.uri);
        if (!info) {
          throw new JobFailure(
            `Manifest ${S3Uri} lists ${entry.uri} (key "${entry.relativeKey}"), which does not exist`,
          );
        }
        objects.push({ uri: entry.uri, size: info.size, outputUri: '' });
      }
      if (objects.length === 0) throw new JobFailure(`Manifest ${S3Uri} lists no objects`);
      return { prefix: manifest.prefix, objects };
    }
    const objects: InputObject[] = [];
    for await (const info of this.store.list(S3Uri) as AsyncIterable<ObjectInfo>) {
      objects.push({ uri: info.uri, size: info.size, outputUri: '' });
    }
    if (objects.length === 0) {
      throw new JobFailure(`No S3 objects found under S3 URL "${S3Uri}" given in input data source`);
    }
    return { prefix: S3Uri, objects };
  }

  private async startModel(request: TransformJobRequest): Promise<ModelClient> {
    let client: ModelClient;
    try {
      client = await this.resolveModel(request.ModelName, containerEnvironment(request));
    } catch (error) {
      throw new JobFailure(
        `Could not start the container for model ${request.ModelName}: ${messageOf(error)}`,
      );
    }
    const deadline = Date.now() + this.startupTimeoutMs;
    let delay = 50;
    while (!(await client.ping(PING_TIMEOUT_MS).catch(() => false))) {
      if (Date.now() + delay > deadline) {
        throw new JobFailure(
          `The container for model ${request.ModelName} did not pass the /ping health check within ${Math.round(this.startupTimeoutMs / 1000)} s`,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
    return client;
  }

  private async resolveSettings(
    request: TransformJobRequest,
    client: ModelClient,
  ): Promise<EffectiveSettings> {
    const fromRequest = {
      maxConcurrentTransforms: request.MaxConcurrentTransforms ? request.MaxConcurrentTransforms : undefined,
      batchStrategy: request.BatchStrategy,
      maxPayloadInMB: request.MaxPayloadInMB,
    };
    let container: ExecutionParameters | undefined;
    if (
      fromRequest.maxConcurrentTransforms === undefined ||
      fromRequest.batchStrategy === undefined ||
      fromRequest.maxPayloadInMB === undefined
    ) {
      try {
        container = await client.executionParameters(EXECUTION_PARAMETERS_TIMEOUT_MS);
      } catch (error) {
        throw new JobFailure(`GET /execution-parameters failed: ${messageOf(error)}`);
      }
    }
    const containerStrategy = normalizeStrategy(container?.BatchStrategy);
    const containerConcurrency = container?.MaxConcurrentTransforms;
    const containerPayload = container?.MaxPayloadInMB;
    if (
      containerConcurrency !== undefined &&
      !(Number.isInteger(containerConcurrency) && containerConcurrency >= 1)
    ) {
      throw new JobFailure(
        `/execution-parameters returned an invalid MaxConcurrentTransforms: ${String(containerConcurrency)}`,
      );
    }
    if (
      containerPayload !== undefined &&
      !(Number.isInteger(containerPayload) && containerPayload >= 0 && containerPayload <= 100)
    ) {
      throw new JobFailure(
        `/execution-parameters returned an invalid MaxPayloadInMB: ${String(containerPayload)} (0..100)`,
      );
    }
    const pick = <T>(
      requested: T | undefined,
      offered: T | undefined,
      fallback: T,
    ): [T, 'request' | 'container' | 'default'] =>
      requested !== undefined
        ? [requested, 'request']
        : offered !== undefined
          ? [offered, 'container']
          : [fallback, 'default'];
    const [maxConcurrentTransforms, concurrencySource] = pick(
      fromRequest.maxConcurrentTransforms,
      containerConcurrency,
      1,
    );
    const [batchStrategy, strategySource] = pick<BatchStrategy>(
      fromRequest.batchStrategy,
      containerStrategy,
      'MultiRecord',
    );
    const [maxPayloadInMB, payloadSource] = pick(
      fromRequest.maxPayloadInMB,
      containerPayload,
      DEFAULT_MAX_PAYLOAD_IN_MB,
    );
    const splitType = request.TransformInput.SplitType ?? 'None';
    if (maxPayloadInMB === 0 && splitType !== 'None') {
      throw new JobFailure(
        `MaxPayloadInMB 0 (from the ${payloadSource}) requires SplitType None, but the job uses SplitType ${splitType}`,
      );
    }
    return {
      maxConcurrentTransforms,
      batchStrategy,
      maxPayloadInMB,
      source: {
        maxConcurrentTransforms: concurrencySource,
        batchStrategy: strategySource,
        maxPayloadInMB: payloadSource,
      },
    };
  }

  private async transformObjects(
    plan: JobPlan,
    client: ModelClient,
    objects: InputObject[],
    signal: AbortSignal,
  ): Promise<void> {
    const state: RunState = { signal };
    const concurrency = plan.settings.maxConcurrentTransforms;
    const results = mapOrdered(
      this.workItems(plan, objects, state),
      (item) => this.process(plan, client, objects, item, state),
      {
        concurrency,
        window: concurrency + EXTRA_WINDOW,
      },
    );
    const iterator = results[Symbol.asyncIterator]();
    const jobBytesTotal = objects.reduce((sum, o) => sum + o.size, 0);
    let jobRecords = 0;
    let jobBytesBefore = 0;
    try {
      for (let index = 0; index < objects.length; index++) {
        const object = objects[index] as InputObject;
        this.emit({
          type: 'object-started',
          jobName: plan.jobName,
          inputUri: object.uri,
          outputUri: object.outputUri,
          bytes: object.size,
        });
        let records = 0;
        const emit = this.emit.bind(this);
        // The output body pulls this object's results, in order, from the job-wide pipeline; putStream
        // commits the object only when the generator ends without error.
        async function* body(): AsyncGenerator<Buffer> {
          while (true) {
            const next = await iterator.next();
            if (next.done) throw new Error(`internal: results ended before ${object.uri} was complete`);
            const result = next.value;
            if (result.object !== index)
              throw new Error(`internal: result for object ${result.object} while writing ${index}`);
            for (const chunk of result.chunks) yield chunk;
            records += result.records;
            jobRecords += result.records;
            emit({
              type: 'batch-written',
              jobName: plan.jobName,
              inputUri: object.uri,
              records,
              bytesRead: result.bytesRead,
              bytesTotal: object.size,
              jobRecords,
              jobBytesRead: jobBytesBefore + result.bytesRead,
              jobBytesTotal,
            });
            if (result.last) return;
          }
        }
        try {
          await this.store.putStream(
            object.outputUri,
            body(),
            plan.accept ? { contentType: plan.accept } : {},
          );
        } catch (error) {
          // The pipeline's own error (a failed invocation, a bad record) is the one worth reporting, not
          // the write stream's echo of it.
          throw state.failure ?? error;
        }
        jobBytesBefore += object.size;
        this.emit({
          type: 'object-completed',
          jobName: plan.jobName,
          inputUri: object.uri,
          outputUri: object.outputUri,
          records,
        });
      }
    } finally {
      await iterator.return?.(undefined);
    }
  }

  /** Reads objects in order and cuts them into batches, flagging each object's last one. */
  private async *workItems(plan: JobPlan, objects: InputObject[], state: RunState): AsyncGenerator<WorkItem> {
    for (let index = 0; index < objects.length; index++) {
      if (state.signal.aborted) throw new JobStopped();
      if (state.failure) return;
      const object = objects[index] as InputObject;
      if (plan.maxPayloadBytes === 0) {
        yield { kind: 'stream', object: index, last: true };
        continue;
      }
      const counter = { bytes: 0 };
      const input = await this.openInput(object.uri, plan.gzip, counter);
      const batchOptions = {
        strategy: plan.settings.batchStrategy,
        splitType: plan.splitType,
        maxPayloadBytes: plan.maxPayloadBytes,
        source: object.uri,
      };
      let batches: AsyncIterable<RecordBatch>;
      if (plan.splitType === 'Line' && !plan.processor.filtersInput && !plan.processor.joinsInput) {
        // Records go out untouched: batch straight from the bytes, without an object per line.
        batches = batchLines(input, batchOptions);
      } else {
        let records: AsyncIterable<BatchRecord[]> = splitRecordChunks(input, plan.splitType, {
          maxRecordBytes: plan.maxPayloadBytes,
          source: object.uri,
        });
        if (plan.processor.filtersInput || plan.processor.joinsInput) {
          records = prepareRecords(records, plan.processor, object.uri, plan.splitType);
        }
        batches = batchRecords(records, batchOptions);
      }
      let previous: RecordBatch | undefined;
      try {
        for await (const batch of batches) {
          if (previous)
            yield { kind: 'batch', object: index, batch: previous, bytesRead: counter.bytes, last: false };
          previous = batch;
          if (state.signal.aborted) throw new JobStopped();
          if (state.failure) return;
        }
      } catch (error) {
        if (error instanceof JobStopped || error instanceof InvalidInputError) throw error;
        throw new JobFailure(
          `Failed to read ${object.uri}${plan.gzip ? ' (CompressionType Gzip)' : ''}: ${messageOf(error)}`,
        );
      }
      if (previous)
        yield { kind: 'batch', object: index, batch: previous, bytesRead: counter.bytes, last: true };
      else yield { kind: 'empty', object: index, bytesRead: counter.bytes, last: true };
    }
  }

  /** The object's bytes as a stream, counted as stored (before Gzip decompression) for progress. */
  private async openInput(uri: string, gzip: boolean, counter: { bytes: number }): Promise<Readable> {
    const source = await this.store.getStream(uri);
    const counting = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        counter.bytes += chunk.length;
        callback(null, chunk);
      },
    });
    const sink = gzip
      ? createGunzip({ chunkSize: 256 * 1024 })
      : new PassThrough({ readableHighWaterMark: 1 << 20 });
    // Errors anywhere (a truncated Gzip stream included) surface on the sink, which the splitter reads.
    pipeline(source, counting, sink, () => undefined);
    return sink;
  }

  private async process(
    plan: JobPlan,
    client: ModelClient,
    objects: InputObject[],
    item: WorkItem,
    state: RunState,
  ): Promise<WorkResult> {
    if (item.kind === 'empty')
      return { object: item.object, chunks: [], records: 0, bytesRead: item.bytesRead, last: true };
    const object = objects[item.object] as InputObject;
    try {
      if (item.kind === 'stream') {
        const response = await this.invokeWithRetries(
          plan,
          state,
          object.uri,
          'the whole object (MaxPayloadInMB 0)',
          async () => {
            const counter = { bytes: 0 };
            const body = await this.openInput(object.uri, plan.gzip, counter);
            if (isStreamingModelClient(client)) {
              return client.invokeStream(body, invokeOptions(plan));
            }
            const chunks: Buffer[] = [];
            for await (const chunk of body) chunks.push(chunk as Buffer);
            return client.invoke(Buffer.concat(chunks), invokeOptions(plan));
          },
        );
        return {
          object: item.object,
          chunks: assembleBody(plan, response.body),
          records: 1,
          bytesRead: object.size,
          last: true,
        };
      }
      const { batch } = item;
      const range = describeRange(plan.splitType, batch);
      const response = await this.invokeWithRetries(
        plan,
        state,
        object.uri,
        range,
        () => client.invoke(batch.body, invokeOptions(plan)),
        (record) => this.locateRecord(plan, object.uri, batch, record),
      );
      const chunks = this.assemble(plan, object.uri, range, batch, response);
      return {
        object: item.object,
        chunks,
        records: batch.count,
        bytesRead: item.bytesRead,
        last: item.last,
      };
    } catch (error) {
      state.failure ??= error as Error;
      throw error;
    }
  }

  private assemble(
    plan: JobPlan,
    uri: string,
    range: string,
    batch: RecordBatch,
    response: InvocationResult,
  ): Buffer[] {
    const sent = batch.count;
    if (plan.alignment === 'rewrite') {
      const split = splitPredictions(response.body, sent, plan.outputFormat);
      if (!split.ok) throw predictionMismatch(uri, range, sent, split.received);
      const lines: string[] = new Array(sent);
      for (let k = 0; k < sent; k++) {
        const record = batch.records?.[k] as BatchRecord;
        try {
          lines[k] = plan.processor.assembleOutput(record.original, split.predictions[k] as Buffer);
        } catch (error) {
          throw new JobFailure(`${uri} ${describeIndex(plan.splitType, record.index)}: ${messageOf(error)}`);
        }
      }
      return [Buffer.from(`${lines.join('\n')}\n`)];
    }
    if (plan.alignment === 'count') {
      const received = countPredictions(response.body, sent, plan.outputFormat);
      if (received !== sent) throw predictionMismatch(uri, range, sent, received);
    }
    return assembleBody(plan, response.body);
  }

  /**
   * One invocation with ModelClientConfig's retries: 5xx answers, connection errors and timeouts are
   * retried with exponential backoff and full jitter; any other status fails at once.
   */
  private async invokeWithRetries(
    plan: JobPlan,
    state: RunState,
    uri: string,
    range: string,
    call: () => Promise<InvocationResult>,
    locate?: (record: number) => Promise<string | undefined>,
  ): Promise<InvocationResult> {
    const attempts = plan.maxRetries + 1;
    let problem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (state.signal.aborted) throw new JobStopped();
      if (state.failure) throw state.failure;
      let response: InvocationResult | undefined;
      try {
        response = await call();
      } catch (error) {
        problem = isTimeout(error)
          ? `timed out after ${plan.timeoutMs / 1000} s (InvocationsTimeoutInSeconds)`
          : `request failed: ${messageOf(error)}`;
      }
      if (response) {
        if (response.statusCode >= 200 && response.statusCode < 300) return response;
        problem = `HTTP ${response.statusCode}: ${containerMessage(response.body)}`;
        if (response.statusCode < 500) {
          const record = response.invalidRecord;
          const where = record !== undefined ? await locate?.(record) : undefined;
          throw new JobFailure(
            where
              ? `Model container rejected ${uri} ${where} (record ${record} of the request for ${range}) with ${problem}`
              : `Model container rejected ${uri} ${range} with ${problem}`,
          );
        }
      }
      if (attempt < attempts) {
        const delay = Math.random() * this.retryBaseDelayMs * 2 ** (attempt - 1);
        await sleep(delay, undefined, { signal: state.signal }).catch(() => undefined);
      }
    }
    throw new JobFailure(
      `Invocation for ${uri} ${range} failed after ${attempts} attempt${attempts === 1 ? '' : 's'} (InvocationsMaxRetries ${plan.maxRetries}): ${problem}`,
    );
  }

  /**
   * The input's line (or record) that is the `record`-th (1-based) of a batch, for a container's
   * rejection; undefined when the batch has no such record. Blank lines are not sent, so a batch that
   * spans some is counted again from the object (only on this error path).
   */
  private async locateRecord(
    plan: JobPlan,
    uri: string,
    batch: RecordBatch,
    record: number,
  ): Promise<string | undefined> {
    if (record > batch.count) return undefined;
    const sent = batch.records?.[record - 1];
    if (sent) return describeIndex(plan.splitType, sent.index);
    if (batch.lastIndex - batch.firstIndex + 1 === batch.count) {
      return describeIndex(plan.splitType, batch.firstIndex + record - 1);
    }
    const input = await this.openInput(uri, plan.gzip, { bytes: 0 });
    try {
      let seen = 0;
      for await (const records of splitRecordChunks(input, plan.splitType, { source: uri })) {
        for (const candidate of records) {
          if (candidate.index < batch.firstIndex) continue;
          seen += 1;
          if (seen === record) return describeIndex(plan.splitType, candidate.index);
        }
      }
      return undefined;
    } catch {
      return undefined;
    } finally {
      input.destroy();
    }
  }

  private async deleteOutputs(outputs: string[]): Promise<void> {
    for (const uri of outputs) {
      await this.store.delete(uri).catch(() => undefined);
    }
  }
}

function makePlan(request: TransformJobRequest, settings: EffectiveSettings): JobPlan {
  const splitType = request.TransformInput.SplitType ?? 'None';
  const assembleWith = request.TransformOutput.AssembleWith ?? 'None';
  const inputFormat = recordFormatOf(request.TransformInput.ContentType);
  const outputFormat = recordFormatOf(request.TransformOutput.Accept) ?? inputFormat;
  const processor = compileDataProcessing(request.DataProcessing, {
    ...(inputFormat ? { inputFormat } : {}),
    ...(outputFormat ? { outputFormat } : {}),
  });
  const alignment = needsRecordAlignment(request.DataProcessing)
    ? 'rewrite'
    : splitType === 'Line' && assembleWith === 'Line'
      ? 'count'
      : 'none';
  return {
    request,
    jobName: request.TransformJobName,
    splitType,
    gzip: request.TransformInput.CompressionType === 'Gzip',
    // SageMaker sends the ContentType as given; without one, the body is opaque bytes.
    contentType: request.TransformInput.ContentType ?? 'application/octet-stream',
    accept: request.TransformOutput.Accept,
    assembleWith,
    timeoutMs: (request.ModelClientConfig?.InvocationsTimeoutInSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
    maxRetries: request.ModelClientConfig?.InvocationsMaxRetries ?? DEFAULT_MAX_RETRIES,
    settings,
    maxPayloadBytes: settings.maxPayloadInMB * MIB,
    processor,
    alignment,
    outputFormat,
  };
}

function invokeOptions(plan: JobPlan) {
  return {
    contentType: plan.contentType,
    ...(plan.accept ? { accept: plan.accept } : {}),
    timeoutMs: plan.timeoutMs,
  };
}

/** AssembleWith Line ends each response with a newline (not doubling one it already has); None concatenates. */
function assembleBody(plan: JobPlan, body: Uint8Array): Buffer[] {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (plan.assembleWith !== 'Line') return buffer.length > 0 ? [buffer] : [];
  return buffer.length > 0 && buffer[buffer.length - 1] === 0x0a ? [buffer] : [buffer, NEWLINE];
}

/** Applies InputFilter to each record, keeping the original when the join needs it. */
async function* prepareRecords(
  chunks: AsyncIterable<InputRecord[]>,
  processor: RecordProcessor,
  uri: string,
  splitType: SplitType,
): AsyncGenerator<BatchRecord[]> {
  for await (const records of chunks) {
    const out: BatchRecord[] = new Array(records.length);
    for (let k = 0; k < records.length; k++) {
      const record = records[k] as InputRecord;
      let data: Uint8Array;
      try {
        data = processor.filterInput(record.data);
      } catch (error) {
        throw new JobFailure(
          `${uri} ${describeIndex(splitType, record.index)}: InputFilter: ${messageOf(error)}`,
        );
      }
      out[k] = processor.joinsInput
        ? { data, index: record.index, original: record.data }
        : { data, index: record.index };
    }
    yield out;
  }
}

function describeIndex(splitType: SplitType, index: number): string {
  return splitType === 'Line' ? `line ${index}` : `record ${index}`;
}

function describeRange(splitType: SplitType, batch: RecordBatch): string {
  const unit = splitType === 'Line' ? 'lines' : 'records';
  const count = batch.count;
  if (batch.firstIndex === batch.lastIndex) return `${describeIndex(splitType, batch.firstIndex)} (1 record)`;
  return `${unit} ${batch.firstIndex}-${batch.lastIndex} (${count} records)`;
}

/** The environment SageMaker gives a batch container: the job's Environment plus batch settings it set. */
export function containerEnvironment(request: TransformJobRequest): Record<string, string> {
  const environment: Record<string, string> = { ...(request.Environment ?? {}), SAGEMAKER_BATCH: 'true' };
  if (request.MaxConcurrentTransforms) {
    environment.SAGEMAKER_MAX_CONCURRENT_TRANSFORMS = String(request.MaxConcurrentTransforms);
  }
  if (request.BatchStrategy) {
    environment.SAGEMAKER_BATCH_STRATEGY =
      request.BatchStrategy === 'SingleRecord' ? 'SINGLE_RECORD' : 'MULTI_RECORD';
  }
  if (request.MaxPayloadInMB !== undefined)
    environment.SAGEMAKER_MAX_PAYLOAD_IN_MB = String(request.MaxPayloadInMB);
  return environment;
}

/** Containers answer `MULTI_RECORD` (as the SageMaker docs show) or the API's `MultiRecord`. */
function normalizeStrategy(value: unknown): BatchStrategy | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.replace(/[_-]/g, '').toLowerCase();
  if (v === 'multirecord') return 'MultiRecord';
  if (v === 'singlerecord') return 'SingleRecord';
  return undefined;
}

function isTimeout(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function containerMessage(body: Uint8Array): string {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8').trim();
  if (text === '') return '(empty body)';
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function failureReason(error: unknown): string {
  const message = messageOf(error);
  // DescribeTransformJob caps FailureReason at 1024 characters.
  return message.length > 1024 ? `${message.slice(0, 1023)}…` : message;
}
