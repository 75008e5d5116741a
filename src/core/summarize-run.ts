import type {
  JobResult as GeneratedJobResult,
  MapJobResult as GeneratedMapJobResult,
  RunSummary as GeneratedRunSummary,
  SummarizeRunEvent as GeneratedSummarizeRunEvent,
} from '../generated/schema-types.js';
import type { ObjectStore, PartitionDefinition, QueryEngine } from '../ports.js';
import { completionStatistics, type JobResources } from './completion.js';
import { type JobListItem, readJobResults } from './job-results.js';
import { commitAttempt, keepReplacedRunFiles } from './register-table-commit.js';
import { attemptIdFor } from './run-attempt.js';
import { applyRunDefaults } from './run-defaults.js';
import { type RunQueriesOptions, runNamedQueries } from './run-queries.js';
import { REPORT_QUERIES, renderRunReport } from './run-report.js';
import type { RunRequest } from './run-request.js';
import { joinS3Uri } from './s3-uri.js';

/**
 * One job's parsed results (counts, partition, files): the definition `jobResult` of
 * schemas/definitions.schema.json.
 */
export type JobResult = GeneratedJobResult;

/**
 * What each job of RunTransforms' Map leaves for RegisterTable and RunQueries: ParseResults' result,
 * written to the job's jobResultUri: the job's {@link JobResult} with the variant and shard the ASL
 * passed in and the transform job as RunTransformJob's ResultSelector kept it. Generated from
 * schemas/parse-results-result.schema.json (ParseResults validates its result against it).
 */
export type MapJobResult = GeneratedMapJobResult;

/**
 * RunQueries' event, as the ASL's Parameters build it: generated from
 * schemas/run-queries-event.schema.json. The job list pointer says where the job list and each job's
 * result are (the results are read from S3, never from the state).
 */
export type SummarizeRunEvent = GeneratedSummarizeRunEvent;

/**
 * The execution's output (RunQueries' result in the state) and, with `resultFiles`, the content of
 * `runs/<runId>/summary.json`. The file list grows with the number of jobs, so it stays out of the state.
 * Generated from schemas/run-summary.schema.json (the Lambda validates its result against it).
 */
export type RunSummary = GeneratedRunSummary;

/**
 * Runs the run's named queries over its registered results, then writes the run summary and a
 * self-contained report.html next to the run, and last commits the run's attempt (deleting the attempts
 * it replaced: until now a failure would have switched the run back to them). The report's own queries run whatever the request asked
 * for; the summary lists only the requested ones. Record counts come from ParseResults, which checked
 * every input record has its prediction.
 */
export async function summarizeRun(
  event: SummarizeRunEvent,
  deps: {
    store: ObjectStore;
    queryEngine: QueryEngine;
    loadQuery: (name: string) => Promise<string>;
    now?: () => Date;
    /** How the user knows a URI (locally: the file's path); the report shows that. Default: the URI. */
    displayUri?: (uri: string) => string;
    /** How many queries run at once, and who is told as each starts and ends (the local CLI). */
    queries?: RunQueriesOptions;
  },
): Promise<RunSummary> {
  // Saved with its defaults by BuildManifest; applying them again (idempotent) also reads a run saved
  // before the defaults were.
  const saved = await readJson<RunRequest>(deps.store, joinS3Uri(event.runPrefix, 'request.json'));
  const request = saved === undefined ? undefined : applyRunDefaults(saved);
  const jobResults = await readJobResults(deps.store, event.jobList.resultsPrefix, event.jobList.jobs);
  // The planned jobs (instance types and counts for the cost basis) are in the attempt's job list.
  const plannedJobs =
    (await readJson<Partial<JobListItem>[]>(
      deps.store,
      `s3://${event.jobList.bucket}/${event.jobList.key}`,
    )) ?? [];
  const names = [...new Set([...event.queries, ...reportQueriesFor(request, jobResults)])];
  const baselineRunId = request?.results?.baselineRunId;
  const results = await runNamedQueries(
    {
      runId: event.runId,
      table: event.table.table,
      queries: names,
      ...(baselineRunId ? { baselineRunId } : {}),
    },
    { queryEngine: deps.queryEngine, loadQuery: deps.loadQuery, ...deps.queries },
  );
  const summaryUri = joinS3Uri(event.runPrefix, 'summary.json');
  const reportUri = joinS3Uri(event.runPrefix, 'report.html');
  const completion = completionStatistics(
    jobResults,
    plannedJobs.flatMap((j) => (j.transformRequest ? [j.transformRequest as JobResources] : [])),
    request?.results?.pricePerHour,
  );
  const table = `${event.table.database}.${event.table.table}`;
  const empty = { columns: [], rows: [] };
  const display = deps.displayUri ?? ((uri: string) => uri);
  const partitions = uniquePartitions(jobResults);
  // One time for both: the summary states it, so a summary put back later still says when the run
  // finished (the file's own time then says when it was put back).
  const finishedAt = (deps.now ?? (() => new Date()))().toISOString();

  const report = renderRunReport({
    runId: event.runId,
    runDate: event.runDate,
    executionName: event.executionName,
    startedAt: event.executionStartTime,
    finishedAt,
    request,
    table,
    completion,
    queries: results,
    paths: {
      ...(request?.input ? { input: display(request.input) } : {}),
      results: partitions.map((p) => display(p.location)),
      summary: display(summaryUri),
      report: display(reportUri),
    },
  });
  // Until the commit below a failure switches the run back: the published report and summary this
  // overwrites must then be put back, so a copy is kept first.
  await keepReplacedRunFiles(deps.store, event.runPrefix, attemptIdFor(event.executionName));
  await deps.store.put(reportUri, report, { contentType: 'text/html; charset=utf-8' });

  const resultFiles = jobResults.flatMap((j) => j.files);
  const summary: RunSummary = {
    runId: event.runId,
    runDate: event.runDate,
    status: 'SUCCEEDED',
    finishedAt,
    recordsIn: completion.recordsIn,
    recordsOut: completion.recordsOut,
    jobs: jobResults.length,
    table,
    partitions,
    resultFileCount: resultFiles.length,
    queries: Object.fromEntries(event.queries.map((name) => [name, results[name] ?? empty])),
    completion: {
      recordsFailed: completion.recordsFailed,
      billableSeconds: completion.billableSeconds,
      ...(completion.pricePerHour !== undefined ? { pricePerHour: completion.pricePerHour } : {}),
      ...(completion.cost !== undefined ? { cost: completion.cost } : {}),
    },
    summaryUri,
    reportUri,
  };
  await deps.store.put(summaryUri, JSON.stringify({ ...summary, resultFiles }, null, 2), {
    contentType: 'application/json',
  });
  // Last: the run has succeeded, so its attempt becomes final and the attempts it replaced go. Never
  // throws (what it cannot delete, the next successful run of the id does).
  const cleanup = await commitAttempt(deps.store, event.runPrefix, attemptIdFor(event.executionName));
  return { ...summary, earlierAttempts: cleanup };
}

/**
 * The report's queries this run needs: each reads the results again on Athena (billed by bytes
 * scanned), so the variant queries are left out for a run of one variant and the evaluation for a run
 * without a true-outcome column (the report says why those sections are empty).
 */
function reportQueriesFor(request: RunRequest | undefined, jobs: readonly MapJobResult[]): string[] {
  const variants = new Set(jobs.map((j) => j.variant)).size;
  return REPORT_QUERIES.filter((name) => {
    if (name.startsWith('variant-')) return variants > 1;
    if (name === 'evaluation') return request?.results?.actualColumn !== undefined;
    return true;
  });
}

/** A JSON file BuildManifest saved for the run (request.json, plan.json), or undefined when absent. */
async function readJson<T>(store: ObjectStore, uri: string): Promise<T | undefined> {
  if (!(await store.head(uri))) return undefined;
  return JSON.parse(Buffer.from(await store.getBytes(uri)).toString('utf8')) as T;
}

/** Shards of one variant share a partition: each partition once, in first-seen order. */
export function uniquePartitions(jobResults: readonly JobResult[]): PartitionDefinition[] {
  const seen = new Map<string, PartitionDefinition>();
  for (const { partition } of jobResults) {
    if (!seen.has(partition.location)) seen.set(partition.location, partition);
  }
  return [...seen.values()];
}
