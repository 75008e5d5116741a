import type { FailureRecord } from '../generated/schema-types.js';
import { count, esc, reportPage, table } from './run-report-html.js';
import type { RunRequest } from './run-request.js';

/** What a failed run's report shows: the failure record and what was planned. */
export interface FailureReportInput
  extends Pick<
    FailureRecord,
    'runId' | 'executionName' | 'failedState' | 'error' | 'message' | 'cause' | 'recordedAt'
  > {
  /** Where failure.json is, as the user knows it. */
  failureUri: string;
  /**
   * Where the published run's report is, as the user knows it, when an earlier attempt of the run id
   * succeeded: this page is then failure-report.html beside it.
   */
  publishedReportUri?: string;
  request: RunRequest | undefined;
  /**
   * The request's input as the user knows it (locally: the user's own file, not the pipeline's copy);
   * the request's `input` when not given.
   */
  input?: string;
  /** Whether the run had a plan (BuildManifest got that far); taken from plannedJobs when not given. */
  planned?: boolean;
  /** How many jobs the plan says, for when its job list could not be read. */
  plannedCount?: number;
  /** The plan's jobs, when BuildManifest got that far. */
  plannedJobs: {
    variant: string;
    shardId: string;
    jobName: string;
    instanceType?: string;
    instanceCount?: number;
  }[];
}

/** What each state does, in the user's words, so "failed at ParseResults" says what was going on. */
const STATE_MEANING: Record<string, string> = {
  BuildManifest: 'planning the run (listing the input, checking the request)',
  RunTransforms: 'running the transform jobs',
  CreateModel: 'creating the SageMaker model',
  ParseResults: 'joining inputs with predictions',
  RegisterTable: 'publishing the results table',
  RunQueries: 'running the queries and writing the report',
};

/**
 * Renders the report of a failed run: what failed, where, the message and the full cause, what was
 * planned, and that nothing of the run was published. Self-contained like the run report.
 */
export function renderFailureReport(input: FailureReportInput): string {
  const failedAt = Object.entries(STATE_MEANING).find(([state]) => input.failedState.startsWith(state));
  return reportPage(
    `Run ${esc(input.runId)} failed`,
    `<h1>Run ${esc(input.runId)}</h1>
<p class="meta"><span class="bad">FAILED</span> · execution ${esc(input.executionName)} · recorded ${esc(input.recordedAt)}</p>
<h2 id="failure">What failed</h2>
<p class="explain" id="failure-message">${esc(input.message || input.error)}</p>
${table(
  ['', ''],
  [
    ['Failed state', `${input.failedState}${failedAt ? ` (${failedAt[1]})` : ''}`],
    ['Error', input.error],
    ['Failure record', input.failureUri],
    ...(input.publishedReportUri ? [['Published report', input.publishedReportUri]] : []),
  ],
  { id: 'failure-facts' },
)}
${
  input.publishedReportUri
    ? `<p id="published">Nothing of this attempt was published. The run's earlier successful attempt is still published, unchanged: its rows are in the table, and its report and summary are as they were (${esc(input.publishedReportUri)}). Fix the cause and run the same command again.</p>`
    : '<p>Nothing of this run was published: its results are not in the table, and an earlier successful run of the same id keeps its results. Fix the cause and run the same command again.</p>'
}
<h2>Planned</h2>
${plannedSection(input, failedAt ? `${input.failedState} (${failedAt[1]})` : input.failedState)}
<h2>Request</h2>
${table(
  ['Parameter', 'Value'],
  [
    ['Input', input.input ?? input.request?.input ?? ''],
    [
      'Models',
      (input.request?.models ?? [])
        .map((m) => `${m.variant}: ${m.modelName ?? m.modelDataUrl ?? ''}`)
        .join('; '),
    ],
  ],
)}
<h2>Full cause</h2>
<pre id="failure-cause">${esc(input.cause)}</pre>
`,
  );
}

/**
 * What was planned, and at which step the run failed: the plan's jobs when it had a plan (the step
 * after planning failed), else that it failed while planning.
 */
function plannedSection(input: FailureReportInput, step: string): string {
  const planned = input.planned ?? input.plannedJobs.length > 0;
  if (!planned)
    return `<p class="meta" id="planned">The run failed before its jobs were planned, at ${esc(step)}.</p>`;
  if (input.plannedJobs.length === 0) {
    const jobs =
      input.plannedCount === undefined ? 'Its jobs' : `${count(input.plannedCount)} transform job(s)`;
    return `<p id="planned">${jobs} were planned; the run failed at ${esc(step)}. The plan's job list could not be read.</p>`;
  }
  const variants = [...new Set(input.plannedJobs.map((j) => j.variant))];
  return `<p id="planned">${count(input.plannedJobs.length)} transform job(s) for ${count(variants.length)} variant(s): ${esc(variants.join(', '))}. The run failed at ${esc(step)}.</p>
${table(
  ['Transform job', 'Variant', 'Shard', 'Instance type', 'Instances'],
  input.plannedJobs.map((j) => [
    j.jobName,
    j.variant,
    j.shardId,
    j.instanceType ?? '',
    String(j.instanceCount ?? 1),
  ]),
  { id: 'planned-jobs' },
)}`;
}
