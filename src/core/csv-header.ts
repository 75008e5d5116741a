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
 * pandas' header of unnamed columns, all numbers (`0,1,…,29` or `,0,1,…,29`), is one too, under the
 * rule of numberedHeaderIsLikely.
 *
 * @example looksLikeHeader(',mean radius,mean texture', '0,17.99,10.38') === true
 * @example looksLikeHeader(',0,1,2,3', '350,11.66,17.07,73.7,421') === true
 * @example looksLikeHeader('patient_id,mean radius', 'p0001,17.99') === true
 */
export function looksLikeHeader(first: string, second: string | undefined): boolean {
  if (second === undefined) return false;
  const names = csvFields(first);
  const values = csvFields(second);
  if (names.length !== values.length) return false;
  if (numberedColumns(names) > 0) return numberedHeaderIsLikely(names, values);
  return names.some(
    (name, i) =>
      !NUMERIC_FIELD.test(name) && NUMERIC_FIELD.test(values[i] ?? '') && (values[i] ?? '').trim() !== '',
  );
}

/** A field written as a whole number, as pandas writes an integer column (a float column gets `.0`). */
const INTEGER_FIELD = /^\s*[+-]?\d+\s*$/;

/**
 * How many columns `names` numbers, when it is the header pandas writes for a DataFrame whose columns
 * have no names (`pd.DataFrame(X).to_csv(...)` with X a numpy array): exactly `0,1,…,k-1`, after one
 * empty field when the index is written too (`,0,1,…`). 0 when it is not such a header.
 *
 * @example numberedColumns(['', '0', '1', '2']) === 3
 */
export function numberedColumns(names: readonly string[]): number {
  const offset = names[0] === '' && names.length > 1 ? 1 : 0;
  for (let i = offset; i < names.length; i++) if (names[i] !== String(i - offset)) return 0;
  return names.length - offset;
}

/**
 * Whether a first line numbering its columns (`0,1,…,k-1`, see numberedColumns) is pandas' header
 * rather than a record whose values happen to be 0, 1, 2, … in column order.
 *
 * Why this is safe enough: a record is taken for a header only when its columns are whole numbers equal
 * to their own positions, in order, and either
 * - there are at least 4 of them: a real record 0,1,2,3,… needs every column to hold exactly its own
 *   position (binary 0/1 features cannot; counts and codes would have to line up four times over), or
 * - the next line writes one of those columns as a decimal, an exponent, nan or nothing: one writer
 *   prints a column's values alike (pandas prints every value of a float column with a `.`), so a
 *   column that reads `2` then `0.1406` is a header above data. This catches 2 or 3 unnamed float
 *   columns; an all-integer file of fewer than 4 columns keeps its first line as data (say --header).
 * A mistaken header would cost the file's first record, so the run's plan names the header it found
 * and `--no-header` reads the line as data.
 */
function numberedHeaderIsLikely(names: readonly string[], values: readonly string[]): boolean {
  const count = numberedColumns(names);
  if (count >= 4) return true;
  const offset = names.length - count;
  return count >= 2 && values.slice(offset).some((value) => !INTEGER_FIELD.test(value));
}

/** What a header row says about the run's columns. */
export interface CsvHeader {
  /** Every column's name, in file order; pandas' unnamed index column gets `indexName`. */
  columns: string[];
  /** The name given to pandas' unnamed first column (the DataFrame index), when there is one. */
  indexColumn?: string;
  /**
   * True when the columns after the index are pandas' numbers `0,1,…` (a DataFrame made from a numpy
   * array): positions, not names, so they say nothing about which feature a column is.
   */
  numbered?: true;
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
  if (numberedColumns(names) > 0) header.numbered = true;
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
