/**
 * `npm start -- run <file-or-folder>`: a local input and model files become a run request, the local
 * pipeline runs it, and the outcome is printed with the user's own paths.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { FailureRecord } from '../core/record-failure.js';
import { modelInputFilter } from '../core/results-table.js';
import type { RunRequest } from '../core/run-request.js';
import type { RunSummary } from '../core/summarize-run.js';
import { SchemaValidationError, UsageError } from '../errors.js';
import { LOCAL_BUCKET, LocalPipeline, type StateEvent } from '../local/local-pipeline.js';
import { RunProgress } from '../local/progress.js';
import { validateAgainstSchema } from '../schemas.js';
import { checkContainer } from './container-check.js';
import { type InspectedInput, inspectInput, type PlacedInput, placeInput } from './local-input.js';
import { formatBytes, formatCount, log, printRows, userPaths } from './output.js';
import { applyRunFlags, COLUMNS_KEPT_FROM_MODEL, type PartialRunRequest } from './run-options.js';

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
  const pipeline = await LocalPipeline.open({
    home: options.home,
    onStateEvent: (event) => printStateEvent(event, progress, paths),
    onTransformProgress: progress.onTransformEvent,
    onParseProgress: progress.onParseEvent,
    onQueryProgress: progress.onQueryEvent,
    prestartModelServer: usesBuiltinServer(request, flags),
  });
  try {
    let inspected: InspectedInput | undefined;
    let placed: PlacedInput | undefined;
    if (options.path) {
      inspected = await inspectInput(options.path, {
        suffixes: flags.suffix as string[] | undefined,
        header: flags.header as boolean | undefined,
        contentType: (flags.contentType as string | undefined) ?? request.transform?.ContentType,
        compression: (flags.compression as 'Gzip' | 'None' | undefined) ?? request.transform?.CompressionType,
      });
      request.runId ??= runIdFromName(inspected.path);
      placed = await placeInput(pipeline.store, inspected, LOCAL_BUCKET, request.runId);
      paths = placed.paths;
      request.input = placed.uri;
      if (placed.inputSuffixes) request.inputSuffixes ??= placed.inputSuffixes;
      inferFromInput(request, inspected);
    } else if (!request.input) {
      throw new UsageError('Give a file or folder to transform (or a --request whose input is set)');
    }
    applyRunFlags(request, flags);
    // A local run keeps the input where it is; the table need not hold another copy per variant.
    request.results ??= {};
    request.results.storeFeatures ??= false;
    if (flags.suffix && !inspected) request.inputSuffixes = flags.suffix as string[];
    if (inspected?.header) keepColumnsFromModel(request, inspected);
    const models = await registerModels(pipeline, options);
    if (models.length > 0) request.models = models;
    await labelClassIndexes(request, (flags.model as string[] | undefined) ?? []);
    if (!request.models?.length)
      throw new UsageError('Give a model: --model <model file> or --container <url>');
    const valid = validateRequest(request, requestFile);

    printPlan(valid, inspected, placed, options.path);
    const started = performance.now();
    const startedAt = new Date();
    const result = await pipeline.run(valid);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (result.status !== 'SUCCEEDED') {
      await printFailure(pipeline, valid, result, seconds, paths, startedAt);
      return 1;
    }
    printSummary(result.output as RunSummary, pipeline, seconds, progress);
    return 0;
  } finally {
    await pipeline.close();
  }
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
    throw new UsageError(`No such request file: ${file}`);
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

/** The InputFilter the run will use: the request's, or the one BuildManifest derives from the named columns. */
function effectiveInputFilter(request: RunRequest): string | undefined {
  const own = request.transform?.DataProcessing?.InputFilter;
  if (own !== undefined) return own;
  const columns = request.results?.featureNames;
  if (!columns) return undefined;
  const named = COLUMNS_KEPT_FROM_MODEL.map((field) => request.results?.[field])
    .filter((name): name is string => typeof name === 'string')
    .map((name) => columns.indexOf(name));
  try {
    return modelInputFilter(columns, named);
  } catch {
    return undefined;
  }
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
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new UsageError(`No such model file: ${file}`);
    // Checked here, before anything runs, so the message names the user's file, not the store's copy.
    const { checkModelArtifact } = await import('../model-server/xgboost-model.js');
    await checkModelArtifact(file).catch((error: Error) => {
      throw new UsageError(error.message);
    });
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
 * table documents: the CLI reads the class count from the model file (XGBoost JSON: the objective and
 * num_class) and names the classes by index. A container's model is not readable here; its label stays
 * empty unless --labels is given.
 */
async function labelClassIndexes(request: PartialRunRequest, modelFiles: string[]): Promise<void> {
  if (request.results?.labels || modelFiles.length === 0) return;
  const counts = new Set<number>();
  for (const file of modelFiles) {
    const classes = await classCount(file);
    if (classes === undefined) return;
    counts.add(classes);
  }
  const [count] = [...counts];
  if (counts.size !== 1 || count === undefined || count < 2) return;
  request.results ??= {};
  request.results.labels = Array.from({ length: count }, (_, i) => String(i));
}

/** 2 for binary:*, num_class for multi:*, undefined for anything else or a file that is not XGBoost JSON. */
async function classCount(file: string): Promise<number | undefined> {
  if (!file.toLowerCase().endsWith('.json')) return undefined;
  try {
    const learner = (JSON.parse(await readFile(file, 'utf8')) as { learner?: Record<string, unknown> })
      .learner;
    const objective = String((learner?.objective as { name?: string } | undefined)?.name ?? '');
    if (objective.startsWith('binary:')) return 2;
    if (objective.startsWith('multi:')) {
      const param = learner?.learner_model_param as { num_class?: string } | undefined;
      const n = Number(param?.num_class);
      return Number.isInteger(n) && n >= 2 ? n : undefined;
    }
  } catch {
    // Not JSON: the model server says what is wrong with it when the run starts.
  }
  return undefined;
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

function printPlan(
  request: RunRequest,
  input: InspectedInput | undefined,
  placed: PlacedInput | undefined,
  typedPath: string | undefined,
): void {
  const variants = request.models.map((m) => m.variant).join(', ');
  const what = input
    ? `${relativeToCwd(typedPath ?? input.path)} (${input.files.length} file${input.files.length === 1 ? '' : 's'}, ${request.transform?.ContentType ?? 'text/csv'}${input.compression === 'Gzip' ? ', gzip' : ''}; ${placed?.how})`
    : request.input;
  log(`Run ${request.runId}: ${what} with ${variants}`);
  if (input && input.skipped.length > 0) {
    const shown = input.skipped.slice(0, 10).map((s) => `${s.file} (${s.reason})`);
    log(
      `  skipped ${input.skipped.length} file(s): ${shown.join(', ')}${input.skipped.length > 10 ? ', …' : ''}`,
    );
  }
  const labels = request.results?.labels ?? [];
  if (labels.length > 0 && labels.every((l, i) => l === String(i))) {
    log(`  labels: none given, so the class index is stored (${labels.join(', ')}); name them with --labels`);
  }
  if (input?.header) {
    const columns = input.header.columns;
    log(
      `  header ${input.headerDetected ? 'found' : '(--header)'}: ${columns.length} columns (${columns.slice(0, 4).join(', ')}${columns.length > 4 ? ', …' : ''})`,
    );
    if (input.header.indexColumn && request.results?.idColumn === input.header.indexColumn) {
      log(`  record id: the unnamed first column (pandas' index), stored as "id", not sent to the model`);
    } else if (request.results?.idColumn) {
      log(`  record id: column "${request.results.idColumn}", stored as "id", not sent to the model`);
    }
    const filter = effectiveInputFilter(request);
    if (filter) log(`  the model gets columns ${filter} (DataProcessing.InputFilter)`);
  }
}

function printStateEvent(event: StateEvent, progress: RunProgress, paths: PlacedInput['paths']): void {
  const output = event.output as Record<string, unknown> | undefined;
  const input = event.input as Record<string, unknown> | undefined;
  const took = `${((event.elapsedMs ?? 0) / 1000).toFixed(2)}s`;
  if (event.phase === 'start') {
    if (event.state === 'createTransformJob.sync') {
      const name = String(input?.TransformJobName);
      const tags = (input?.Tags as Array<{ Key: string; Value: string }> | undefined) ?? [];
      const variant = tags.find((t) => t.Key === 'pipeline-variant')?.Value;
      if (variant) progress.labelJob(name, variant);
      progress.print(`  transform job ${name} started${variant ? ` (variant ${variant})` : ''}`);
    } else if (event.state === 'parseResults') {
      progress.print(`  parsing ${jobLabel(input, progress)} results…`);
    } else if (event.state === 'runQueries') {
      progress.print('  running queries and writing the report…');
    }
    return;
  }
  if (event.state === 'parseResults') progress.parseEnded(String(input?.variant), String(input?.shardId));
  if (event.phase === 'error') {
    if (event.state === 'createTransformJob.sync') {
      const name = String(input?.TransformJobName);
      const variant = progress.variantOf(name);
      progress.print(`  transform job ${name} Failed${variant ? ` (variant ${variant})` : ''} (${took})`);
    }
    return;
  }
  if (event.phase !== 'end') return;
  if (event.state === 'buildManifest') {
    const inputs = output?.inputs as { objects: number; bytes: number; shards: number } | undefined;
    if (inputs) {
      progress.print(
        `  manifest: ${inputs.objects} object(s), ${formatBytes(inputs.bytes)}, ${inputs.shards} shard(s) (${took})`,
      );
    }
    // Plan-time warnings (src/core/run-checks.ts): allowed, but likely to fail on AWS.
    for (const warning of (output?.warnings as string[] | undefined) ?? [])
      progress.print(`  warning: ${warning}`);
  } else if (event.state === 'createTransformJob.sync') {
    progress.print(
      `  transform job ${String(output?.TransformJobName)} ${String(output?.TransformJobStatus)} (${took})`,
    );
  } else if (event.state === 'parseResults') {
    progress.print(
      `  parsed ${jobLabel(input, progress)}: ${formatCount(Number(output?.recordsIn))} records in → ${formatCount(Number(output?.recordsOut))} result rows (${took})`,
    );
  } else if (event.state === 'registerTable') {
    progress.print(`  table registered (${took})`);
  } else if (event.state === 'createModel') {
    progress.print(`  model ${String(input?.ModelName)} created`);
  } else if (event.state === 'runQueries') {
    progress.print(`  queries and report done (${took})`);
  }
  void paths;
}

/** "xgb" for a ParseResults event, from its transform job's name. */
function jobLabel(input: Record<string, unknown> | undefined, progress: RunProgress): string {
  const job = input?.transformJob as { TransformJobName?: string } | undefined;
  const name = job?.TransformJobName ?? '';
  return progress.variantOf(name) ?? name;
}

function printSummary(
  summary: RunSummary,
  pipeline: LocalPipeline,
  seconds: string,
  progress: RunProgress,
): void {
  const home = (path: string) => relativeToCwd(path);
  log('');
  log(`Run ${summary.runId} SUCCEEDED in ${seconds}s`);
  const variants = [...new Set(summary.partitions.map((p) => p.values[p.values.length - 1] ?? ''))];
  const perVariant = variants.length > 0 ? summary.recordsIn / variants.length : summary.recordsIn;
  const outPer = variants.length > 0 ? summary.recordsOut / variants.length : summary.recordsOut;
  log(
    `  records: ${formatCount(perVariant)} in, ${formatCount(outPer)} out${variants.length > 1 ? ` per variant (${variants.length} variants: ${variants.join(', ')})` : ''} (${summary.jobs} transform job(s))`,
  );
  void progress;
  log(`  table:   ${summary.table} (DuckDB ${home(join(pipeline.home, 'catalog.duckdb'))})`);
  for (const partition of summary.partitions)
    log(`  results: ${home(pipeline.store.directoryOf(partition.location))}/`);
  log(`  summary: ${home(pipeline.store.pathOf(summary.summaryUri))}`);
  log(`  report:  ${home(pipeline.store.pathOf(summary.reportUri))}`);
  for (const [name, result] of Object.entries(summary.queries)) {
    log(`\nQuery "${name}":`);
    printRows(process.stdout, result.columns, result.rows);
  }
  log(
    `\nQuery the results: npm start -- query "SELECT * FROM ${summary.table.split('.')[1]} WHERE run_id = ?" --param ${summary.runId}`,
  );
}

async function printFailure(
  pipeline: LocalPipeline,
  request: RunRequest,
  result: { error?: string | undefined; cause?: string | undefined; executionName: string },
  seconds: string,
  paths: PlacedInput['paths'],
  startedAt: Date,
): Promise<void> {
  const runId = request.runId ?? result.executionName;
  const runFolder = `s3://${LOCAL_BUCKET}/runs/${runId}/`;
  const failureUri = `${runFolder}failure.json`;
  let failure: Partial<FailureRecord> = {};
  try {
    failure = JSON.parse(
      Buffer.from(await pipeline.store.getBytes(failureUri)).toString('utf8'),
    ) as FailureRecord;
  } catch {
    failure = {};
  }
  const { failureMessage } = await import('../core/record-failure.js');
  const message = failure.message ?? failureMessage(result.cause ?? '(no cause)');
  const err = (line: string) => process.stderr.write(`${line}\n`);
  err('');
  err(`Run ${runId} FAILED after ${seconds}s${failure.failedState ? ` in ${failure.failedState}` : ''}:`);
  err(`  ${userPaths(message, paths)}`);
  err(`  run folder: ${relativeToCwd(pipeline.store.directoryOf(runFolder))}/`);
  if (failure.runId) err(`  failure:    ${relativeToCwd(pipeline.store.pathOf(failureUri))}`);
  const reportUri = `${runFolder}report.html`;
  // Only this run's report: an earlier run of the same id may have left one.
  const report = await pipeline.store.head(reportUri);
  if (report?.lastModified && report.lastModified.getTime() >= startedAt.getTime() - 1000)
    err(`  report:     ${relativeToCwd(pipeline.store.pathOf(reportUri))}`);
  err(
    `  detail:     ${failure.error ?? result.error ?? 'unknown error'} (execution ${result.executionName})`,
  );
}

function relativeToCwd(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}
