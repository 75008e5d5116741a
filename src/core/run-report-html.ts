import type { QueryRow } from '../ports.js';
import { formatCount, formatDecimal, formatFixed } from './number-format.js';

/**
 * HTML building blocks of the run report: escaping, number formatting, tables and inline SVG charts.
 * Everything is inline (no scripts, nothing fetched) so the page opens offline and can be mailed.
 */

/** Escapes text for HTML content and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An integer with thousands separators: 1000000 → "1,000,000". */
export function count(value: unknown): string {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? formatCount(n) : '';
}

/** A number with a fixed number of decimals and thousands separators: 1234.5 → "1,234.5000". */
export function fixed(value: unknown, digits = 4): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  return formatFixed(value, digits);
}

/** A number readable at any magnitude: up to 4 significant decimals, separators in the integer part. */
export function readable(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e12)) return value.toExponential(3);
  const digits = magnitude >= 1000 ? 1 : magnitude >= 1 ? 3 : 4;
  return formatDecimal(value, digits);
}

/** A share as a percentage with one decimal: 0.25 → "25.0%". */
export function percent(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '';
}

/** Seconds as "12.5 s", "3 min 20 s" or "2 h 05 min". */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')} min`;
}

/** A cell: numbers right-aligned (already formatted text passed as {@link Num}), text escaped. */
export class Num {
  constructor(readonly text: string) {}
}

/** Marks formatted number text for a right-aligned cell. */
export function num(text: string): Num {
  return new Num(text);
}

/** A table; `rows` cells are text (escaped) or {@link Num} (right-aligned). */
export function table(
  headers: string[],
  rows: (string | number | Num | null | undefined)[][],
  options: { id?: string; className?: string; foot?: (string | Num)[] } = {},
): string {
  const cell = (value: string | number | Num | null | undefined, tag = 'td') => {
    if (value instanceof Num) return `<${tag} class="n">${esc(value.text)}</${tag}>`;
    if (typeof value === 'number') return `<${tag} class="n">${esc(readable(value))}</${tag}>`;
    return `<${tag}>${esc(String(value ?? ''))}</${tag}>`;
  };
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((c) => cell(c)).join('')}</tr>`).join('\n');
  const foot = options.foot
    ? `<tfoot><tr>${options.foot.map((c) => cell(c, 'th')).join('')}</tr></tfoot>`
    : '';
  const attributes = `${options.id ? ` id="${esc(options.id)}"` : ''}${options.className ? ` class="${esc(options.className)}"` : ''}`;
  return `<table${attributes}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody>${foot}</table>`;
}

/** Colours of the variants in charts and legends, in variant order. */
export const VARIANT_COLOURS = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#57606a'];

/**
 * The score distributions of every variant on one chart: for each bucket, one bar per variant side by
 * side (the buckets are shared, so the shapes compare directly), the bucket edges on the x axis, and a
 * dashed marker at the threshold when there is one.
 */
export function overlaidHistogramSvg(
  variants: readonly string[],
  buckets: readonly QueryRow[],
  options: { threshold?: number | undefined; label: string },
): string {
  const bucketIds = [...new Set(buckets.map((b) => Number(b.bucket)))].sort((a, b) => a - b);
  if (bucketIds.length === 0) return '<p class="meta">No scores in this run.</p>';
  const width = 900;
  const height = 260;
  const left = 56;
  const right = 16;
  const top = 16;
  const bottom = 44;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const max = Math.max(1, ...buckets.map((b) => Number(b.records)));
  const slot = plotWidth / bucketIds.length;
  const barWidth = Math.max(1, (slot - 4) / Math.max(1, variants.length));
  const bounds = bucketIds.map((id) => buckets.find((b) => Number(b.bucket) === id) as QueryRow);
  const lo = Number(bounds[0]?.lower_bound);
  const hi = Number(bounds[bounds.length - 1]?.upper_bound);
  const xOf = (value: number) => left + ((value - lo) / (hi - lo || 1)) * plotWidth;
  const parts: string[] = [];
  parts.push(
    `<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#57606a"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="#57606a"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end" font-size="11">${esc(count(max))}</text>`,
    `<text x="${left - 6}" y="${top + plotHeight}" text-anchor="end" font-size="11">0</text>`,
  );
  bucketIds.forEach((id, i) => {
    const x0 = left + i * slot;
    variants.forEach((variant, v) => {
      const row = buckets.find((b) => Number(b.bucket) === id && b.variant === variant);
      const n = Number(row?.records ?? 0);
      const h = (plotHeight * n) / max;
      const x = x0 + 2 + v * barWidth;
      parts.push(
        `<rect class="bar" data-variant="${esc(variant)}" x="${x.toFixed(1)}" y="${(top + plotHeight - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${VARIANT_COLOURS[v % VARIANT_COLOURS.length]}" fill-opacity="0.85"><title>${esc(variant)}: ${esc(readable(Number(row?.lower_bound)))} to ${esc(readable(Number(row?.upper_bound)))}: ${esc(count(n))} records</title></rect>`,
      );
    });
  });
  // Axis labels at every other edge when there are many buckets, so they never overlap.
  const step = bucketIds.length > 10 ? 2 : 1;
  for (let i = 0; i <= bucketIds.length; i += step) {
    const value = i < bucketIds.length ? Number(bounds[i]?.lower_bound) : hi;
    parts.push(
      `<text x="${(left + i * slot).toFixed(1)}" y="${top + plotHeight + 16}" text-anchor="middle" font-size="11">${esc(readable(value))}</text>`,
    );
  }
  if (options.threshold !== undefined && options.threshold >= lo && options.threshold <= hi) {
    const x = xOf(options.threshold).toFixed(1);
    parts.push(
      `<line id="threshold-marker" x1="${x}" y1="${top}" x2="${x}" y2="${top + plotHeight}" stroke="#1f2328" stroke-width="2" stroke-dasharray="5 4"/>`,
      `<text x="${x}" y="${top + plotHeight + 32}" text-anchor="middle" font-size="11" font-weight="600">threshold ${esc(readable(options.threshold))}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" id="score-histogram" role="img" aria-label="${esc(options.label)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
${parts.join('\n')}
</svg>`;
}

/** A legend naming each variant in its chart colour. */
export function legend(variants: readonly string[]): string {
  return `<p class="legend">${variants
    .map(
      (v, i) =>
        `<span><i style="background:${VARIANT_COLOURS[i % VARIANT_COLOURS.length]}"></i>${esc(v)}</span>`,
    )
    .join(' ')}</p>`;
}

/** A matrix table: `rowKey` values down, `columnKey` values across, `value` in the cells (0 when absent). */
export function matrix(
  rows: readonly QueryRow[],
  keys: { row: string; column: string; value: string },
  titles: { corner: string },
  id: string,
): string {
  const rowValues = [...new Set(rows.map((r) => String(r[keys.row] ?? '(none)')))].sort();
  const columnValues = [...new Set(rows.map((r) => String(r[keys.column] ?? '(none)')))].sort();
  const values = new Map(
    rows.map((r) => [
      `${String(r[keys.row] ?? '(none)')}\u0000${String(r[keys.column] ?? '(none)')}`,
      Number(r[keys.value]),
    ]),
  );
  return table(
    [titles.corner, ...columnValues],
    rowValues.map((rv) => [rv, ...columnValues.map((cv) => num(count(values.get(`${rv}\u0000${cv}`) ?? 0)))]),
    { id, className: 'matrix' },
  );
}

/** The page's CSS: one inline block. */
export const REPORT_CSS = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;color:#1f2328}
h1{font-size:1.6rem;margin:0 0 .25rem} h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem} h3{font-size:1rem;margin:1.2rem 0 .4rem}
.meta{color:#57606a} .ok{color:#1a7f37;font-weight:600} .bad{color:#cf222e;font-weight:600}
table{border-collapse:collapse;margin:.5rem 0} th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums} tfoot th{background:#eaeef2}
tr.drifted td{background:#ffebe9} .flag{color:#cf222e;font-weight:600}
.cards{display:flex;gap:1rem;flex-wrap:wrap} .card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem;font-variant-numeric:tabular-nums} figure{margin:.5rem 0 1rem} figcaption{color:#57606a}
.legend span{margin-right:1rem} .legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}
.explain{background:#f6f8fa;border-left:4px solid #0969da;padding:.5rem .8rem} pre{white-space:pre-wrap;background:#f6f8fa;padding:.6rem;border:1px solid #d0d7de}
code{font-size:.9em}`;

/** A whole self-contained report page (no scripts, nothing fetched) around `body`'s HTML. */
export function reportPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
${REPORT_CSS}
</style>
</head>
<body>
${body}</body>
</html>
`;
}
