import { parse as parseCsvSync } from 'csv-parse/sync';

/**
 * CSV header rows: how the CLI recognises the header pandas' `to_csv` writes, and what it means for a run.
 *
 * SageMaker sends every line of a CSV object to the container, a header included, and the XGBoost
 * container rejects a non-numeric line. So the pipeline itself never accepts a header; the CLI reads it
 * from a local file (feature names, id column) and gives the pipeline the data lines only.
 */

/** A value XGBoost reads as a number or as missing: empty, a decimal number, nan or inf in any case. */
const NUMERIC_FIELD = /^\s*(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)|)\s*$/i;

/** The fields of one CSV line, with pandas' quoting ("a,b" and doubled quotes) undone. */
export function csvFields(line: string): string[] {
  const rows = parseCsvSync(line, { relax_column_count: true, relax_quotes: true }) as string[][];
  return rows[0] ?? [''];
}

/** True when every field of the line is a number or empty (missing), as a data line of a numeric CSV is. */
export function isNumericCsvLine(line: string): boolean {
  return line.split(',').every((field) => NUMERIC_FIELD.test(field));
}

/**
 * Whether `first` is a header row: some field is not a number where the line after it, the first data
 * line, has a number (columns that hold text in both, such as an id, say nothing), with as many
 * fields. Without a data line there is nothing to compare with, so the answer is no (say `--header`).
 *
 * @example looksLikeHeader(',mean radius,mean texture', '0,17.99,10.38') === true
 * @example looksLikeHeader('patient_id,mean radius', 'p0001,17.99') === true
 */
export function looksLikeHeader(first: string, second: string | undefined): boolean {
  if (second === undefined) return false;
  const names = csvFields(first);
  const values = csvFields(second);
  if (names.length !== values.length) return false;
  return names.some(
    (name, i) =>
      !NUMERIC_FIELD.test(name) && NUMERIC_FIELD.test(values[i] ?? '') && (values[i] ?? '').trim() !== '',
  );
}

/** What a header row says about the run's columns. */
export interface CsvHeader {
  /** Every column's name, in file order; pandas' unnamed index column gets `indexName`. */
  columns: string[];
  /** The name given to pandas' unnamed first column (the DataFrame index), when there is one. */
  indexColumn?: string;
}

/**
 * Reads a header row's column names. An empty first name is pandas' unnamed index (`to_csv` with its
 * defaults): it is named `index` (or `_index`, … when a column already has that name) so it can be the
 * record id. Any other empty or repeated name is an error the user must fix in the file.
 *
 * @throws Error with a message naming the column, for the caller to wrap with the file's name.
 */
export function readCsvHeader(line: string): CsvHeader {
  const names = csvFields(line).map((name) => name.trim());
  const header: CsvHeader = { columns: names };
  if (names[0] === '' && names.length > 1) {
    let name = 'index';
    while (names.includes(name)) name = `_${name}`;
    names[0] = name;
    header.indexColumn = name;
  }
  const empty = names.indexOf('');
  if (empty >= 0) throw new Error(`column ${empty + 1} of the header has no name`);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new Error(`the header names column "${name}" twice`);
    seen.add(name);
  }
  return header;
}
