import { createHash } from 'node:crypto';
import { InvalidInputError, ObjectNotFoundError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from '../ports.js';
import { writeInputIdentities } from './input-identity.js';
import { type JobListPointer, writeJobList } from './job-results.js';
import { formatManifest } from './manifest.js';
import { mediaType } from './media-types.js';
import type { ParseTransformOutputRequest } from './result-parsing.js';
import { actualColumnIndex, idColumnIndex, modelInputFilter } from './results-table.js';
import {
  ATTEMPT_PLAN,
  attemptIdFor,
  attemptOf,
  attemptScratchPrefix,
  attemptsPrefix,
  REGISTERING_MARKER,
  runResultsPrefix,
} from './run-attempt.js';
import { checkOutputKeyCollisions, checkRunRequest, usesXGBoostContainer } from './run-checks.js';
import { applyRunDefaults, type ResolvedRunRequest } from './run-defaults.js';
import type { ModelVariant, PipelineSettings, RunRequest } from './run-request.js';
import { joinS3Uri, parseS3Uri } from './s3-uri.js';
import { statsTableName } from './stats-table.js';
import type { TransformJobRequest } from './transform-job.js';

export interface BuildManifestEvent {
  request: RunRequest;
  /** The execution's name: the default run id, and what makes transform job names unique per attempt. */
  executionName: string;
  /** ISO time the execution started; its UTC date is the run's partition date. */
  executionStartTime: string;
}

export interface BuildManifestDeps {
  store: ObjectStore;
  settings: PipelineSettings;
  /** Whether a model of this name exists already (SageMaker DescribeModel; locally, the model registry). */
  modelExists: (modelName: string) => Promise<boolean>;
  /** The named queries that exist, so an unknown name in `queries` fails before any job runs. */
  knownQueries?: () => Promise<string[]>;
  /**
   * Reads the model artifact at a variant's modelDataUrl as the XGBoost container would load it and
   * throws naming that URL when it cannot be served (locally: the built-in server's readers). Absent on
   * AWS, where the artifact is SageMaker's to read.
   */
  checkModelArtifact?: (modelDataUrl: string) => Promise<void>;
}

/** A CreateModel request for a variant given as image + artifact. */
export interface CreateModelRequest {
  ModelName: string;
  ExecutionRoleArn: string;
  PrimaryContainer: { Image: string; ModelDataUrl: string; Environment: Record<string, string> };
  VpcConfig?: { Subnets: string[]; SecurityGroupIds: string[] };
  EnableNetworkIsolation: boolean;
  Tags: { Key: string; Value: string }[];
}

/** What ParseResults needs to turn one job's output into result rows (planned here, in full). */
export type ParseRequest = ParseTransformOutputRequest & {
  results: ParseTransformOutputRequest['results'] & { threshold: number };
};

export interface PlannedJob {
  variant: string;
  shardId: string;
  transformRequest: Required<Omit<TransformJobRequest, 'Tags'>> & { Tags: { Key: string; Value: string }[] };
  parseRequest: ParseRequest;
}

export interface ResultsTableRef {
  database: string;
  table: string;
  resultsPrefix: string;
}

/**
 * BuildManifest's output: the whole run, planned, so later states only pass fields along. The jobs
 * themselves are in S3 (`jobList`), so the state stays small whatever their number.
 */
export interface RunPlan {
  runId: string;
  runDate: string;
  runPrefix: string;
  executionName: string;
  /** This execution's attempt (src/core/run-attempt.ts): names its scratch and its result folders. */
  attemptId: string;
  /** `runs/<runId>/attempts/<attemptId>/`: manifests, transform outputs, the attempt's plan. */
  attemptPrefix: string;
  inputs: { objects: number; bytes: number; shards: number };
  modelsToCreate: CreateModelRequest[];
  /** The planned jobs, written to the attempt's scratch: RunTransforms' Distributed Map reads them. */
  jobList: JobListPointer;
  table: ResultsTableRef;
  queries: string[];
  /** Plan-time warnings: allowed, but likely to fail on AWS (see run-checks.ts). */
  warnings?: string[];
}

/**
 * Plans a run: lists the input, cuts it into shards of at most `objectsPerShard` objects, writes one
 * manifest per shard under `runs/<runId>/manifests/`, and plans every transform job (shard × model
 * variant) as a complete CreateTransformJob request, with SageMaker's defaults filled in, because the
 * state machine's JSONPath Parameters cannot leave a field out. The jobs go to the attempt's
 * `jobs.json` (2.4-6.5 KB each: in the state, 2 variants × 50 shards would pass Step Functions' 256 KiB
 * limit); the plan returns a pointer to them and their count.
 *
 * Everything this execution writes goes to its attempt's scratch (`runs/<runId>/attempts/<attemptId>/`)
 * and, later, ParseResults writes result files under `…/variant=V/attempt=<attemptId>/`: nothing the
 * catalog points at is touched, so the run's published results stay as they are until RegisterTable
 * switches to the new attempt. A re-run of the same runId keeps the first attempt's run date, so its
 * results replace the earlier ones instead of landing in a second partition. Attempts of this run id
 * that certainly never published (no registering marker) are deleted here.
 *
 * @throws InvalidInputError when the input holds no objects, an object is empty, or a plan-time check of
 *   src/core/run-checks.ts fails (unknown query, results settings ParseResults could not apply, …).
 * @throws ObjectNotFoundError when the input names a single object that does not exist.
 */
export async function buildManifest(event: BuildManifestEvent, deps: BuildManifestDeps): Promise<RunPlan> {
  const { executionName } = event;
  // The one place defaults are applied: everything below, and every later state, reads them from here.
  const request = applyRunDefaults(event.request);
  const { store, settings } = deps;
  const { warnings } = checkRunRequest(request, {
    deployment: settings,
    ...(deps.knownQueries ? { knownQueries: await deps.knownQueries() } : {}),
  });
  defaultInputFilter(request); // throws when the columns to keep from the model cannot be left out
  const runId = request.runId ?? runIdFromExecutionName(executionName);
  const runPrefix = `s3://${settings.bucket}/runs/${runId}/`;
  const attemptId = attemptIdFor(executionName);
  const attemptPrefix = attemptScratchPrefix(runPrefix, attemptId);
  const runDate = (await previousRunDate(store, runPrefix)) ?? utcDate(event.executionStartTime);
  await cleanUnpublishedAttempts(store, runPrefix, attemptId);

  const { prefix, objects } = await listInput(store, request);
  checkOutputKeyCollisions(
    prefix,
    objects.map((o) => o.uri),
  );
  const shardSize = request.objectsPerShard;
  const shards: { shardId: string; manifestUri: string }[] = [];
  for (let start = 0, n = 0; start < objects.length; start += shardSize, n += 1) {
    const shardId = String(n).padStart(4, '0');
    const manifestUri = joinS3Uri(attemptPrefix, `manifests/shard-${shardId}.manifest`);
    const shardObjects = objects.slice(start, start + shardSize);
    const manifest = formatManifest(
      prefix,
      shardObjects.map((o) => o.uri),
    );
    // Identities first: a manifest never exists without them, so every reader can check its inputs.
    await writeInputIdentities(store, manifestUri, shardObjects);
    await store.put(manifestUri, JSON.stringify(manifest), { contentType: 'application/json' });
    shards.push({ shardId, manifestUri });
  }

  const variants = request.models.map((model) => ({ model, modelName: modelNameFor(model) }));
  if (deps.checkModelArtifact) {
    for (const { model } of variants) {
      if (model.modelDataUrl && usesXGBoostContainer(model))
        await deps.checkModelArtifact(model.modelDataUrl);
    }
  }
  const modelsToCreate: CreateModelRequest[] = [];
  for (const { model, modelName } of variants) {
    if (model.modelName || (await deps.modelExists(modelName))) continue;
    modelsToCreate.push(createModelRequest(model, modelName, runId, settings));
  }

  const table: ResultsTableRef = {
    database: settings.database,
    table: request.results.table,
    resultsPrefix: `s3://${settings.bucket}/results/`,
  };
  const attempt = attemptId.slice(0, 6);
  const jobs: PlannedJob[] = [];
  for (const { model, modelName } of variants) {
    for (const shard of shards) {
      const transformRequest = transformRequestFor({
        request,
        settings,
        modelName,
        jobName: `${runId}-${model.variant}-${shard.shardId}-${attempt}`,
        manifestUri: shard.manifestUri,
        outputPath: joinS3Uri(attemptPrefix, `transform/${model.variant}/shard-${shard.shardId}/`),
        tags: [
          { Key: 'pipeline-run-id', Value: runId },
          { Key: 'pipeline-variant', Value: model.variant },
        ],
      });
      jobs.push({
        variant: model.variant,
        shardId: shard.shardId,
        transformRequest,
        parseRequest: {
          runId,
          runDate,
          attemptId,
          variant: model.variant,
          modelName,
          shardId: shard.shardId,
          inputManifestUri: shard.manifestUri,
          transformOutputPath: transformRequest.TransformOutput.S3OutputPath,
          contentType: request.transform.ContentType,
          splitType: request.transform.SplitType,
          compressionType: request.transform.CompressionType,
          accept: request.transform.Accept,
          ...outputSelectionOf(model, transformRequest.Environment),
          ...(transformRequest.DataProcessing.JoinSource === 'Input' ? { joinSource: 'Input' as const } : {}),
          ...(request.transform.DataProcessing.InputFilter !== undefined
            ? { inputFilter: request.transform.DataProcessing.InputFilter }
            : {}),
          results: {
            table: table.table,
            resultsPrefix: table.resultsPrefix,
            threshold: request.results.threshold,
            ...(request.results.labels ? { labels: request.results.labels } : {}),
            ...(request.results.featureNames ? { featureNames: request.results.featureNames } : {}),
            ...(request.results.idColumn ? { idColumn: request.results.idColumn } : {}),
            ...(request.results.actualColumn ? { actualColumn: request.results.actualColumn } : {}),
            storeFeatures: request.results.storeFeatures,
          },
        },
      });
    }
  }

  const plan: RunPlan = {
    runId,
    runDate,
    runPrefix,
    executionName,
    attemptId,
    attemptPrefix,
    inputs: {
      objects: objects.length,
      bytes: objects.reduce((sum, o) => sum + o.size, 0),
      shards: shards.length,
    },
    modelsToCreate,
    jobList: await writeJobList(store, attemptPrefix, jobs, request.maxConcurrentJobs),
    table,
    queries: request.queries,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
  const planText = JSON.stringify(plan, null, 2);
  // The attempt's own copy first: cleanup reads it to find the attempt's result files.
  await store.put(joinS3Uri(attemptPrefix, ATTEMPT_PLAN), planText);
  // The request as run, every default filled in: the report and later readers take them from here.
  await store.put(joinS3Uri(runPrefix, 'request.json'), JSON.stringify(request, null, 2));
  await store.put(joinS3Uri(runPrefix, 'plan.json'), planText);
  return plan;
}

/**
 * SAGEMAKER_INFERENCE_OUTPUT as the variant's container sees it (the job's Environment over the
 * model's), which ParseResults needs to read CSV selection rows. A variant given by modelName keeps its
 * environment on SageMaker: set it in transform.Environment to have it read here.
 */
function outputSelectionOf(
  model: ModelVariant,
  jobEnvironment: Record<string, string> | undefined,
): { outputSelection?: string } {
  const value = jobEnvironment?.SAGEMAKER_INFERENCE_OUTPUT ?? model.environment?.SAGEMAKER_INFERENCE_OUTPUT;
  return value === undefined ? {} : { outputSelection: value };
}

/**
 * When the request names an id or true-outcome column and sets no InputFilter, the filter that keeps
 * those columns from the model (the user should not have to write JSONPath to leave out a column the
 * results table already knows by name). Undefined when there is nothing to leave out.
 */
function defaultInputFilter(request: ResolvedRunRequest): string | undefined {
  const results = request.results;
  if (!results.featureNames || request.transform.DataProcessing.InputFilter !== undefined) return undefined;
  const csv = mediaType(request.transform.ContentType) === 'text/csv';
  return modelInputFilter(results.featureNames, [
    idColumnIndex(results, csv),
    actualColumnIndex(results, csv),
  ]);
}

/** Turns an execution name into a run id: lower case, [a-z0-9-], at most 32 characters. */
export function runIdFromExecutionName(executionName: string): string {
  const cleaned = executionName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (cleaned.length === 0) return `run-${shortHash(executionName, 12)}`;
  return cleaned.length <= 32 ? cleaned : `${cleaned.slice(0, 19)}-${shortHash(executionName, 12)}`;
}

/**
 * The SageMaker model name for a variant: its own name when given, else derived from the image, the
 * artifact, the environment and network isolation, so the same model is created once and reused by
 * later runs (and a model that may reach the network is never reused for one that may not).
 */
export function modelNameFor(model: ModelVariant): string {
  if (model.modelName) return model.modelName;
  const identity = JSON.stringify([
    model.image,
    model.modelDataUrl,
    sortedEntries(model.environment ?? {}),
    ...(networkIsolationOf(model) ? [] : ['network']),
  ]);
  return `bt-${model.variant}-${shortHash(identity, 16)}`;
}

/** Whether a variant's model runs without network access (the default; `networkIsolation: false` opts out). */
export function networkIsolationOf(model: ModelVariant): boolean {
  return model.networkIsolation ?? true;
}

/** Marker and folder objects that are never data: Hadoop/Spark `_SUCCESS`-style and dot files. */
function isDataObject(uri: string): boolean {
  const name = uri.slice(uri.lastIndexOf('/') + 1);
  return name !== '' && !name.startsWith('_') && !name.startsWith('.');
}

async function listInput(
  store: ObjectStore,
  request: ResolvedRunRequest,
): Promise<{ prefix: string; objects: ObjectInfo[] }> {
  const input = request.input;
  parseS3Uri(input);
  let prefix: string;
  let objects: ObjectInfo[];
  if (input.endsWith('/')) {
    prefix = input;
    objects = [];
    for await (const object of store.list(input)) {
      if (!isDataObject(object.uri)) continue;
      if (request.inputSuffixes && !request.inputSuffixes.some((s) => object.uri.endsWith(s))) continue;
      objects.push(object);
    }
    if (objects.length === 0) {
      const filter = request.inputSuffixes ? ` ending in ${request.inputSuffixes.join(', ')}` : '';
      throw new InvalidInputError(`No input objects${filter} under ${input}`);
    }
  } else {
    const object = await store.head(input);
    if (!object) throw new ObjectNotFoundError(`Input object not found: ${input}`);
    prefix = input.slice(0, input.lastIndexOf('/') + 1);
    objects = [object];
  }
  const empty = objects.filter((o) => o.size === 0);
  if (empty.length > 0) {
    throw new InvalidInputError(
      `Input object${empty.length > 1 ? 's are' : ' is'} empty (0 bytes): ${empty.map((o) => o.uri).join(', ')}`,
    );
  }
  return { prefix, objects };
}

interface TransformRequestInput {
  request: ResolvedRunRequest;
  settings: PipelineSettings;
  modelName: string;
  jobName: string;
  manifestUri: string;
  outputPath: string;
  tags: { Key: string; Value: string }[];
}

function transformRequestFor(input: TransformRequestInput): PlannedJob['transformRequest'] {
  // Every field is set (defaults applied by applyRunDefaults): the state machine's JSONPath Parameters
  // cannot leave a field out. MaxConcurrentTransforms 0 asks SageMaker to take the container's
  // /execution-parameters (or 1), as leaving it out does.
  const t = input.request.transform;
  return {
    TransformJobName: input.jobName,
    ModelName: input.modelName,
    BatchStrategy: t.BatchStrategy,
    MaxPayloadInMB: t.MaxPayloadInMB,
    MaxConcurrentTransforms: t.MaxConcurrentTransforms,
    ModelClientConfig: {
      InvocationsTimeoutInSeconds: t.ModelClientConfig.InvocationsTimeoutInSeconds,
      InvocationsMaxRetries: t.ModelClientConfig.InvocationsMaxRetries,
    },
    Environment: t.Environment,
    TransformInput: {
      DataSource: { S3DataSource: { S3DataType: 'ManifestFile', S3Uri: input.manifestUri } },
      ContentType: t.ContentType,
      CompressionType: t.CompressionType,
      SplitType: t.SplitType,
    },
    TransformOutput: {
      S3OutputPath: input.outputPath,
      Accept: t.Accept,
      AssembleWith: t.AssembleWith,
      ...(input.settings.transformKmsKeyId ? { KmsKeyId: input.settings.transformKmsKeyId } : {}),
    },
    TransformResources: {
      InstanceType: t.InstanceType,
      InstanceCount: t.InstanceCount,
      ...(input.settings.transformVolumeKmsKeyId
        ? { VolumeKmsKeyId: input.settings.transformVolumeKmsKeyId }
        : {}),
    },
    DataProcessing: {
      InputFilter: t.DataProcessing.InputFilter ?? defaultInputFilter(input.request) ?? '$',
      OutputFilter: t.DataProcessing.OutputFilter,
      JoinSource: t.DataProcessing.JoinSource,
    },
    Tags: input.tags,
  };
}

function createModelRequest(
  model: ModelVariant,
  modelName: string,
  runId: string,
  settings: PipelineSettings,
): CreateModelRequest {
  if (!model.image || !model.modelDataUrl) {
    throw new InvalidInputError(
      `Model variant "${model.variant}" needs either modelName or both image and modelDataUrl`,
    );
  }
  return {
    ModelName: modelName,
    ExecutionRoleArn: settings.sagemakerRoleArn,
    PrimaryContainer: {
      Image: model.image,
      ModelDataUrl: model.modelDataUrl,
      Environment: model.environment ?? {},
    },
    ...(settings.vpcConfig ? { VpcConfig: settings.vpcConfig } : {}),
    // Safe by default: the container gets no network access (no egress, no calls out with the data);
    // a variant opts out with networkIsolation: false.
    EnableNetworkIsolation: networkIsolationOf(model),
    Tags: [
      { Key: 'pipeline-created-by-run', Value: runId },
      { Key: 'pipeline-variant', Value: model.variant },
    ],
  };
}

async function previousRunDate(store: ObjectStore, runPrefix: string): Promise<string | undefined> {
  const planUri = joinS3Uri(runPrefix, 'plan.json');
  if (!(await store.head(planUri))) return undefined;
  const previous = JSON.parse(
    Buffer.from(await store.getBytes(planUri)).toString('utf8'),
  ) as Partial<RunPlan>;
  return typeof previous.runDate === 'string' ? previous.runDate : undefined;
}

/**
 * Deletes the scratch and result files of earlier attempts of this run id that never reached
 * RegisterTable's switch (no registering marker): a failed or killed attempt whose RecordFailure did not
 * run or did not finish. Attempts with the marker may be the published one; only a later RegisterTable,
 * which knows from the catalog what is published, removes them.
 */
export async function cleanUnpublishedAttempts(
  store: ObjectStore,
  runPrefix: string,
  currentAttemptId: string,
): Promise<string[]> {
  const byAttempt = new Map<string, string[]>();
  const prefix = attemptsPrefix(runPrefix);
  for await (const object of store.list(prefix)) {
    const attemptId = object.uri.slice(prefix.length).split('/')[0] ?? '';
    if (attemptId === currentAttemptId || !/^[0-9a-f]{12}$/.test(attemptId)) continue;
    const list = byAttempt.get(attemptId) ?? [];
    list.push(object.uri);
    byAttempt.set(attemptId, list);
  }
  const cleaned: string[] = [];
  for (const [attemptId, scratch] of byAttempt) {
    const scratchPrefix = `${prefix}${attemptId}/`;
    if (scratch.includes(`${scratchPrefix}${REGISTERING_MARKER}`)) continue;
    await deleteAttemptResults(store, scratchPrefix, attemptId);
    // The plan goes last: it is what finds the result files if this cleanup is interrupted.
    const planUri = `${scratchPrefix}${ATTEMPT_PLAN}`;
    for (const uri of scratch) if (uri !== planUri) await store.delete(uri);
    await store.delete(planUri);
    cleaned.push(attemptId);
  }
  return cleaned;
}

/**
 * Deletes one attempt's result files (every variant), found through the plan in its scratch. An attempt
 * whose plan was never written wrote no result files: ParseResults runs only after BuildManifest.
 */
export async function deleteAttemptResults(
  store: ObjectStore,
  scratchPrefix: string,
  attemptId: string,
): Promise<void> {
  const planUri = joinS3Uri(scratchPrefix, ATTEMPT_PLAN);
  if (!(await store.head(planUri))) return;
  const plan = JSON.parse(Buffer.from(await store.getBytes(planUri)).toString('utf8')) as Partial<RunPlan>;
  if (!plan.table || !plan.runDate || !plan.runId) return;
  const files: string[] = [];
  // The results table and the statistics table ParseResults writes beside it.
  for (const table of [plan.table.table, statsTableName(plan.table.table)]) {
    const runResults = runResultsPrefix(plan.table.resultsPrefix, table, plan.runDate, plan.runId);
    for await (const object of store.list(runResults)) {
      if (attemptOf(object.uri) === attemptId) files.push(object.uri);
    }
  }
  for (const uri of files) await store.delete(uri);
}

function utcDate(isoTime: string): string {
  const time = new Date(isoTime);
  if (Number.isNaN(time.getTime())) throw new InvalidInputError(`Invalid execution start time "${isoTime}"`);
  return time.toISOString().slice(0, 10);
}

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
