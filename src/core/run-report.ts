import type { QueryRow } from '../ports.js';
import type { CompletionStatistics } from './completion.js';
import type { ResolvedRunRequest } from './run-defaults.js';
import {
  count,
  duration,
  esc,
  fixed,
  legend,
  matrix,
  num,
  overlaidHistogramSvg,
  percent,
  readable,
  reportPage,
  table,
} from './run-report-html.js';
import {
  scoreMeaning,
  scoreName,
  thresholdMarker,
  thresholdOf,
  type VariantScores,
  variantScores,
} from './run-report-scores.js';

/** A named query's answer. */
export interface ReportQueryResult {
  columns: string[];
  rows: QueryRow[];
}

/** What one run's report shows. Everything comes from the run's own files and queries. */
export interface RunReportInput {
  runId: string;
  runDate: string;
  executionName: string;
  startedAt: string;
  finishedAt: string;
  /** The request as run (request.json, defaults applied), or undefined when it was not saved. */
  request: ResolvedRunRequest | undefined;
  /** `database.table` */
  table: string;
  completion: CompletionStatistics;
  /** Answers of {@link REPORT_QUERIES} (and any other query the run asked for), by query name. */
  queries: Record<string, ReportQueryResult>;
  /** Places as the user knows them (local paths on one machine, S3 URIs on AWS). */
  paths?: { input?: string; results?: string[]; summary?: string; report?: string };
}

/** The queries a report needs, run for every run whatever the request's own `queries` are. */
export const REPORT_QUERIES = [
  'summary',
  'label-counts',
  'score-histogram',
  'variant-comparison',
  'variant-agreement',
  'variant-disagreements',
  'evaluation',
  'drift',
  'feature-statistics',
] as const;

/** PSI above this flags a feature as drifted (the usual rule of thumb: 0.1-0.2 moderate, over 0.2 major). */
export const DRIFT_PSI = 0.2;

/**
 * Renders a run's report as one self-contained HTML page: inline CSS and SVG, no scripts, no external
 * resources, so it opens offline, from S3 or from disk, and can be mailed as is.
 */
export function renderRunReport(input: RunReportInput): string {
  const rows = (name: string) => input.queries[name]?.rows ?? [];
  const variants = [...new Set(input.completion.jobs.map((j) => j.variant))];
  const scores = variants.map((v) => variantScores(v, input));
  const seconds = (Date.parse(input.finishedAt) - Date.parse(input.startedAt)) / 1000;
  const c = input.completion;
  const marker = thresholdMarker(scores, input.request);
  return reportPage(
    `Run ${esc(input.runId)} report`,
    `<h1>Run ${esc(input.runId)}</h1>
<p class="meta"><span class="ok">SUCCEEDED</span> · run date ${esc(input.runDate)} · execution ${esc(input.executionName)}</p>
<div class="cards">
<div class="card">Records in<b id="records-in">${count(c.recordsIn)}</b></div>
<div class="card">Records out<b id="records-out">${count(c.recordsOut)}</b></div>
<div class="card">Records failed<b id="records-failed">${count(c.recordsFailed)}</b></div>
<div class="card">Transform jobs<b>${count(c.jobs.length)}</b></div>
<div class="card">Duration<b>${Number.isFinite(seconds) ? duration(seconds) : '?'}</b></div>
<div class="card">Billable<b id="billable">${count(Math.round(c.billableSeconds))} instance-s</b>${c.cost !== undefined ? `<span id="cost">${fixed(c.cost, 2)} at ${fixed(c.pricePerHour, 2)}/h</span>` : ''}</div>
</div>

<h2 id="scores">Scores</h2>
${scores.map((s) => `<p class="explain" id="score-meaning-${esc(s.variant)}"><b>${esc(s.variant)}</b>: ${scoreMeaning(s, input.request)}</p>`).join('\n')}
<figure>
${legend(variants)}
${overlaidHistogramSvg(variants, rows('score-histogram'), {
  threshold: marker.at,
  label: `Score distribution of ${variants.join(', ')}`,
})}
<figcaption>Records per score bucket, every variant on the same buckets. Scores: ${scores.map((s) => `${esc(s.variant)}: ${esc(scoreName(s, input.request))}`).join('; ')}${marker.caption}.</figcaption>
</figure>
${variants.map((v) => labelSection(v, rows('label-counts'))).join('\n')}

<h2 id="evaluation">Evaluation against the true outcome</h2>
${evaluationSection(scores, rows('evaluation'), input.request)}

<h2 id="drift">Drift against the baseline</h2>
${driftSection(variants, rows('drift'), input.table)}

<h2 id="variants">Variant comparison</h2>
${variantSection(input)}

<h2 id="completion">Completion and cost basis</h2>
${completionSection(c)}

<h2 id="features">Feature statistics</h2>
${featureSection(variants, rows('feature-statistics'))}

<h2 id="parameters">Parameters</h2>
${table(['Parameter', 'Value'], parameters(input, scores))}
<p class="meta">Started ${esc(input.startedAt)} · finished ${esc(input.finishedAt)}</p>

<h2>Summary query</h2>
${summaryTable(input.queries.summary)}
`,
  );
}

function labelSection(variant: string, labelCounts: readonly QueryRow[]): string {
  const rows = labelCounts.filter((r) => r.variant === variant && r.label !== null);
  if (rows.length === 0) return '';
  return `<h3>Labels of ${esc(variant)}</h3>
${table(
  ['Label', 'Records', 'Share'],
  rows.map((r) => [String(r.label), num(count(r.records)), num(percent(r.share))]),
  { id: `labels-${variant}` },
)}`;
}

const METRIC_NAMES: Record<string, string> = {
  accuracy: 'Accuracy',
  precision: 'Precision (of the positive class)',
  recall: 'Recall (of the positive class)',
  f1: 'F1',
  roc_auc: 'ROC AUC',
  log_loss: 'Log loss',
  mae: 'Mean absolute error',
  rmse: 'Root mean squared error',
  r2: 'R²',
};

/** Binary scores that are not between 0 and 1 as class odds: log loss, which reads them so, means nothing. */
const NO_LOG_LOSS: ReadonlySet<string> = new Set(['margin', 'class']);

function evaluationSection(
  scores: readonly VariantScores[],
  evaluation: readonly QueryRow[],
  request: ResolvedRunRequest | undefined,
): string {
  if (evaluation.length === 0) {
    return request?.results?.actualColumn
      ? `<p class="meta">No record had a true outcome in the column ${esc(request.results.actualColumn)}.</p>`
      : '<p class="meta">No true outcome for this run. Name the column that holds it with <code>--actual-column NAME</code> (request field <code>results.actualColumn</code>) to measure the model here.</p>';
  }
  return scores
    .map(({ variant, scoreKind, threshold, objective }) => {
      const rows = evaluation.filter((r) => r.variant === variant);
      if (rows.length === 0) return '';
      const onMargin = scoreKind === 'margin' ? `; on the margin, ${readable(threshold)}` : '';
      const cells = rows.filter((r) => r.metric === 'count');
      const figures = rows.filter((r) => r.metric !== 'count');
      const measured = figures[0]?.records;
      return `<h3>${esc(variant)} (${esc(String(rows[0]?.model_kind))}, ${count(measured)} records with a true outcome)</h3>
${cells.length > 0 ? `<p class="meta">Confusion matrix: true class down, predicted class across${rows[0]?.model_kind === 'binary' ? ` (at the threshold ${esc(readable(thresholdOf(request)))}${esc(onMargin)})` : ''}.</p>\n${matrix(cells, { row: 'actual_class', column: 'predicted_class', value: 'value' }, { corner: 'true \\ predicted' }, `confusion-${variant}`)}` : ''}
${table(
  ['Metric', 'Value'],
  figures.map((r) => [
    METRIC_NAMES[String(r.metric)] ?? String(r.metric),
    r.metric === 'log_loss' && NO_LOG_LOSS.has(scoreKind)
      ? `n/a for ${objective}`
      : num(r.value === null ? 'n/a' : fixed(r.value, 4)),
  ]),
  { id: `metrics-${variant}` },
)}`;
    })
    .join('\n');
}

function driftSection(variants: string[], drift: readonly QueryRow[], tableName: string): string {
  if (drift.length === 0) {
    return `<p class="meta">No baseline: no earlier run of ${esc(tableName)} for these variants (or the baseline named has no statistics). The next run will be compared with this one.</p>`;
  }
  return variants
    .map((variant) => {
      const rows = drift.filter((r) => r.variant === variant);
      if (rows.length === 0) return `<p class="meta">${esc(variant)}: no baseline run.</p>`;
      const flagged = rows.filter((r) => typeof r.psi === 'number' && r.psi > DRIFT_PSI);
      const sorted = [...rows].sort((a, b) => Number(b.psi ?? -1) - Number(a.psi ?? -1));
      return `<h3>${esc(variant)} against run ${esc(String(rows[0]?.baseline_run_id))}</h3>
<p id="drift-summary-${esc(variant)}" class="${flagged.length > 0 ? 'bad' : 'ok'}">${flagged.length === 0 ? `No feature moved: every PSI is at most ${DRIFT_PSI}.` : `${count(flagged.length)} of ${count(rows.length)} drifted (PSI over ${DRIFT_PSI}): ${esc(flagged.map((r) => String(r.feature)).join(', '))}.`}</p>
<table id="drift-${esc(variant)}"><thead><tr><th>Feature</th><th>PSI</th><th></th><th>Missing (baseline → now)</th><th>Change</th><th>Mean (baseline → now)</th></tr></thead><tbody>
${sorted
  .map((r) => {
    const drifted = typeof r.psi === 'number' && r.psi > DRIFT_PSI;
    return `<tr${drifted ? ' class="drifted"' : ''}><td>${esc(String(r.feature))}</td><td class="n">${fixed(r.psi, 4)}</td><td>${drifted ? '<span class="flag">drifted</span>' : ''}</td><td class="n">${percent(r.baseline_missing_rate)} → ${percent(r.missing_rate)}</td><td class="n">${signedPercent(r.missing_rate_change)}</td><td class="n">${readable(r.baseline_mean)} → ${readable(r.mean)}</td></tr>`;
  })
  .join('\n')}
</tbody></table>`;
    })
    .join('\n');
}

function signedPercent(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  const points = value * 100;
  return `${points > 0 ? '+' : ''}${points.toFixed(1)} pt`;
}

function variantSection(input: RunReportInput): string {
  const comparison = input.queries['variant-comparison']?.rows ?? [];
  if (comparison.length === 0)
    return '<p class="meta">One model variant in this run: nothing to compare.</p>';
  const agreement = input.queries['variant-agreement']?.rows ?? [];
  const disagreements = input.queries['variant-disagreements']?.rows ?? [];
  return `${table(
    ['Variant A', 'Variant B', 'Records', 'Label agreement', 'Mean |score diff|', 'Max |score diff|'],
    comparison.map((r) => [
      String(r.variant_a),
      String(r.variant_b),
      num(count(r.records)),
      num(percent(r.label_agreement)),
      num(fixed(r.mean_abs_score_diff)),
      num(fixed(r.max_abs_score_diff)),
    ]),
    { id: 'comparison' },
  )}
${comparison
  .map((pair) => {
    const a = String(pair.variant_a);
    const b = String(pair.variant_b);
    const cells = agreement.filter((r) => r.variant_a === a && r.variant_b === b);
    const top = disagreements.filter((r) => r.variant_a === a && r.variant_b === b);
    return `<h3>${esc(a)} against ${esc(b)}</h3>
<p class="meta">Agreement matrix: label from ${esc(a)} down, from ${esc(b)} across; the diagonal is where they agree.</p>
${matrix(cells, { row: 'label_a', column: 'label_b', value: 'records' }, { corner: `${a} \\ ${b}` }, `agreement-${a}-${b}`)}
<p class="meta">The ${count(top.length)} records where the scores differ most:</p>
${table(
  ['#', 'Id', 'Source', 'Record', `Score ${a}`, `Score ${b}`, '|Difference|', `Label ${a}`, `Label ${b}`],
  top.map((r) => [
    num(count(r.rank)),
    r.id === null ? '' : String(r.id),
    String(r.source),
    num(count(r.record)),
    num(readable(r.score_a)),
    num(readable(r.score_b)),
    num(readable(r.score_diff)),
    r.label_a === null ? '' : String(r.label_a),
    r.label_b === null ? '' : String(r.label_b),
  ]),
  { id: `disagreements-${a}-${b}` },
)}`;
  })
  .join('\n')}`;
}

function completionSection(c: CompletionStatistics): string {
  const money = c.pricePerHour !== undefined;
  const headers = [
    'Transform job',
    'Variant',
    'Shard',
    'Records in',
    'Records out',
    'Failed',
    'Instance type',
    'Instances',
    'Transform time',
    'Billable instance-seconds',
    ...(money ? ['Cost'] : []),
  ];
  const body = c.jobs.map((j) => [
    j.jobName,
    j.variant,
    j.shardId,
    num(count(j.recordsIn)),
    num(count(j.recordsOut)),
    num(count(j.recordsFailed)),
    j.instanceType ?? '',
    num(count(j.instanceCount)),
    num(duration(j.seconds)),
    num(j.billableSeconds === undefined ? '' : fixed(j.billableSeconds, 1)),
    ...(money ? [num(fixed(j.cost, 2))] : []),
  ]);
  const foot = [
    'Total',
    '',
    '',
    num(count(c.recordsIn)),
    num(count(c.recordsOut)),
    num(count(c.recordsFailed)),
    '',
    '',
    '',
    num(fixed(c.billableSeconds, 1)),
    ...(money ? [num(fixed(c.cost, 2))] : []),
  ];
  const note = money
    ? `Cost = billable instance-seconds × ${fixed(c.pricePerHour, 2)} per instance-hour (the price given with the run) ÷ 3,600.`
    : 'Billable seconds run from TransformStartTime to TransformEndTime, times the instance count. Give <code>--price-per-hour</code> (request field <code>results.pricePerHour</code>) to turn them into money; no price table is built in.';
  return `${table(headers, body, { id: 'completion-jobs', foot })}
<p class="meta">${note}${c.jobsWithoutTimes > 0 ? ` ${count(c.jobsWithoutTimes)} job(s) reported no start or end time and are left out of the sum.` : ''}</p>`;
}

function featureSection(variants: string[], stats: readonly QueryRow[]): string {
  if (stats.length === 0) return '<p class="meta">No statistics were recorded for this run.</p>';
  return variants
    .map((variant) => {
      const rows = stats.filter((r) => r.variant === variant);
      if (rows.length === 0) return '';
      return `<h3>${esc(variant)}</h3>
${table(
  ['Feature', 'Rows', 'Missing', 'Mean', 'Std', 'Min', 'Max'],
  rows.map((r) => [
    String(r.feature),
    num(count(r.records)),
    num(`${count(r.missing)} (${percent(r.missing_rate)})`),
    num(readable(r.mean)),
    num(readable(r.std)),
    num(readable(r.min_value)),
    num(readable(r.max_value)),
  ]),
  { id: `features-${variant}` },
)}`;
    })
    .join('\n');
}

function parameters(input: RunReportInput, scores: readonly VariantScores[]): [string, string][] {
  const request = input.request;
  const results = request?.results;
  const anyBinary = scores.some((s) => s.kind === 'binary');
  return [
    ['Input', input.paths?.input ?? request?.input ?? ''],
    [
      'Models',
      (request?.models ?? [])
        .map(
          (m) =>
            `${m.variant}: ${m.modelName ?? `${m.image} + ${m.modelDataUrl}`}${m.objective ? ` (${m.objective})` : ''}`,
        )
        .join('; '),
    ],
    ...Object.entries(request?.transform ?? {}).map(([k, v]): [string, string] => [
      k,
      typeof v === 'object' ? JSON.stringify(v) : String(v),
    ]),
    ...(anyBinary ? [['Threshold', thresholdText(request, scores)] as [string, string]] : []),
    ['Labels', (results?.labels ?? []).join(', ') || '(none)'],
    ...(results?.idColumn ? [['Id column', results.idColumn] as [string, string]] : []),
    ...(results?.actualColumn ? [['True outcome column', results.actualColumn] as [string, string]] : []),
    ...(results?.baselineRunId ? [['Drift baseline', results.baselineRunId] as [string, string]] : []),
    ['Results table', input.table],
    ...(input.paths?.results ?? []).map((p): [string, string] => ['Results', p]),
    ...(input.paths?.summary ? [['Summary', input.paths.summary] as [string, string]] : []),
    ...(input.paths?.report ? [['This report', input.paths.report] as [string, string]] : []),
  ];
}

function summaryTable(summary: ReportQueryResult | undefined): string {
  if (!summary) return '';
  return table(
    summary.columns,
    summary.rows.map((r) =>
      summary.columns.map((column) => {
        const value = r[column] ?? null;
        if (typeof value === 'number') return num(Number.isInteger(value) ? count(value) : fixed(value, 4));
        return value === null ? '' : String(value);
      }),
    ),
  );
}

/** The run's threshold, and where a margin variant cut its scores: "0.5 (raw: a margin of 0)". */
function thresholdText(request: ResolvedRunRequest | undefined, scores: readonly VariantScores[]): string {
  const margins = scores.filter((s) => s.kind === 'binary' && s.scoreKind === 'margin');
  const each = margins.map((s) => `${s.variant}: a margin of ${readable(s.threshold)}`).join('; ');
  return `${thresholdOf(request)}${each ? ` (${each})` : ''}`;
}
