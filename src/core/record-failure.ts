import type {
  FailureRecord as GeneratedFailureRecord,
  RecordFailureEvent as GeneratedRecordFailureEvent,
} from '../generated/schema-types.js';
import type { Catalog, ObjectStore } from '../ports.js';
import { runIdFromExecutionName } from './build-manifest.js';
import { deleteAttemptResults } from './build-manifest-cleanup.js';
import { firstFailedJob, type JobListItem, type JobListPointer } from './job-results.js';
import {
  PUBLISHED_MARKER,
  type RestoredRunFiles,
  type RollbackOutcome,
  restoreReplacedRunFiles,
  rollBackAttempt,
} from './register-table-commit.js';
import {
  ATTEMPT_PLAN,
  attemptIdFor,
  attemptOf,
  attemptScratchPrefix,
  REGISTERING_MARKER,
} from './run-attempt.js';
import { isRunId } from './run-id.js';
import { type FailureReportInput, renderFailureReport } from './run-report-failure.js';
import type { RunRequest } from './run-request.js';
import { joinS3Uri } from './s3-uri.js';

/**
 * RecordFailure's event: the execution's name and its whole state at the Catch (whatever the failed state
 * had, plus failedState and failure). Generated from schemas/record-failure-event.schema.json, which
 * lists every field read here; the ones that may come from a raw request are any JSON value.
 */
export type RecordFailureEvent = GeneratedRecordFailureEvent;

/**
 * runs/<runId>/failure.json, RecordFailure's result: generated from schemas/failure-record.schema.json
 * (the Lambda validates its result against that schema), where each field's meaning is written.
 */
export type FailureRecord = GeneratedFailureRecord;

/**
 * The failure report's name when an earlier attempt of the run id is published: `report.html` and
 * `summary.json` stay those of the published results, and the failed attempt's report sits beside them.
 */
export const FAILURE_REPORT = 'failure-report.html';

/**
 * Writes `runs/<runId>/failure.json` for a failed execution, so the reason sits next to the run's
 * other files, and returns it. Its report goes to `runs/<runId>/report.html` when nothing of the run
 * id is published (a first run that failed), and to {@link FAILURE_REPORT} beside the published run's
 * report and summary when an earlier attempt succeeded: a failed re-run never replaces them. Causes
 * come in several shapes (a Lambda error's JSON, a failed DescribeTransformJob as JSON, plain text);
 * the message is dug out of whichever it is.
 *
 * First takes the failed attempt back, best effort: when it reached RegisterTable's switch (a step after
 * it failed), the run's partitions are switched back to the ones the attempt replaced, recorded in its
 * registering marker (`rollBackAttempt`), and the published report.html and summary.json are put back
 * if RunQueries had already written the attempt's over them (a first run's own are deleted: it had
 * none before), so a failed run publishes nothing and the previous results, report and summary are as
 * they were. Then its result files and its scratch (manifests, `.out` outputs) are deleted, unless the
 * catalog may still point at them. Whatever this misses (a killed process never gets here) the next run
 * of the id deletes in BuildManifest.
 */
export async function recordFailure(
  event: RecordFailureEvent,
  deps: {
    store: ObjectStore;
    bucket: string;
    now: () => Date;
    displayUri?: (uri: string) => string;
    /** The catalog an attempt that reached RegisterTable's switch is switched back in. */
    catalog?: Catalog;
    /**
     * Puts a message in the user's own terms (locally: the CLI's paths, line numbers and column
     * names, as the terminal prints it), applied to the message and to every string of the causes, so
     * that failure.json names the input as the terminal does. None on AWS, where the input is the
     * user's own S3 object, read whole.
     */
    userText?: (text: string) => string;
  },
): Promise<FailureRecord> {
  const { state, executionName } = event;
  // A request that failed its schema may carry any runId (even "../x"): only a valid one names a folder.
  const nested =
    typeof state.request === 'object' && !Array.isArray(state.request) ? state.request?.runId : undefined;
  const runId = [state.runId, nested].find(isRunId) ?? runIdFromExecutionName(executionName);
  const failedJob = await mapRunFailure(state, deps.store);
  const inUserTerms = (text: string) => (deps.userText ? rewriteCause(text, safely(deps.userText)) : text);
  const cause = inUserTerms(failedJob?.cause ?? state.failure?.Cause ?? '');
  const runPrefix = `s3://${deps.bucket}/runs/${runId}/`;
  const uri = joinS3Uri(runPrefix, 'failure.json');
  // Read before the attempt is taken back: the plan's job list lives in the attempt's scratch.
  const planned = await readPlannedJobs(deps.store, runPrefix);
  // After reading the Map Run's failure (it lives in the attempt's scratch, which this cleans).
  const { attempt } = await takeBackFailedAttempt(deps, runPrefix, attemptIdFor(executionName));
  // Read once the attempt is taken back, which puts back a published summary (and report) the failed
  // attempt had written over: the summary then says which attempt published it.
  const published = await hasPublishedSummary(deps.store, runPrefix, attemptIdFor(executionName));
  const reportUri = joinS3Uri(runPrefix, published ? FAILURE_REPORT : 'report.html');
  const record: FailureRecord = {
    runId,
    executionName,
    failedState: state.failedState ?? 'unknown',
    error: failedJob?.error ?? state.failure?.Error ?? 'unknown',
    message: failureMessage(cause),
    cause,
    recordedAt: deps.now().toISOString(),
    uri,
    reportUri,
    ...(published ? { publishedReportUri: joinS3Uri(runPrefix, 'report.html') } : {}),
    ...(failedJob
      ? {
          mapRun: {
            error: state.failure?.Error ?? 'unknown',
            cause: inUserTerms(state.failure?.Cause ?? ''),
            ...(failedJob.job?.variant ? { variant: failedJob.job.variant } : {}),
            ...(failedJob.job?.shardId ? { shardId: failedJob.job.shardId } : {}),
            ...(failedJob.job?.transformRequest?.TransformJobName
              ? { transformJobName: failedJob.job.transformRequest.TransformJobName }
              : {}),
          },
        }
      : {}),
    attempt,
  };
  await deps.store.put(uri, JSON.stringify(record, null, 2), { contentType: 'application/json' });
  await writeFailureReport(record, planned, deps);
  return record;
}

/**
 * Whether `runs/<runId>/summary.json` describes published results: another attempt's (it succeeded),
 * or this attempt's once it committed (a failure reported after the commit). Their report and summary
 * must stay. A summary this attempt wrote before failing, uncommitted, does not count: the report
 * beside it was this attempt's already, and its results are taken back. A summary that cannot be read
 * (S3 failing) counts as published: the report beside it is then kept, whatever it describes.
 */
async function hasPublishedSummary(
  store: ObjectStore,
  runPrefix: string,
  attemptId: string,
): Promise<boolean> {
  const summary = await readJson<{ partitions?: { location?: string }[] }>(
    store,
    joinS3Uri(runPrefix, 'summary.json'),
  ).catch(() => 'unreadable' as const);
  if (summary === 'unreadable') return true;
  if (!summary) return false;
  const attempts = (summary.partitions ?? []).map((p) => attemptOf(p.location ?? ''));
  if (!attempts.includes(attemptId)) return true;
  return (
    (await store.head(joinS3Uri(attemptScratchPrefix(runPrefix, attemptId), PUBLISHED_MARKER))) !== undefined
  );
}

/** The run's plan as the failure report shows it: its transform jobs, or only how many it planned. */
interface PlannedJobs {
  /** Whether runs/<runId>/plan.json was there: BuildManifest got that far. */
  planned: boolean;
  /** How many jobs the plan says, when its job list could not be read. */
  count?: number;
  jobs: FailureReportInput['plannedJobs'];
}

/**
 * The planned jobs, from the job list the plan points to. Read before the attempt is taken back: the
 * job list is in the attempt's scratch, which that deletes (the report would otherwise say the run
 * failed before its jobs were planned, though plan.json beside it lists them).
 */
async function readPlannedJobs(store: ObjectStore, runPrefix: string): Promise<PlannedJobs> {
  try {
    const plan = await readJson<{ jobList?: JobListPointer }>(store, joinS3Uri(runPrefix, 'plan.json'));
    if (!plan) return { planned: false, jobs: [] };
    const jobs = plan.jobList
      ? await readJson<Partial<JobListItem>[]>(store, `s3://${plan.jobList.bucket}/${plan.jobList.key}`)
      : undefined;
    return {
      planned: true,
      ...(typeof plan.jobList?.jobs === 'number' ? { count: plan.jobList.jobs } : {}),
      jobs: (Array.isArray(jobs) ? jobs : []).map((j) => ({
        variant: j.variant ?? '',
        shardId: j.shardId ?? '',
        jobName: j.transformRequest?.TransformJobName ?? '',
        ...(j.transformRequest?.TransformResources?.InstanceType
          ? { instanceType: j.transformRequest.TransformResources.InstanceType }
          : {}),
        ...(j.transformRequest?.TransformResources?.InstanceCount
          ? { instanceCount: j.transformRequest.TransformResources.InstanceCount }
          : {}),
      })),
    };
  } catch {
    // The report is written whatever happens: without the plan's jobs when they cannot be read.
    return { planned: false, jobs: [] };
  }
}

/**
 * Writes the failed run's report at `record.reportUri` (report.html, or failure-report.html beside a
 * published run's report). The request and plan are shown when they can be read: a run may fail
 * because its request was not even valid JSON.
 */
async function writeFailureReport(
  record: FailureRecord,
  planned: PlannedJobs,
  deps: { store: ObjectStore; bucket: string; displayUri?: (uri: string) => string },
): Promise<void> {
  const runPrefix = `s3://${deps.bucket}/runs/${record.runId}/`;
  const display = deps.displayUri ?? ((u: string) => u);
  const request = await readJson<RunRequest>(deps.store, joinS3Uri(runPrefix, 'request.json'));
  const html = renderFailureReport({
    runId: record.runId,
    executionName: record.executionName,
    failedState: record.failedState,
    error: record.error,
    message: record.message,
    cause: record.cause,
    recordedAt: record.recordedAt,
    failureUri: display(record.uri),
    ...(record.publishedReportUri ? { publishedReportUri: display(record.publishedReportUri) } : {}),
    request,
    ...(typeof request?.input === 'string' ? { input: display(request.input) } : {}),
    planned: planned.planned,
    ...(planned.count !== undefined ? { plannedCount: planned.count } : {}),
    plannedJobs: planned.jobs,
  });
  await deps.store.put(record.reportUri, html, {
    contentType: 'text/html; charset=utf-8',
  });
}

/**
 * The first failed job of a Distributed Map that failed as a whole, read from its ResultWriter files;
 * undefined for any other failure, or when the files cannot be read (the Map's own error then stands).
 */
async function mapRunFailure(state: RecordFailureEvent['state'], store: ObjectStore) {
  if (state.failure?.Error !== 'States.ExceedToleratedFailureThreshold' || !state.jobList) return undefined;
  try {
    // The Map's failure leaves the plan's state, so jobList is the plan's (checked by its schema then).
    return await firstFailedJob(store, state.jobList as JobListPointer);
  } catch {
    return undefined;
  }
}

/** A run file as JSON, or undefined when it is absent or not JSON (the report then leaves it out). */
async function readJson<T>(store: ObjectStore, uri: string): Promise<T | undefined> {
  if (!(await store.head(uri))) return undefined;
  const text = Buffer.from(await store.getBytes(uri)).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** What {@link takeBackFailedAttempt} did: the failure record's account, and the rollback's outcome. */
export interface TakenBackAttempt {
  attempt: FailureRecord['attempt'];
  /** Present when the attempt had reached RegisterTable's switch (it had a registering marker). */
  rollback?: RollbackOutcome;
}

/**
 * Takes a failed attempt back, best effort and never throwing: when it reached RegisterTable's switch
 * (registering marker), the catalog is first switched back to the partitions it replaced
 * ({@link rollBackAttempt}), and the run's report.html and summary.json are put back if its RunQueries
 * had written over them, or deleted where it wrote the run's first ({@link restoreReplacedRunFiles});
 * then its result files and scratch are deleted, unless the catalog may still point at them (published,
 * or the switch back failed, or no catalog was given: kept).
 *
 * RecordFailure calls it for its execution's attempt; the local pipeline calls it, when it opens a home
 * for a run, for an attempt whose process was killed after the switch (nothing ran its RecordFailure).
 */
export async function takeBackFailedAttempt(
  deps: { store: ObjectStore; catalog?: Catalog },
  runPrefix: string,
  attemptId: string,
): Promise<TakenBackAttempt> {
  const { store } = deps;
  const scratch = attemptScratchPrefix(runPrefix, attemptId);
  let deletedObjects = 0;
  let catalog: string | undefined;
  let rollback: RollbackOutcome | undefined;
  const taken = (attempt: Omit<FailureRecord['attempt'], 'attemptId' | 'deletedObjects' | 'catalog'>) => ({
    attempt: { attemptId, ...attempt, deletedObjects, ...(catalog ? { catalog } : {}) },
    ...(rollback ? { rollback } : {}),
  });
  try {
    if (await store.head(joinS3Uri(scratch, REGISTERING_MARKER))) {
      if (!deps.catalog) {
        catalog = 'not switched back: no catalog';
        return taken({ files: 'kept' });
      }
      rollback = await rollBackAttempt({ store, catalog: deps.catalog }, runPrefix, attemptId);
      catalog = describeRollback(rollback);
      if (rollback.state === 'published' || rollback.state === 'failed') return taken({ files: 'kept' });
      // Only when this attempt's switch was the one undone: a superseding attempt owns the run's files.
      if (rollback.state === 'rolled back') {
        const restored = await restoreReplacedRunFiles(store, runPrefix, attemptId);
        if (restored) catalog = `${catalog}${describeRestore(restored)}`;
      }
    }
    await deleteAttemptResults(store, scratch, attemptId);
    const planUri = joinS3Uri(scratch, ATTEMPT_PLAN);
    const objects: string[] = [];
    for await (const object of store.list(scratch)) if (object.uri !== planUri) objects.push(object.uri);
    for (const object of objects) {
      await store.delete(object);
      deletedObjects += 1;
    }
    // The plan last: it is what lets the next run find this attempt's result files.
    await store.delete(planUri);
    return taken({ files: 'cleaned' });
  } catch (error) {
    return taken({ files: `not cleaned: ${(error as Error).message}` });
  }
}

/**
 * What was done to the run's report.html and summary.json, appended to the catalog's sentence: put
 * back (a published run's), or removed (the attempt's own, where the run had none: a first run).
 */
function describeRestore({ putBack, removed }: RestoredRunFiles): string {
  const files = (names: string[]) => `${names.join(' and ')} ${names.length > 1 ? 'were' : 'was'}`;
  return [
    ...(putBack.length > 0 ? [`; the run's ${files(putBack)} put back`] : []),
    ...(removed.length > 0 ? [`; this attempt's ${files(removed)} removed`] : []),
  ].join('');
}

/** The failure record's sentence for what was done to the catalog. */
function describeRollback(outcome: RollbackOutcome): string {
  switch (outcome.state) {
    case 'rolled back':
      return outcome.restored.some((t) => t.partitions > 0)
        ? `switched back to the partitions the run had before (${outcome.restored.map((t) => `${t.table}: ${t.partitions}`).join(', ')})`
        : 'the run had no partitions before: the partitions of this attempt were removed';
    case 'superseded':
      return 'left as it is: another execution of the run id switched the run since';
    case 'published':
      return 'kept: the run had already succeeded with this attempt';
    case 'failed':
      return `not switched back (${outcome.reason}): the attempt may still be published; run the request again`;
    case 'unregistered':
      return 'never switched';
  }
}

/**
 * A cause with `rewrite` applied to its text: to each string inside it when it is JSON (a job
 * description, a Lambda's error, a Map's failure holding its job's cause as a string of JSON), so that
 * the JSON stays valid whatever the rewrite inserts; to the whole text otherwise.
 */
export function rewriteCause(cause: string, rewrite: (text: string) => string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(cause);
  } catch {
    return rewrite(cause);
  }
  if (parsed === null || typeof parsed !== 'object') return rewrite(cause);
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return rewriteCause(value, rewrite);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, walk(v)]));
    return value;
  };
  return JSON.stringify(walk(parsed));
}

/** A rewrite that leaves the text as it was when it throws: a failure is recorded whatever happens. */
function safely(rewrite: (text: string) => string): (text: string) => string {
  return (text) => {
    try {
      return rewrite(text);
    } catch {
      return text;
    }
  };
}

/** Extracts the human sentence from a Step Functions error cause. */
export function failureMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as Record<string, unknown>;
    for (const key of ['errorMessage', 'FailureReason', 'message', 'Message']) {
      if (typeof parsed[key] === 'string') return parsed[key];
    }
  } catch {
    // Not JSON: the cause is the message.
  }
  return cause;
}
