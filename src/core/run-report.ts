import type { QueryRow } from '../ports.js';
import type { RunRequest } from './run-request.js';

/** What one run's report shows. Everything comes from the run's own files and queries. */
export interface RunReportInput {
  runId: string;
  runDate: string;
  executionName: string;
  startedAt: string;
  finishedAt: string;
  request: RunRequest | undefined;
  recordsIn: number;
  recordsOut: number;
  table: string;
  jobs: {
    variant: string;
    shardId: string;
    recordsIn: number;
    recordsOut: number;
    transformJob?: { TransformJobName?: string; TransformStartTime?: string; TransformEndTime?: string };
  }[];
  /** Rows of queries/score-histogram.sql, label-counts.sql, variant-comparison.sql and summary.sql. */
  histogram: QueryRow[];
  labelCounts: QueryRow[];
  comparison: QueryRow[];
  summary: { columns: string[]; rows: QueryRow[] };
}

/** The queries a report needs, run for every run whatever the request's own `queries` are. */
export const REPORT_QUERIES = ['summary', 'label-counts', 'score-histogram', 'variant-comparison'] as const;

/**
 * Renders a run's report as one self-contained HTML page: inline CSS and SVG, no scripts, no external
 * resources, so it opens offline, from S3 or from disk, and can be mailed as is.
 */
export function renderRunReport(input: RunReportInput): string {
  const variants = [...new Set(input.jobs.map((j) => j.variant))];
  const seconds = (Date.parse(input.finishedAt) - Date.parse(input.startedAt)) / 1000;
  const transform = input.request?.transform ?? {};
  const parameters: [string, string][] = [
    ['Input', input.request?.input ?? ''],
    [
      'Models',
      (input.request?.models ?? [])
        .map((m) => `${m.variant}: ${m.modelName ?? `${m.image} + ${m.modelDataUrl}`}`)
        .join('; '),
    ],
    ...Object.entries(transform).map(([k, v]): [string, string] => [
      k,
      typeof v === 'object' ? JSON.stringify(v) : String(v),
    ]),
    ['Threshold', String(input.request?.results?.threshold ?? 0.5)],
    ['Labels', (input.request?.results?.labels ?? []).join(', ') || '(none)'],
    ['Results table', input.table],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Run ${esc(input.runId)} report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;color:#1f2328}
h1{font-size:1.6rem;margin:0 0 .25rem} h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.meta{color:#57606a} .ok{color:#1a7f37;font-weight:600}
table{border-collapse:collapse;margin:.5rem 0} th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1rem;flex-wrap:wrap} .card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem} figure{margin:.5rem 0 1rem} figcaption{color:#57606a}
</style>
</head>
<body>
<h1>Run ${esc(input.runId)}</h1>
<p class="meta"><span class="ok">SUCCEEDED</span> · run date ${esc(input.runDate)} · execution ${esc(input.executionName)}</p>
<div class="cards">
<div class="card">Records in<b id="records-in">${input.recordsIn}</b></div>
<div class="card">Records out<b id="records-out">${input.recordsOut}</b></div>
<div class="card">Transform jobs<b>${input.jobs.length}</b></div>
<div class="card">Duration<b>${Number.isFinite(seconds) ? `${seconds.toFixed(1)} s` : '?'}</b></div>
</div>

<h2>Parameters</h2>
${table(['Parameter', 'Value'], parameters)}

<h2>Timings</h2>
<p class="meta">Started ${esc(input.startedAt)} · finished ${esc(input.finishedAt)}</p>
${table(
  ['Transform job', 'Variant', 'Shard', 'Records in', 'Records out', 'Transform time'],
  input.jobs.map((j) => [
    j.transformJob?.TransformJobName ?? '',
    j.variant,
    j.shardId,
    j.recordsIn,
    j.recordsOut,
    duration(j.transformJob?.TransformStartTime, j.transformJob?.TransformEndTime),
  ]),
)}

<h2>Predictions</h2>
${variants.map((variant) => variantSection(variant, input)).join('\n')}

<h2>Variant comparison</h2>
${
  input.comparison.length === 0
    ? '<p class="meta">One model variant in this run: nothing to compare.</p>'
    : table(
        ['Variant A', 'Variant B', 'Records', 'Label agreement', 'Mean |score diff|', 'Max |score diff|'],
        input.comparison.map((r) => [
          r.variant_a,
          r.variant_b,
          r.records,
          percent(r.label_agreement),
          fixed(r.mean_abs_score_diff),
          fixed(r.max_abs_score_diff),
        ]),
        'comparison',
      )
}

<h2>Summary query</h2>
${table(
  input.summary.columns,
  input.summary.rows.map((r) => input.summary.columns.map((c) => r[c] ?? null)),
)}
</body>
</html>
`;
}

function variantSection(variant: string, input: RunReportInput): string {
  const buckets = input.histogram.filter((r) => r.variant === variant);
  const labels = input.labelCounts.filter((r) => r.variant === variant);
  return `<h3>Variant ${esc(variant)}</h3>
<figure>
${histogramSvg(buckets, variant)}
<figcaption>Score distribution of variant ${esc(variant)}: records per score bucket of width 0.1.</figcaption>
</figure>
${table(
  ['Label', 'Records', 'Share'],
  labels.map((r) => [r.label ?? '(no label)', r.records, percent(r.share)]),
  `labels-${variant}`,
)}`;
}

function histogramSvg(buckets: QueryRow[], variant: string): string {
  if (buckets.length === 0) return '<p class="meta">No scores in [0, 1] (a regression model?).</p>';
  const width = 560;
  const height = 200;
  const pad = 30;
  const max = Math.max(1, ...buckets.map((b) => Number(b.records)));
  const barWidth = (width - 2 * pad) / buckets.length;
  const bars = buckets
    .map((b, i) => {
      const n = Number(b.records);
      const h = ((height - 2 * pad) * n) / max;
      const x = pad + i * barWidth;
      const y = height - pad - h;
      return `<rect x="${x + 2}" y="${y}" width="${barWidth - 4}" height="${h}" fill="#0969da"><title>${fixed(b.lower_bound, 1)}–${fixed(b.upper_bound, 1)}: ${n}</title></rect>
<text x="${x + barWidth / 2}" y="${y - 4}" text-anchor="middle" font-size="11">${n}</text>
<text x="${x + barWidth / 2}" y="${height - pad + 14}" text-anchor="middle" font-size="11">${fixed(b.lower_bound, 1)}</text>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Score histogram of ${esc(variant)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#57606a"/>
${bars}
</svg>`;
}

function table(headers: string[], rows: unknown[][], id?: string): string {
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr>${row.map((cell) => (typeof cell === 'number' ? `<td class="n">${Number.isInteger(cell) ? cell : cell.toFixed(4)}</td>` : `<td>${esc(String(cell ?? ''))}</td>`)).join('')}</tr>`,
    )
    .join('\n');
  return `<table${id ? ` id="${esc(id)}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function duration(start?: string, end?: string): string {
  if (!start || !end) return '';
  const ms = Date.parse(end) - Date.parse(start);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '';
}

function percent(value: unknown): string {
  return typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : '';
}

function fixed(value: unknown, digits = 4): string {
  return typeof value === 'number' ? value.toFixed(digits) : '';
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
