/**
 * `npm start -- run <file-or-folder>`: a local input and model files become a run request, the local
 * pipeline runs it, and the outcome is printed with the user's own paths.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { classCountOf, labelsMismatch, type ModelKind } from '../core/model-labels.js';
import { modelInputFilter } from '../core/results-table.js';
import { attemptIdFor } from '../core/run-attempt.js';
import { isRunId } from '../core/run-id.js';
import type { RunRequest } from '../core/run-request.js';
import type { RunSummary } from '../core/summarize-run.js';
import { SchemaValidationError, UsageError } from '../errors.js';
import { LOCAL_BUCKET, LocalPipeline } from '../local/local-pipeline.js';
import { ONE_PROCESS_MAX_BYTES } from '../local/model-containers.js';
import { RunProgress } from '../local/progress.js';
import type { CheckedModel } from '../model-server/xgboost-model.js';
import { validateAgainstSchema } from '../schemas.js';
import { checkContainer } from './container-check.js';
import {
  checkColumnCount,
  checkFeatureNames,
  type ModelFeatureCount,
  type ModelFeatureNames,
} from './feature-check.js';
import {
  type InspectedInput,
  inputBytesUpTo,
  inputCopyPrefix,
  inspectInput,
  type PlacedInput,
  placeInput,
  removeInputCopy,
  typedPathInfo,
} from './local-input.js';
import { applyRunFlags, COLUMNS_KEPT_FROM_MODEL, type PartialRunRequest } from './run-options.js';
import {
  effectiveInputFilter,
  printFailure,
  printPlan,
  printStateEvent,
  printSummary,
} from './run-output.js';
import { inUserTerms, type UserTerms } from './user-message.js';

/** What `run` (or the sample command) was asked to do. */
export interface RunCommandOptions {
  home: string;
  /** The local file or folder typed by the user; absent with a --request whose input is set. */
  path: string | undefined;
  /** The flags' values, keyed as RUN_FLAGS' `key`s. */
  flags: Record<string, unknown>;
  /** Variant names for --model files, in order (default: from the file names). */
  variantNames?: string[];
}

/** Runs a local input through the pipeline; resolves with the exit code (0 succeeded, 1 the run failed). */
export async function runCommand(options: RunCommandOptions): Promise<number> {
  const { flags } = options;
  const requestFile = flags.request as string | undefined;
  const request: PartialRunRequest = requestFile ? await readRequestFile(requestFile) : {};
  const progress = new RunProgress(process.stdout, progressOptions());
  let paths: PlacedInput['paths'] = [];
  const opening = LocalPipeline.open({
    home: options.home,
    onStateEvent: (event) => printStateEvent(event, progress),
    onTransformProgress: progress.onTransformEvent,
    onParseProgress: progress.onParseEvent,
    onQueryProgress: progress.onQueryEvent,
    // A small input's built-in container runs inside this process (model-containers.ts): no standby.
    prestartModelServer: usesBuiltinServer(request, flags) && !isSmallInput(options.path),
    ...((flags.model as string[] | undefined)?.[0]
      ? { prestartModelFile: (flags.model as string[])[0] }
      : {}),
  });
  // The user's files are read (never written) while the pipeline opens: DuckDB's load and open take a
  // while, and much of it on DuckDB's own threads. Nothing is written to the store before the open has
  // finished (it takes the home's lock and cleans what killed runs left).
  // Settled together, so that when both the input and the model are wrong the error names the input,
  // the first thing typed, whichever check finishes first.
  const checking = Promise.allSettled([
    options.path
      ? inspectInput(options.path, {
          suffixes: flags.suffix as string[] | undefined,
          header: flags.header as boolean | undefined,
          contentType: (flags.contentType as string | undefined) ?? request.transform?.ContentType,
          compression:
            (flags.compression as 'Gzip' | 'None' | undefined) ?? request.transform?.CompressionType,
        })
      : undefined,
    checkModelFiles((flags.model as string[] | undefined) ?? []),
  ]).then(([input, models]) => {
    if (input.status === 'rejected') throw input.reason;
    if (models.status === 'rejected') throw models.reason;
    return [input.value, models.value] as const;
  });
  const [opened, checked] = await Promise.allSettled([opening, checking]);
  if (opened.status === 'rejected') throw opened.reason;
  const pipeline = opened.value;
  let placed: PlacedInput | undefined;
  let started = false;
  try {
    if (checked.status === 'rejected') throw checked.reason;
    const [inspected, kinds] = checked.value;
    checkLabelsFitModels(request, options, requestFile, kinds);
    // Named here, not by the pipeline: a copy of the input goes into this attempt's own folder.
    const executionName = randomUUID();
    if (inspected) {
      request.runId = runIdFor(request, flags, inspected, requestFile);
      inferFromInput(request, inspected);
    } else if (!request.input) {
      throw new UsageError('Give a file or folder to transform (or a --request whose input is set)');
    }
    applyRunFlags(request, flags);
    // A local run keeps the input where it is; the table need not hold another copy per variant.
    request.results ??= {};
    request.results.storeFeatures ??= false;
    if (flags.suffix && !inspected) request.inputSuffixes = flags.suffix as string[];
    if (inspected?.header) {
      keepColumnsFromModel(request, inspected);
      const files = (flags.model as string[] | undefined) ?? [];
      const models = kinds.map((kind, i) => ({
        file: files[i] as string,
        featureNames: kind.featureNames,
        numFeature: kind.numFeature,
      }));
      checkHeaderAgainstModels(request, inspected, models, flags.ignoreFeatureNames !== true);
    }
    // The input is copied only once every check of it passed: a refused run writes nothing.
    if (inspected) {
      const copyPrefix = inputCopyPrefix(LOCAL_BUCKET, request.runId as string, attemptIdFor(executionName));
      placed = await placeInput(pipeline.store, inspected, copyPrefix);
      paths = placed.paths;
      request.input = placed.uri;
      if (placed.inputSuffixes) request.inputSuffixes ??= placed.inputSuffixes;
    }
    const models = await registerModels(pipeline, options);
    if (models.length > 0) request.models = models;
    labelClassIndexes(request, kinds);
    if (!request.models?.length)
      throw new UsageError('Give a model: --model <model file> or --container <url>');
    const valid = validateRequest(request, requestFile);

    printPlan(valid, inspected, placed, options.path);
    const terms = userTermsOf(valid, inspected, paths);
    const startedAt = performance.now();
    started = true;
    const result = await pipeline.run(valid, executionName, {
      userText: (text) => inUserTerms(text, terms),
      ...(inspected ? { userInput: inspected.path } : {}),
    });
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    if (result.status !== 'SUCCEEDED') {
      await printFailure(pipeline, valid, result, seconds, terms);
      return 1;
    }
    printSummary(result.output as RunSummary, pipeline, seconds);
    return 0;
  } finally {
    // Stopped before the run: its copy of the input would be a run folder with no run.
    if (placed && !started) await removeInputCopy(pipeline.store, placed).catch(() => undefined);
    await pipeline.close();
  }
}

/**
 * How the run's messages are put in the user's terms: their paths and lines, and for a CSV the
 * columns' names (the header's, or the request file's featureNames) and the InputFilter the model's
 * fields are counted after. pandas' numbered header gives positions, not names.
 */
function userTermsOf(
  request: RunRequest,
  inspected: InspectedInput | undefined,
  paths: PlacedInput['paths'],
): UserTerms {
  const columns = request.results?.featureNames;
  if (!columns || (request.transform?.ContentType ?? 'text/csv') !== 'text/csv') return { paths };
  const header = inspected?.header;
  return {
    paths,
    columns,
    numbered: header?.numbered === true && header.columns.join('\0') === columns.join('\0'),
    inputFilter: effectiveInputFilter(request),
  };
}

/**
 * The run id, known before the input is placed (its copy goes under it): --run-id, else the request
 * file's, else one from the input's name.
 *
 * @throws UsageError when the request file's runId is not one (it would name a folder).
 */
function runIdFor(
  request: PartialRunRequest,
  flags: Record<string, unknown>,
  inspected: InspectedInput,
  requestFile: string | undefined,
): string {
  const runId = (flags.runId as string | undefined) ?? request.runId ?? runIdFromName(inspected.path);
  if (!isRunId(runId)) {
    throw new UsageError(
      `${requestFile ?? 'the request'}: runId "${String(runId)}" is not a run id: use 1-32 lowercase letters, digits and -, starting with a letter or digit`,
    );
  }
  return runId;
}

/** Whether the local input at `path` is small enough for in-process containers (ONE_PROCESS_MAX_BYTES). */
function isSmallInput(path: string | undefined): boolean {
  if (path === undefined) return false;
  return (inputBytesUpTo(path, ONE_PROCESS_MAX_BYTES) ?? Number.POSITIVE_INFINITY) <= ONE_PROCESS_MAX_BYTES;
}

/**
 * Whether the run will start the built-in model server, as far as the flags and request file tell
 * before anything is read: a --model file, or a request model given as an artifact rather than a URL.
 */
function usesBuiltinServer(request: PartialRunRequest, flags: Record<string, unknown>): boolean {
  if (((flags.model as string[] | undefined) ?? []).length > 0) return true;
  if (((flags.container as string[] | undefined) ?? []).length > 0) return false;
  return (request.models ?? []).some(
    (model) => 'modelDataUrl' in model && !/^https?:\/\//.test(String(model.image ?? '')),
  );
}

function progressOptions() {
  const seconds = Number(process.env.PIPELINE_PROGRESS_INTERVAL ?? '');
  return Number.isFinite(seconds) && seconds > 0 ? { logIntervalMs: seconds * 1000 } : {};
}

async function readRequestFile(file: string): Promise<PartialRunRequest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`No such request file: ${typedPathInfo(file)}`);
  }
  try {
    return JSON.parse(text) as PartialRunRequest;
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function validateRequest(request: PartialRunRequest, requestFile: string | undefined): RunRequest {
  try {
    return validateAgainstSchema<RunRequest>(
      'run-request',
      request,
      `run request${requestFile ? ` (${requestFile} with the flags)` : ' (from the flags)'}`,
    );
  } catch (error) {
    if (error instanceof SchemaValidationError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** A run id from a file or folder name: `X_test.csv.gz` → `x-test`. */
export function runIdFromName(path: string): string {
  const slug = basename(path)
    .toLowerCase()
    .replace(/(\.(csv|jsonl|ndjson|json|libsvm|txt))?(\.gz)?$/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  return slug || 'run';
}

/** Settings read off the input (content type, compression, column names) unless the request file set them. */
function inferFromInput(request: PartialRunRequest, input: InspectedInput): void {
  request.transform ??= {};
  if (input.contentType) request.transform.ContentType ??= input.contentType;
  request.transform.CompressionType ??= input.compression;
  if (input.header) {
    request.results ??= {};
    request.results.featureNames ??= input.header.columns;
    if (input.header.indexColumn && request.results.featureNames[0] === input.header.indexColumn) {
      request.results.idColumn ??= input.header.indexColumn;
    }
  }
}

/**
 * Checks the columns named by flags exist in the header, and keeps pandas' index from the model when the
 * id is another column. BuildManifest itself keeps the id and actual columns from the model when the
 * request sets no InputFilter (src/core/results-table.ts modelInputFilter); the index is the CLI's to add.
 */
function keepColumnsFromModel(request: PartialRunRequest, input: InspectedInput): void {
  const columns = request.results?.featureNames ?? [];
  const named: number[] = [];
  for (const field of COLUMNS_KEPT_FROM_MODEL) {
    const name = request.results?.[field];
    if (typeof name !== 'string') continue;
    const index = columns.indexOf(name);
    if (index < 0) {
      throw new UsageError(
        `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${name}: no such column in the header of ${input.path} (columns: ${columns.slice(0, 8).join(', ')}${columns.length > 8 ? ', …' : ''})`,
      );
    }
    named.push(index);
  }
  const index = input.header?.indexColumn;
  if (!index || request.results?.idColumn === index || request.transform?.DataProcessing?.InputFilter) return;
  let filter: string | undefined;
  try {
    filter = modelInputFilter(columns, [0, ...named]);
  } catch (error) {
    throw new UsageError(`${input.path}: ${(error as Error).message}`);
  }
  if (filter) {
    request.transform ??= {};
    request.transform.DataProcessing = { ...request.transform.DataProcessing, InputFilter: filter };
  }
}

/**
 * Checks each --model file before anything runs, so a message names the user's file, not the store's
 * copy: it exists and the built-in server can load it. Resolves with each file's objective, class
 * count and feature names, in order, as the server reads them from any format it serves.
 *
 * @throws UsageError naming the file and what is wrong with it.
 */
async function checkModelFiles(files: string[]): Promise<CheckedModel[]> {
  const kinds: CheckedModel[] = [];
  for (const file of files) {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new UsageError(`No such model file: ${typedPathInfo(file)}`);
    const { checkModelArtifact } = await import('../model-server/xgboost-model.js');
    kinds.push(
      await checkModelArtifact(file).catch((error: Error) => {
        throw new UsageError(error.message);
      }),
    );
  }
  return kinds;
}

/**
 * Refuses labels that do not fit a --model file's objective and class count before anything runs (a
 * regression model's score cut at the threshold, or a class count the parse would find wrong only after
 * the whole transform). The labels are --labels, else the request file's results.labels, as the flags
 * replace the file's. A --container's model is not readable here: its labels are not checked.
 *
 * @throws UsageError naming the labels, the model file, its objective and class count.
 */
function checkLabelsFitModels(
  request: PartialRunRequest,
  options: RunCommandOptions,
  requestFile: string | undefined,
  kinds: readonly ModelKind[],
): void {
  const flagged = options.flags.labels as string[] | undefined;
  const labels = flagged ?? request.results?.labels;
  if (!labels) return;
  const named = flagged ? '--labels' : 'results.labels';
  const files = (options.flags.model as string[] | undefined) ?? [];
  kinds.forEach((kind, i) => {
    const problem = labelsMismatch(labels, kind, { model: files[i] as string, labels: named });
    if (problem) throw new UsageError(flagged ? problem : `${requestFile}: ${problem}`);
  });
}

/**
 * The header's columns against each --model file's feature names (feature-check.ts), with the columns
 * the model gets once the id and true-outcome columns are kept from it. Names a request file set in
 * results.featureNames are compared instead of the header's; pandas' numbered header has no names.
 * Then their count against each model's feature count (checkColumnCount), names compared or not.
 */
function checkHeaderAgainstModels(
  request: PartialRunRequest,
  input: InspectedInput,
  models: readonly (ModelFeatureNames & ModelFeatureCount)[],
  compareNames: boolean,
): void {
  const header = input.header as NonNullable<InspectedInput['header']>;
  const columns = request.results?.featureNames ?? header.columns;
  const given = {
    file: input.path,
    columns,
    numbered: header.numbered === true && columns.join('\0') === header.columns.join('\0'),
    inputFilter: effectiveInputFilter(request),
  };
  // Names first: where the model has them, the refusal can say which column is not a feature.
  if (compareNames) checkFeatureNames(given, models);
  checkColumnCount(given, models);
}

async function registerModels(
  pipeline: LocalPipeline,
  options: RunCommandOptions,
): Promise<RunRequest['models']> {
  const models: RunRequest['models'] = [];
  const variantOf = (name: string) =>
    name
      .toLowerCase()
      .replace(/\.(json|ubj|bin|model|tar\.gz)$/, '')
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 16)
      .replace(/-+$/, '') || 'model';
  const files = (options.flags.model as string[] | undefined) ?? [];
  for (const [index, file] of files.entries()) {
    const bytes = await readFile(file);
    const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    // The artifact keeps its own file name: its extension tells the server the format.
    const modelDataUrl = `s3://${LOCAL_BUCKET}/models/${digest}/${basename(file).replace(/[^\w.-]+/g, '-')}`;
    await pipeline.store.put(modelDataUrl, bytes);
    const wanted = options.variantNames?.[index] ?? variantOf(basename(file));
    models.push({ variant: uniqueVariant(models, wanted), image: 'builtin:xgboost', modelDataUrl });
  }
  for (const url of (options.flags.container as string[] | undefined) ?? []) {
    checkContainerUrl(url);
    // Like a missing --model file: the flag names something that is not there, and nothing has run.
    await checkContainer(url).catch((error: Error) => {
      throw new UsageError(error.message, { cause: error });
    });
    const modelName = `container-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
    await pipeline.models.put({ ModelName: modelName, PrimaryContainer: { Image: url } });
    models.push({ variant: uniqueVariant(models, 'container'), modelName });
  }
  return models;
}

/**
 * A classifier given without labels stores its class index as the label ("0", "1", …), as the results
 * table documents: the class count comes from each --model file's objective and num_class (any format
 * the server reads). A container's model is not readable here; its label stays empty unless --labels
 * is given.
 */
function labelClassIndexes(request: PartialRunRequest, kinds: readonly ModelKind[]): void {
  if (request.results?.labels || kinds.length === 0) return;
  const counts = new Set(kinds.map(classCountOf));
  const [count] = [...counts];
  if (counts.size !== 1 || count === undefined || count < 2) return;
  request.results ??= {};
  request.results.labels = Array.from({ length: count }, (_, i) => String(i));
}

/** A container URL must be http(s)://host:port: anything else is a typo the user should hear about now. */
export function checkContainerUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    throw new UsageError(
      `--container ${url}: not a container URL. Give the address the container listens on, with http://, ` +
        `e.g. --container http://127.0.0.1:8080 (SageMaker containers listen on port 8080)`,
    );
  }
}

function uniqueVariant(models: RunRequest['models'], wanted: string): string {
  let variant = wanted;
  for (let n = 2; models.some((m) => m.variant === variant); n += 1) variant = `${wanted.slice(0, 13)}-${n}`;
  return variant;
}
