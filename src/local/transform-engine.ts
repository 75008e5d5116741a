import { checkInputIdentity, readInputIdentities } from '../core/input-identity.js';
import { parseManifest } from '../core/manifest.js';
import type {
  TransformJobDescription,
  TransformJobRequest,
  TransformJobStatus,
} from '../core/transform-job.js';
import { transformOutputUri } from '../core/transform-output.js';
import {
  InvalidInputError,
  messageOf,
  ObjectNotFoundError,
  TransformJobFailedError,
  TransformJobStoppedError,
} from '../errors.js';
import type { ModelClient, ObjectInfo, ObjectStore, TransformRunner } from '../ports.js';
import {
  fetchExecutionParameters,
  type RunState,
  startContainer,
  waitUntilHealthy,
} from './transform-invocation.js';
import { mapOrdered } from './transform-ordered.js';
import {
  containerEnvironment,
  type EffectiveSettings,
  effectiveSettings,
  type JobPlan,
  makePlan,
  needsExecutionParameters,
} from './transform-settings.js';
import { validateTransformJobRequest } from './transform-validation.js';
import { type InputObject, processWorkItem, type WorkContext, workItems } from './transform-work.js';

export type { EffectiveSettings } from './transform-settings.js';

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

/** What the engine needs: a store for inputs and outputs, and a way to reach a model's container. */
export interface LocalTransformEngineOptions {
  store: ObjectStore;
  /**
   * A client for the model's container. `environment` is the job's Environment plus the variables
   * SageMaker sets for batch (SAGEMAKER_BATCH and, when the request sets them,
   * SAGEMAKER_MAX_CONCURRENT_TRANSFORMS / SAGEMAKER_BATCH_STRATEGY / SAGEMAKER_MAX_PAYLOAD_IN_MB): a
   * container started for the job should get them as its process environment. `demand.inputBytes`,
   * the job's input size, lets a local server size itself (one process for a small job).
   */
  resolveModel: (
    modelName: string,
    environment: Record<string, string>,
    demand: { inputBytes: number },
  ) => Promise<ModelClient> | ModelClient;
  now?: () => Date;
  log?: (event: TransformProgressEvent) => void;
  /** First retry delay; later ones double, with full jitter. Default 100 ms (tests pass 1). */
  retryBaseDelayMs?: number;
  /** How long the container may take to answer /ping with 200 before the job fails. Default 60 s. */
  startupTimeoutMs?: number;
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
      const stopped = error instanceof TransformJobStoppedError || controller.signal.aborted;
      description.TransformJobStatus = stopped ? 'Stopped' : 'Failed';
      if (!stopped) description.FailureReason = failureReason(error);
      const left = await this.deleteOutputs(outputs);
      if (left.length > 0) {
        // "Complete or absent" could not be kept: say so, and never report such a job as merely Stopped.
        description.TransformJobStatus = 'Failed';
        description.FailureReason = failureReason(
          `${stopped ? 'Stopped by request (StopTransformJob)' : messageOf(error)}; ` +
            `its partial output could not be removed: ${left.join('; ')}`,
        );
      }
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

  /** Lists the inputs, starts the container, settles the settings, then transforms every object. */
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
    const inputBytes = objects.reduce((sum, o) => sum + o.size, 0);
    const client = await startContainer(request, () =>
      this.resolveModel(request.ModelName, containerEnvironment(request), { inputBytes }),
    );
    await waitUntilHealthy(client, request.ModelName, this.startupTimeoutMs);
    const container = needsExecutionParameters(request) ? await fetchExecutionParameters(client) : undefined;
    const settings = effectiveSettings(request, container);
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
    if (signal.aborted) throw new TransformJobStoppedError();
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
          throw new TransformJobFailedError(`Manifest file ${S3Uri} does not exist`);
        throw error;
      }
      const manifest = parseManifest(text, S3Uri);
      // Recorded by BuildManifest; SageMaker itself checks nothing, but a local run can fail early.
      const identities = await readInputIdentities(this.store, S3Uri);
      const objects: InputObject[] = [];
      for (const entry of manifest.objects) {
        const info = await this.store.head(entry.uri);
        const identity = identities?.[entry.uri];
        if (identity) checkInputIdentity(entry.uri, identity, info);
        if (!info) {
          throw new TransformJobFailedError(
            `Manifest ${S3Uri} lists ${entry.uri} (key "${entry.relativeKey}"), which does not exist`,
          );
        }
        objects.push({ uri: entry.uri, size: info.size, outputUri: '', ...(identity ? { identity } : {}) });
      }
      if (objects.length === 0) throw new TransformJobFailedError(`Manifest ${S3Uri} lists no objects`);
      return { prefix: manifest.prefix, objects };
    }
    const objects: InputObject[] = [];
    for await (const info of this.store.list(S3Uri) as AsyncIterable<ObjectInfo>) {
      objects.push({ uri: info.uri, size: info.size, outputUri: '' });
    }
    if (objects.length === 0) {
      throw new TransformJobFailedError(
        `No S3 objects found under S3 URL "${S3Uri}" given in input data source`,
      );
    }
    return { prefix: S3Uri, objects };
  }

  /**
   * Writes each object's output in input order, pulling its results from the job-wide pipeline; an
   * object is committed (putStream) only when all its results arrived.
   */
  private async transformObjects(
    plan: JobPlan,
    client: ModelClient,
    objects: InputObject[],
    signal: AbortSignal,
  ): Promise<void> {
    const state: RunState = { signal };
    const context: WorkContext = {
      store: this.store,
      plan,
      client,
      objects,
      state,
      retryBaseDelayMs: this.retryBaseDelayMs,
    };
    const concurrency = plan.settings.maxConcurrentTransforms;
    const results = mapOrdered(workItems(context), (item) => processWorkItem(context, item), {
      concurrency,
      window: concurrency + EXTRA_WINDOW,
    });
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

  /**
   * Deletes every output key the job owns (committed or not), each attempted even when another fails.
   * Returns what could not be deleted, as `uri (reason)`, so the caller reports it instead of leaving a
   * partial output behind silently.
   */
  private async deleteOutputs(outputs: string[]): Promise<string[]> {
    const left: string[] = [];
    for (const uri of outputs) {
      try {
        await this.store.delete(uri);
      } catch (error) {
        left.push(`${uri} (${messageOf(error)})`);
      }
    }
    return left;
  }
}

function failureReason(error: unknown): string {
  const message = messageOf(error);
  // DescribeTransformJob caps FailureReason at 1024 characters.
  return message.length > 1024 ? `${message.slice(0, 1023)}…` : message;
}
