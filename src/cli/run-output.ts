/**
 * What `npm start -- run` prints: the plan before the run, each state's progress line, and the summary
 * or the failure after it, with the user's own paths (run-command.ts builds the request and runs it).
 */
import { join, relative } from 'node:path';
import type { FailureRecord } from '../core/record-failure.js';
import { modelInputFilter } from '../core/results-table.js';
import type { RunRequest } from '../core/run-request.js';
import type { RunSummary } from '../core/summarize-run.js';
import { LOCAL_BUCKET, type LocalPipeline, type StateEvent } from '../local/local-pipeline.js';
import type { RunProgress } from '../local/progress.js';
import type { InspectedInput, PlacedInput } from './local-input.js';
import { formatBytes, formatCount, log, printRows } from './output.js';
import { COLUMNS_KEPT_FROM_MODEL } from './run-options.js';
import { inUserTerms, type UserTerms } from './user-message.js';

/** The InputFilter the run will use: the request's, or the one BuildManifest derives from the named columns. */
export function effectiveInputFilter(request: Pick<RunRequest, 'transform' | 'results'>): string | undefined {
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

/**
 * The plan, before anything runs: the input as typed, the variants, skipped files, labels, header, id
 * column and InputFilter.
 */
export function printPlan(
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
      `  header ${input.headerDetected ? 'found' : '(--header)'}: ${columns.length} columns (${columns.slice(0, 4).join(', ')}${columns.length > 4 ? ', …' : ''})` +
        // A numbered header is told from data by a rule (csv-header.ts): say which, and the way out.
        (input.header.numbered && input.headerDetected
          ? ": pandas' numbers of unnamed columns (if line 1 is data, give --no-header)"
          : ''),
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

/** One progress line for a state starting, ending or failing (jobs named by their variant). */
export function printStateEvent(event: StateEvent, progress: RunProgress): void {
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
}

/** "xgb" for a ParseResults event, from its transform job's name. */
function jobLabel(input: Record<string, unknown> | undefined, progress: RunProgress): string {
  const job = input?.transformJob as { TransformJobName?: string } | undefined;
  const name = job?.TransformJobName ?? '';
  return progress.variantOf(name) ?? name;
}

/** A succeeded run: its records, table, result folders, summary, report and the queries' rows. */
export function printSummary(summary: RunSummary, pipeline: LocalPipeline, seconds: string): void {
  const home = (path: string) => relativeToCwd(path);
  log('');
  log(`Run ${summary.runId} SUCCEEDED in ${seconds}s`);
  const variants = [...new Set(summary.partitions.map((p) => p.values[p.values.length - 1] ?? ''))];
  const perVariant = variants.length > 0 ? summary.recordsIn / variants.length : summary.recordsIn;
  const outPer = variants.length > 0 ? summary.recordsOut / variants.length : summary.recordsOut;
  log(
    `  records: ${formatCount(perVariant)} in, ${formatCount(outPer)} out${variants.length > 1 ? ` per variant (${variants.length} variants: ${variants.join(', ')})` : ''} (${summary.jobs} transform job(s))`,
  );
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

/**
 * A failed run, on stderr: the failed state, the message with the user's paths, the run folder, the
 * failure record and this attempt's report (failure-report.html when an earlier attempt of the run id
 * is published, whose report is then named too).
 */
export async function printFailure(
  pipeline: LocalPipeline,
  request: RunRequest,
  result: { error?: string | undefined; cause?: string | undefined; executionName: string },
  seconds: string,
  terms: UserTerms,
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
  // Only this execution's record: an earlier run of the same id may have left one.
  const ours = failure.executionName === result.executionName;
  // This execution's record is in the user's terms already (RecordFailure's userText): print it as
  // it is, so the terminal and failure.json say the same.
  const message =
    ours && failure.message !== undefined
      ? failure.message
      : inUserTerms(failureMessage(result.cause ?? '(no cause)'), terms);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  err('');
  err(`Run ${runId} FAILED after ${seconds}s${failure.failedState ? ` in ${failure.failedState}` : ''}:`);
  err(`  ${message}`);
  err(`  run folder: ${relativeToCwd(pipeline.store.directoryOf(runFolder))}/`);
  if (ours) err(`  failure:    ${relativeToCwd(pipeline.store.pathOf(failureUri))}`);
  if (ours && failure.reportUri)
    err(`  report:     ${relativeToCwd(pipeline.store.pathOf(failure.reportUri))}`);
  if (ours && failure.publishedReportUri) {
    err(
      `  published:  run ${runId}'s earlier results are still published, unchanged (report: ${relativeToCwd(pipeline.store.pathOf(failure.publishedReportUri))})`,
    );
  }
  err(
    `  detail:     ${failure.error ?? result.error ?? 'unknown error'} (execution ${result.executionName})`,
  );
}

function relativeToCwd(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}
