/**
 * What the CLI prints: query results as a table, CSV or JSON; sizes and counts; messages with the
 * user's own paths in place of the store's URIs.
 */
import { stringify } from 'csv-stringify/sync';
import type { QueryRow } from '../ports.js';

/** Where output goes; tests and commands pass process.stdout/stderr. */
export interface Writer {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Writes one line to stdout. */
export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export type QueryFormat = 'table' | 'csv' | 'json';

/** The widest a table cell gets before it is cut (the table view only; csv and json are never cut). */
const MAX_CELL = 40;

/**
 * Prints query results. `table` is for people: numbers to 4 decimals, long cells cut with "…", and on a
 * terminal lines cut to its width. `csv` (RFC 4180, header row) and `json` (one array of objects) are
 * for programs: every value whole.
 */
export function printRows(
  out: Writer,
  columns: string[],
  rows: QueryRow[],
  format: QueryFormat = 'table',
): void {
  if (format === 'json') {
    out.write(
      `${JSON.stringify(rows.map((row) => Object.fromEntries(columns.map((c) => [c, jsonValue(row[c])]))))}\n`,
    );
    return;
  }
  if (format === 'csv') {
    out.write(
      stringify([columns, ...rows.map((row) => columns.map((c) => csvValue(row[c])))], {
        record_delimiter: '\n',
      }),
    );
    return;
  }
  const cells = rows.map((row) => columns.map((c) => cut(formatCell(row[c]), MAX_CELL)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const width = out.isTTY ? (out.columns ?? 0) : 0;
  const line = (values: string[]) => {
    const text = values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
    return width > 0 ? cut(text, width) : text;
  };
  out.write(`${line(columns)}\n`);
  out.write(`${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of cells) out.write(`${line(row)}\n`);
  out.write(`(${rows.length} row${rows.length === 1 ? '' : 's'})\n`);
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(4);
  if (typeof value === 'bigint') return value.toString();
  return typeof value === 'object' ? JSON.stringify(value, bigintReplacer) : String(value);
}

function jsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value && typeof value === 'object') return JSON.parse(JSON.stringify(value, bigintReplacer));
  return value ?? null;
}

function csvValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value, bigintReplacer);
  return String(value);
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

export { formatBytes, formatCount } from '../core/number-format.js';

/**
 * Replaces store URIs with the user's own paths: `s3://local-in-…/test.csv` → `/home/me/test.csv`.
 * Longer prefixes first, so a file's own mapping wins over its folder's.
 */
export function userPaths(
  text: string,
  paths: ReadonlyArray<readonly [uri: string, path: string, linesDropped?: number]>,
): string {
  let out = text;
  // A message is about one input: the first copied file it names gets its lines shifted.
  const copied = paths.find(([uri, , dropped]) => dropped && out.includes(uri));
  if (copied) out = userLines(out, copied[0], copied[2] ?? 0);
  for (const [uri, path] of [...paths].sort((a, b) => b[0].length - a[0].length)) {
    out = out.split(uri).join(path);
  }
  return out;
}

/**
 * A message about a file copied without its header counts the copy's lines; the user's file has
 * `dropped` more before them. Shifts the line numbers the pipeline's messages give for an input:
 * `<uri> line N`, `<uri> lines A-B`, `the request for line(s) A[-B]` and `input line N` (not an
 * output's lines, which are the transform output's own).
 */
function userLines(text: string, uri: string, dropped: number): string {
  const shift = (n: string) => String(Number(n) + dropped);
  const range = (_: string, lead: string, a: string, b: string | undefined) =>
    `${lead}${shift(a)}${b === undefined ? '' : `-${shift(b)}`}`;
  const escaped = uri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text
    .replace(new RegExp(`(${escaped} lines? )(\\d+)(?:-(\\d+))?`, 'g'), range)
    .replace(/(the request for lines? )(\d+)(?:-(\d+))?/g, range)
    .replace(/(input line )(\d+)/g, (_, lead: string, n: string) => `${lead}${shift(n)}`);
}
