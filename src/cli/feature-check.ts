/**
 * The CSV header's column names against the model's feature names, before a run: what XGBoost itself
 * does (`booster.predict(DMatrix(df))` raises "feature_names mismatch"), so a file whose columns are in
 * another order than the model's features is refused instead of scored wrong. The model server reads
 * CSV by position and never sees the header, so this is the one place the names can be compared.
 */
import { compileJsonPath } from '../core/data-processing.js';
import { UsageError } from '../errors.js';

/** One --model file and the feature names saved with it (none for XGBoost 1.x binary models). */
export interface ModelFeatureNames {
  /** The model file as the user gave it. */
  file: string;
  featureNames: readonly string[];
}

/** What the check compares: the input's columns and which of them the model gets. */
export interface HeaderColumns {
  /** The user's file (or folder, whose files share the header), for the message. */
  file: string;
  /** Every column's name in file order (the run's featureNames, pandas' index included). */
  columns: readonly string[];
  /**
   * The columns are pandas' numbers of unnamed columns (`0,1,…`): positions, not names, so there is
   * nothing to compare (XGBoost would refuse them against a named model; the pipeline reads by position).
   */
  numbered: boolean;
  /** The InputFilter the run uses to keep columns (an id, the true outcome) from the model, if any. */
  inputFilter: string | undefined;
}

/** How many differing columns a refusal lists before "and N more". */
const SHOWN = 3;

/**
 * Refuses a run whose header names the model's input columns otherwise than the model's feature names,
 * position by position, as XGBoost does. Nothing is checked when the model has no feature names (legacy
 * binary models, or one trained on a numpy array), when the header numbers its columns (pandas'
 * header of unnamed columns) or when the InputFilter is not one this check can apply to the header.
 *
 * @throws UsageError naming the user's file and model, the first differing columns ("column 1 is
 *   \"worst fractal dimension\", the model's feature 1 is \"mean radius\"") and how to fix the file.
 */
export function checkFeatureNames(header: HeaderColumns, models: readonly ModelFeatureNames[]): void {
  if (header.numbered) return;
  const positions = modelPositions(header);
  if (!positions) return;
  const columns = positions.map((p) => header.columns[p] as string);
  for (const model of models) {
    const features = model.featureNames;
    if (features.length === 0) continue;
    const differences: string[] = [];
    for (let i = 0; i < Math.max(columns.length, features.length); i++) {
      const column = columns[i];
      const feature = features[i];
      if (column === feature) continue;
      const position = positions[i] as number;
      differences.push(
        column === undefined
          ? `the model's feature ${i + 1} is "${feature}", the file has no column for it`
          : feature === undefined
            ? `column ${position + 1} is "${column}", the model has only ${features.length} features`
            : `column ${position + 1} is "${column}", the model's feature ${i + 1} is "${feature}"`,
      );
    }
    if (differences.length === 0) continue;
    const sameNames =
      columns.length === features.length &&
      [...columns].sort().join('\0') === [...features].sort().join('\0');
    const notFeatures = columns.filter((c) => !features.includes(c));
    const shown = differences.slice(0, SHOWN).join('; ');
    const more = differences.length > SHOWN ? `; and ${differences.length - SHOWN} more` : '';
    const fixes = [
      ...(notFeatures.length > 0
        ? [
            `keep a column that is not a feature (${quoted(notFeatures)}) from the model with --id-column NAME or --actual-column NAME`,
          ]
        : []),
      "write the columns in the model's order, e.g. in Python df[booster.feature_names].to_csv(...)",
      ...(sameNames
        ? []
        : [
            "or, if the columns are the model's features in its order under other names, give --ignore-feature-names",
          ]),
    ];
    throw new UsageError(
      `${header.file}: ${sameNames ? "its header has the model's feature names in another order" : "its header's column names are not the model's feature names"} ` +
        `(feature_names of ${model.file}): ${shown}${more}. ` +
        (sameNames ? 'Scored as it is, the model would read values as other features; ' : '') +
        `XGBoost refuses such data (feature_names mismatch). To fix: ${fixes.join('; ')}`,
    );
  }
}

/** One --model file and the number of values its server takes per CSV record. */
export interface ModelFeatureCount {
  /** The model file as the user gave it. */
  file: string;
  numFeature: number;
}

/**
 * Refuses a run whose header gives the model another number of columns than the model has features,
 * before anything runs: the model server would refuse every record of it ("Record 1 has 31 values; the
 * model expects 30") only once the transform had started, and with no word on which column is extra.
 * The usual cause is a column that is not a feature (an id, the true outcome): the message names the
 * file's first column and the flags that keep such a column from the model.
 *
 * @throws UsageError naming the user's file, the model file, both counts and the fix.
 */
export function checkColumnCount(header: HeaderColumns, models: readonly ModelFeatureCount[]): void {
  const positions = modelPositions(header);
  if (!positions) return;
  for (const model of models) {
    const given = positions.length;
    if (given === model.numFeature) continue;
    const kept = header.columns.length - given;
    const counted = `${given} column${given === 1 ? '' : 's'}${kept > 0 ? ` (of ${header.columns.length}: ${kept} kept from it)` : ''}`;
    const first = header.columns[positions[0] as number];
    const fix =
      given > model.numFeature
        ? `If a column is not a feature, keep it from the model: --id-column NAME for an id${
            first !== undefined && kept === 0 ? ` (e.g. --id-column "${first}" if "${first}" is one)` : ''
          }, --actual-column NAME for the true outcome`
        : `The file lacks ${model.numFeature - given} of the model's features (SageMaker's XGBoost container would score them as missing values): write every feature the model was trained on`;
    throw new UsageError(
      `${header.file}: the model would get ${counted}, but ${model.file} has ${model.numFeature} features. ${fix}.`,
    );
  }
}

/** The first few names, quoted: `"target", "patient_id"`. */
function quoted(names: readonly string[]): string {
  return `${names
    .slice(0, SHOWN)
    .map((name) => `"${name}"`)
    .join(', ')}${names.length > SHOWN ? ', …' : ''}`;
}

/**
 * The positions of the columns the model gets, in the order it gets them: all of them, or those the
 * InputFilter selects. Undefined when the filter cannot be applied to the header (the run itself says
 * why, naming the filter), so that the check never refuses for a reason of its own.
 */
function modelPositions(header: HeaderColumns): number[] | undefined {
  return modelColumnPositions(header.columns, header.inputFilter);
}

/**
 * The 0-based positions in the file of the columns the model gets, in its order: every column, or
 * those `inputFilter` selects. Undefined when the filter cannot be applied to the columns.
 *
 * @example modelColumnPositions(['', 'a', 'b'], '$[1:]') // [1, 2]: the model's field 1 is the file's field 2
 */
export function modelColumnPositions(
  columns: readonly string[],
  inputFilter: string | undefined,
): number[] | undefined {
  const all = columns.map((_, i) => i);
  if (inputFilter === undefined) return all;
  try {
    const selected = compileJsonPath(inputFilter)(all);
    return Array.isArray(selected) && selected.every((i) => typeof i === 'number') ? selected : undefined;
  } catch {
    return undefined;
  }
}
