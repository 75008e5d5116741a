/**
 * A pipeline message in the user's own terms: their paths and line numbers (userPaths, output.ts) and,
 * for a CSV field the model could not read, the header's name of its column and its place in the
 * user's line, with the fix. The pipeline cannot say these: the model gets the records of a header-free
 * copy, after the InputFilter took the id column out, and the container counts fields in what it got.
 * The terminal and failure.json (RecordFailure's `userText`) both use it, so they never disagree.
 */
import { modelColumnPositions } from './feature-check.js';
import type { PlacedInput } from './local-input.js';
import { userPaths } from './output.js';

/** What turns a run's messages into the user's terms. */
export interface UserTerms {
  /** Store URI prefixes → the user's paths, with the lines a copy dropped (PlacedInput.paths). */
  paths: PlacedInput['paths'];
  /** The CSV's columns in file order (the header's, or a request's featureNames); none without. */
  columns?: readonly string[] | undefined;
  /** The columns are pandas' numbers of unnamed columns (`0,1,…`): positions, not names. */
  numbered?: boolean | undefined;
  /** The InputFilter that chooses the columns the model gets (their fields are counted after it). */
  inputFilter?: string | undefined;
}

/**
 * A record's unreadable field, as the built-in model server says it (src/model-server/records.ts):
 * `has a non-numeric value in field 6: "n/a"`, the value as JSON. Not when the fix already follows,
 * so that a message put in the user's terms once is left as it is.
 */
const NON_NUMERIC =
  /(has a non-numeric value in )field (\d+): ("(?:[^"\\]|\\.)*")(?!\. The model reads numbers only)/g;

/**
 * `text` in the user's terms: {@link userPaths}, then {@link nameFields}.
 *
 * @example
 * inUserTerms('Model container rejected s3://…/input/x.csv line 11 (…): Record 11 has a non-numeric value in field 6: "n/a"', terms)
 * // 'Model container rejected /home/me/x.csv line 12 (…): Record 11 has a non-numeric value in column "mean compactness" (field 7): "n/a". The model reads numbers only: …'
 */
export function inUserTerms(text: string, terms: UserTerms): string {
  return nameFields(userPaths(text, terms.paths), terms);
}

/**
 * Names the column of a field the model could not read by the header's name, counts the field in
 * the user's line (the container counts it among the columns the InputFilter kept), and says how to
 * fix it. Without column names (no header), or with a filter that cannot be applied to them, the
 * container's field number stays; the fix is said in any case.
 */
export function nameFields(text: string, terms: Omit<UserTerms, 'paths'>): string {
  return countFields(text, terms).replace(
    NON_NUMERIC,
    (_match, lead: string, field: string, value: string) => {
      const fix =
        'The model reads numbers only: write a number there, or leave the cell empty for a missing value';
      const position = fileColumn(Number(field), terms);
      if (position === undefined) return `${lead}field ${field}: ${value}. ${fix}`;
      const name = terms.numbered ? '' : (terms.columns?.[position] ?? '');
      if (name === '') return `${lead}field ${position + 1}: ${value}. ${fix}`;
      const column = JSON.stringify(name);
      return (
        `${lead}column ${column} (field ${position + 1}): ${value}. ${fix} ` +
        `(pandas: df[${column}] = pd.to_numeric(df[${column}], errors="coerce"))`
      );
    },
  );
}

/** The 0-based column of the file that the model's 1-based field `field` is; undefined when unknown. */
function fileColumn(field: number, terms: Omit<UserTerms, 'paths'>): number | undefined {
  if (!terms.columns || terms.columns.length === 0) return undefined;
  return modelColumnPositions(terms.columns, terms.inputFilter)?.[field - 1];
}

/** records.ts: a record with another number of fields than the first (a ragged line). */
const RAGGED =
  /has (\d+) values? but the first record has (\d+): every record of a request needs the same number of fields(?!\. Check)/g;

/** server.ts: a request whose records have another number of fields than the model's features. */
const WIDTH = /has (\d+) values; the model expects (\d+)((?: \([^)]*\))?)(?!\. Write)/g;

/**
 * Counts a record's fields as the user's file has them (the container counts those the InputFilter
 * kept: without pandas' index column) and says how to fix a ragged line or a record of the wrong width.
 */
function countFields(text: string, terms: Omit<UserTerms, 'paths'>): string {
  const positions = terms.columns?.length
    ? modelColumnPositions(terms.columns, terms.inputFilter)
    : undefined;
  // The file's columns the model does not get (pandas' index, an id): the container's count lacks them.
  const dropped = terms.columns && positions ? terms.columns.length - positions.length : undefined;
  return text
    .replace(RAGGED, (_match, got: string, first: string) => {
      const against =
        dropped === undefined
          ? `the first record has ${first}`
          : `the header has ${terms.columns?.length} columns`;
      const fields = dropped === undefined ? Number(got) : Number(got) + dropped;
      return (
        `has ${fields} field${fields === 1 ? '' : 's'} but ${against}: every line needs the same number of fields. ` +
        "Check that line's quoting and delimiters (a comma inside a value must be quoted; a missing or extra " +
        "comma shifts the columns); pandas' df.to_csv(path) writes every column of every row"
      );
    })
    .replace(WIDTH, (_match, got: string, expected: string, aside: string) => {
      const fewer = Number(got) < Number(expected);
      const fix = fewer
        ? `Write all ${expected} of the model's features in every record, in the order it was trained on`
        : `Keep the columns that are not features from the model: an id with --id-column NAME, the true outcome with --actual-column NAME`;
      const header = terms.columns?.length
        ? ''
        : '; the file has no header: write one (pandas: df.to_csv(path) with its defaults) so the CLI checks the columns by name before the run';
      return `has ${got} values; the model expects ${expected}${aside}. ${fix}${header}`;
    });
}
