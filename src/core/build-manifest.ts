import { InvalidInputError, ObjectNotFoundError } from '../errors.js';
import type {
  BuildManifestEvent as GeneratedBuildManifestEvent,
  ResultsTableRef as GeneratedResultsTableRef,
  RunPlan as GeneratedRunPlan,
} from '../generated/schema-types.js';
import type { ObjectInfo, ObjectStore } from '../ports.js';
import { cleanUnpublishedAttempts } from './build-manifest-cleanup.js';
import {
  defaultInputFilter,
  outputSelectionOf,
  type PlannedJob,
  transformRequestFor,
} from './build-manifest-jobs.js';
import {
  type CreateModelRequest,
  createModelRequest,
  modelNameFor,
  shortHash,
} from './build-manifest-models.js';
import { writeInputIdentities } from './input-identity.js';
import { writeJobList } from './job-results.js';
import { formatManifest } from './manifest.js';
import { labelsMismatch, type ModelKind, scoreThreshold } from './model-labels.js';
import { ATTEMPT_PLAN, attemptIdFor, attemptScratchPrefix } from './run-attempt.js';
import { checkOutputKeyCollisions, checkRunRequest, usesXGBoostContainer } from './run-checks.js';
import { applyRunDefaults, type ResolvedRunRequest } from './run-defaults.js';
import type { ModelVariant, PipelineSettings } from './run-request.js';
import { joinS3Uri, parseS3Uri } from './s3-uri.js';

/**
 * BuildManifest's event, as the ASL's Parameters build it: generated from
 * schemas/build-manifest-event.schema.json (the Lambda validates it). `executionName` is the default run
 * id and makes transform job names unique per attempt; `executionStartTime`'s UTC date is the run's
 * partition date.
 */
export type BuildManifestEvent = GeneratedBuildManifestEvent;

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
   * AWS, where the artifact is SageMaker's to read. Resolves with the model's objective and class count
   * when it can tell them: the run's labels are checked against them, a logitraw model's threshold
   * is put on its margin scale, and the objective is saved with request.json for the report.
   */
  checkModelArtifact?: (modelDataUrl: string) => Promise<ModelKind | undefined>;
}

/** The results table a run writes to: the definition `table` of schemas/definitions.schema.json. */
export type ResultsTableRef = GeneratedResultsTableRef;

/**
 * BuildManifest's output: the whole run, planned, so later states only pass fields along. The jobs
 * themselves are in S3 (`jobList`), so the state stays small whatever their number.
 * Generated from schemas/run-plan.schema.json, which BuildManifest's output is validated against.
 */
export type RunPlan = GeneratedRunPlan;

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
  // What each variant's model file says about its classes, where it can be read (locally).
  const kinds = new Map<string, ModelKind>();
  if (deps.checkModelArtifact) {
    for (const { model } of variants) {
      if (!model.modelDataUrl || !usesXGBoostContainer(model)) continue;
      const kind = await deps.checkModelArtifact(model.modelDataUrl);
      if (!kind) continue;
      if (model.objective !== undefined && model.objective !== kind.objective) {
        throw new InvalidInputError(
          `models[${request.models.indexOf(model)}] (variant "${model.variant}"): objective ${model.objective}, but its model file ${model.modelDataUrl} is ${kind.objective}: correct the objective or leave it out (the file's own is used)`,
        );
      }
      const labels = request.results.labels;
      const problem =
        labels && labelsMismatch(labels, kind, { model: model.modelDataUrl, labels: 'results.labels' });
      if (problem) throw new InvalidInputError(problem);
      kinds.set(model.variant, kind);
    }
  }
  // Each variant's objective: its file's, else the one the request gave for a model nobody can read here.
  const objectiveOf = (model: ModelVariant) => kinds.get(model.variant)?.objective ?? model.objective;
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
            threshold: scoreThreshold(request.results.threshold, objectiveOf(model)),
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
  // The request as run, every default filled in, and each model's objective where it is known: the
  // report and later readers take them from here (the report words each variant's score by it).
  const asRun: ResolvedRunRequest = {
    ...request,
    models: request.models.map((model) => {
      const objective = objectiveOf(model);
      return objective === undefined ? model : { ...model, objective };
    }),
  };
  await store.put(joinS3Uri(runPrefix, 'request.json'), JSON.stringify(asRun, null, 2));
  await store.put(joinS3Uri(runPrefix, 'plan.json'), planText);
  return plan;
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

async function previousRunDate(store: ObjectStore, runPrefix: string): Promise<string | undefined> {
  const planUri = joinS3Uri(runPrefix, 'plan.json');
  if (!(await store.head(planUri))) return undefined;
  const previous = JSON.parse(
    Buffer.from(await store.getBytes(planUri)).toString('utf8'),
  ) as Partial<RunPlan>;
  return typeof previous.runDate === 'string' ? previous.runDate : undefined;
}

function utcDate(isoTime: string): string {
  const time = new Date(isoTime);
  if (Number.isNaN(time.getTime())) throw new InvalidInputError(`Invalid execution start time "${isoTime}"`);
  return time.toISOString().slice(0, 10);
}
