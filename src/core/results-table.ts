import { InvalidInputError } from '../errors.js';
import type { ColumnDefinition, PartitionDefinition, TableDefinition } from '../ports.js';
import { parseS3Uri } from './s3-uri.js';

/**
 * The results table: one definition drives the Glue table (and so Athena) on AWS and the DuckDB view
 * locally. Rows are JSON lines written by {@link parseTransformOutput}; the partition columns are not in
 * the files (Hive/Glue convention) but come from the partition a file is registered under.
 */

/** Glue, Athena and the local catalog all accept these names, unquoted, in every position we use. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,127}$/;

/**
 * Partition values become path segments (`run_id=<v>/`) and, locally, SQL literals in a view; values
 * that would need Hive path escaping or SQL quoting are refused rather than escaped.
 */
const PARTITION_VALUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What kind of model wrote the results: only documents the table (the schema is the same for all). */
export type ModelKind = 'binary' | 'multiclass' | 'regression';

/**
 * The columns of every results file, in file order. One schema for every model kind, so runs of
 * different models share a table: a column a model does not produce is left out of the line (NULL).
 */
export const RESULT_COLUMNS: readonly ColumnDefinition[] = Object.freeze([
  { name: 'id', type: 'string', comment: 'record id taken from the idColumn of the input, when configured' },
  { name: 'source', type: 'string', comment: 'URI of the input object the record came from' },
  { name: 'record', type: 'bigint', comment: '1-based record (line) number within the source object' },
  { name: 'features', type: 'array<double>', comment: 'the numeric features sent to the model' },
  {
    name: 'score',
    type: 'double',
    comment:
      'binary: probability of the positive class; regression: the prediction; multiclass: top probability',
  },
  { name: 'scores', type: 'array<double>', comment: 'multiclass: probability of each class, in label order' },
  {
    name: 'label',
    type: 'string',
    comment: 'predicted class: its label, or its index when no labels are configured',
  },
  { name: 'model', type: 'string', comment: 'SageMaker model name that produced the prediction' },
  {
    name: 'actual',
    type: 'string',
    comment:
      'true outcome from the actualColumn of the input, when configured: a class label (a class index given with labels becomes its label) or the regression target as text',
  },
]);

/** Partition keys, in path order: one partition per run and model variant. */
export const RESULT_PARTITION_KEYS: readonly ColumnDefinition[] = Object.freeze([
  { name: 'run_date', type: 'string', comment: 'UTC date the run started, YYYY-MM-DD' },
  { name: 'run_id', type: 'string', comment: 'pipeline run id' },
  { name: 'variant', type: 'string', comment: 'model variant name from the run request' },
]);

/** What names and places a results table. */
export interface ResultsTableOptions {
  database: string;
  table: string;
  /** `s3://bucket/results/`: the table lives at `<resultsPrefix><table>/`. */
  resultsPrefix: string;
  modelKind?: ModelKind;
}

/**
 * The results table's definition.
 *
 * @example resultsTableDefinition({ database: 'ml', table: 'predictions', resultsPrefix: 's3://b/results/' })
 *   // location 's3://b/results/predictions/', partitioned by run_date, run_id, variant
 * @throws InvalidInputError when the database or table name is not a valid identifier, or the prefix is
 *   not an `s3://bucket/…/` prefix.
 */
export function resultsTableDefinition(options: ResultsTableOptions): TableDefinition {
  assertIdentifier(options.database, 'database name');
  assertIdentifier(options.table, 'table name');
  parseS3Uri(options.resultsPrefix);
  if (!options.resultsPrefix.endsWith('/')) {
    throw new InvalidInputError(`Results prefix must end with "/": "${options.resultsPrefix}"`);
  }
  const kind = options.modelKind ? ` (${options.modelKind} model)` : '';
  return {
    database: options.database,
    name: options.table,
    location: `${options.resultsPrefix}${options.table}/`,
    columns: RESULT_COLUMNS.map((c) => ({ ...c })),
    partitionKeys: RESULT_PARTITION_KEYS.map((c) => ({ ...c })),
    description: `Batch Transform predictions joined with their inputs${kind}`,
  };
}

/**
 * Where a partition's files live: `<location>run_date=<d>/run_id=<r>/variant=<v>/` (Hive layout, so
 * Athena's MSCK REPAIR and partition projection would find the same partitions).
 *
 * @throws InvalidInputError when the number of values differs from the partition keys or a value is not
 *   a plain path segment.
 */
export function partitionLocation(def: TableDefinition, values: readonly string[]): string {
  if (values.length !== def.partitionKeys.length) {
    throw new InvalidInputError(
      `Table ${def.name} has ${def.partitionKeys.length} partition keys (${def.partitionKeys
        .map((k) => k.name)
        .join(', ')}) but ${values.length} values were given`,
    );
  }
  return partitionPath(def.location, def.partitionKeys, values);
}

/**
 * The one function that writes partition folders: `<location><key1>=<v1>/<key2>=<v2>/…` for the first
 * `values.length` keys (all of them: one partition; fewer: the folder holding every partition under
 * those values, e.g. a run's results across variants), each value checked by
 * {@link assertPartitionValue}. Every other path to a partition folder is built by calling it.
 *
 * @throws InvalidInputError when there are more values than keys or a value is not a plain path segment.
 */
export function partitionPath(
  location: string,
  keys: readonly Pick<ColumnDefinition, 'name'>[],
  values: readonly string[],
): string {
  if (!location.endsWith('/')) throw new InvalidInputError(`Table location must end with "/": "${location}"`);
  if (values.length > keys.length) {
    throw new InvalidInputError(
      `${values.length} partition values given for ${keys.length} partition keys (${keys.map((k) => k.name).join(', ')})`,
    );
  }
  const segments = values.map((value, i) => {
    const key = (keys[i] as Pick<ColumnDefinition, 'name'>).name;
    assertPartitionValue(value, key);
    return `${key}=${value}/`;
  });
  return `${location}${segments.join('')}`;
}

/**
 * Checks a name can be used unquoted as a Glue/Athena/DuckDB identifier.
 *
 * @throws InvalidInputError naming what the identifier is for.
 */
export function assertIdentifier(name: string, what: string): void {
  if (!IDENTIFIER.test(name)) {
    throw new InvalidInputError(
      `Invalid ${what} "${name}": use lower-case letters, digits and _ (not first), at most 128 characters`,
    );
  }
}

/** @throws InvalidInputError when a partition value is not a plain path segment. */
export function assertPartitionValue(value: string, key: string): void {
  if (!PARTITION_VALUE.test(value)) {
    throw new InvalidInputError(
      `Invalid value "${value}" for partition key ${key}: use letters, digits, ".", "_" and "-" (not first)`,
    );
  }
}

/** The subset of Glue's TableInput this pipeline sets; structurally assignable to the SDK's type. */
export interface GlueTableInput {
  Name: string;
  Description?: string;
  TableType: 'EXTERNAL_TABLE';
  Parameters: Record<string, string>;
  PartitionKeys: GlueColumn[];
  StorageDescriptor: GlueStorageDescriptor;
}

/** A Glue column (Name, Type, Comment). */
export interface GlueColumn {
  Name: string;
  Type: string;
  Comment?: string;
}

/** Where and how a Glue table's or partition's files are stored and read. */
export interface GlueStorageDescriptor {
  Columns: GlueColumn[];
  Location: string;
  InputFormat: string;
  OutputFormat: string;
  SerdeInfo: { SerializationLibrary: string; Parameters: Record<string, string> };
}

/** The subset of Glue's PartitionInput this pipeline sets. */
export interface GluePartitionInput {
  Values: string[];
  StorageDescriptor: GlueStorageDescriptor;
}

const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
const TEXT_INPUT_FORMAT = 'org.apache.hadoop.mapred.TextInputFormat';
const TEXT_OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat';

/**
 * The Glue TableInput for CreateTable/UpdateTable: an external table over JSON lines read by the OpenX
 * JSON SerDe, which Athena uses for `classification=json` tables.
 */
export function glueTableInput(def: TableDefinition): GlueTableInput {
  return {
    Name: def.name,
    ...(def.description ? { Description: def.description } : {}),
    TableType: 'EXTERNAL_TABLE',
    Parameters: { EXTERNAL: 'TRUE', classification: 'json', typeOfData: 'file' },
    PartitionKeys: def.partitionKeys.map(glueColumn),
    StorageDescriptor: storageDescriptor(def, def.location),
  };
}

/** The Glue PartitionInput for BatchCreatePartition: the table's storage format at the partition's location. */
export function gluePartitionInput(def: TableDefinition, partition: PartitionDefinition): GluePartitionInput {
  return { Values: [...partition.values], StorageDescriptor: storageDescriptor(def, partition.location) };
}

function storageDescriptor(def: TableDefinition, location: string): GlueStorageDescriptor {
  return {
    Columns: def.columns.map(glueColumn),
    Location: location,
    InputFormat: TEXT_INPUT_FORMAT,
    OutputFormat: TEXT_OUTPUT_FORMAT,
    // Lines the SerDe cannot parse fail the query rather than silently reading as NULL rows.
    SerdeInfo: { SerializationLibrary: JSON_SERDE, Parameters: { 'ignore.malformed.json': 'FALSE' } },
  };
}

function glueColumn(column: ColumnDefinition): GlueColumn {
  return {
    Name: column.name,
    Type: column.type,
    ...(column.comment ? { Comment: column.comment } : {}),
  };
}

/**
 * The Athena DDL equivalent to {@link glueTableInput}, for people reading or recreating the table by
 * hand (the pipeline itself calls Glue). Partitions still have to be added (or `MSCK REPAIR TABLE`).
 */
export function athenaCreateTableDdl(def: TableDefinition): string {
  assertIdentifier(def.database, 'database name');
  assertIdentifier(def.name, 'table name');
  const column = (c: ColumnDefinition) => {
    assertIdentifier(c.name, 'column name');
    return `  \`${c.name}\` ${c.type}${c.comment ? ` COMMENT '${hiveString(c.comment)}'` : ''}`;
  };
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS \`${def.database}\`.\`${def.name}\` (`,
    def.columns.map(column).join(',\n'),
    ')',
    ...(def.description ? [`COMMENT '${hiveString(def.description)}'`] : []),
    'PARTITIONED BY (',
    def.partitionKeys.map(column).join(',\n'),
    ')',
    `ROW FORMAT SERDE '${JSON_SERDE}'`,
    "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'FALSE')",
    `STORED AS INPUTFORMAT '${TEXT_INPUT_FORMAT}'`,
    `OUTPUTFORMAT '${TEXT_OUTPUT_FORMAT}'`,
    `LOCATION '${hiveString(def.location)}'`,
    "TBLPROPERTIES ('classification' = 'json');",
  ].join('\n');
}

/** Hive DDL string literals escape quotes and backslashes with a backslash. */
function hiveString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/**
 * Where `results.idColumn` is among the record's columns (featureNames order), or -1 when there is no
 * id column or a JSON object record names it by key. BuildManifest checks it too, before a run starts.
 *
 * @param csv whether records are CSV lines, which have no keys: the column must be in featureNames.
 * @throws InvalidInputError when the id column could not be found.
 */
export function idColumnIndex(
  results: { featureNames?: string[] | undefined; idColumn?: string | undefined },
  csv: boolean,
): number {
  return namedColumnIndex(results.featureNames, results.idColumn, 'idColumn', csv);
}

/**
 * Where `results.actualColumn` (the true outcome) is among the record's columns, or -1; the same rules
 * as {@link idColumnIndex}, and it may not be the id column.
 *
 * @throws InvalidInputError when the column could not be found or is also the id column.
 */
export function actualColumnIndex(
  results: {
    featureNames?: string[] | undefined;
    idColumn?: string | undefined;
    actualColumn?: string | undefined;
  },
  csv: boolean,
): number {
  if (results.actualColumn !== undefined && results.actualColumn === results.idColumn) {
    throw new InvalidInputError(
      `results.actualColumn and results.idColumn both name "${results.actualColumn}": the true outcome and the record id must be different columns`,
    );
  }
  return namedColumnIndex(results.featureNames, results.actualColumn, 'actualColumn', csv);
}

function namedColumnIndex(
  featureNames: string[] | undefined,
  column: string | undefined,
  field: string,
  csv: boolean,
): number {
  if (column === undefined) return -1;
  if (featureNames) {
    const index = featureNames.indexOf(column);
    if (index === -1) {
      throw new InvalidInputError(`results.${field} "${column}" is not one of results.featureNames`);
    }
    return index;
  }
  if (csv) {
    throw new InvalidInputError(
      `results.${field} "${column}" needs results.featureNames to find the column in CSV records`,
    );
  }
  return -1;
}

/** AWS refuses InputFilter expressions longer than this (CreateTransformJob's DataProcessing limit). */
const INPUT_FILTER_MAX_LENGTH = 63;

/**
 * The InputFilter that keeps the id and true-outcome columns from the model: every other column of
 * `featureNames`, as a slice when they are contiguous (`$[1:]`, `$[0:30]`) or else as an index list
 * (`$[0,2,3]`). Undefined when no column has to be left out.
 *
 * @example modelInputFilter(['id', 'a', 'b', 'y'], [0, 3]) // '$[1:3]'
 * @throws InvalidInputError when the kept columns need an index list longer than AWS accepts, saying to
 *   move the columns to the start or the end, or to set transform.DataProcessing.InputFilter.
 */
export function modelInputFilter(
  featureNames: readonly string[],
  leftOut: readonly number[],
): string | undefined {
  const excluded = new Set(leftOut.filter((i) => i >= 0));
  if (excluded.size === 0) return undefined;
  const kept = featureNames.map((_, i) => i).filter((i) => !excluded.has(i));
  if (kept.length === 0) {
    throw new InvalidInputError(
      'results.featureNames has no column left for the model after the id and actual columns',
    );
  }
  const first = kept[0] as number;
  const last = kept[kept.length - 1] as number;
  if (last - first + 1 === kept.length) {
    return last === featureNames.length - 1 ? `$[${first}:]` : `$[${first}:${last + 1}]`;
  }
  const list = `$[${kept.join(',')}]`;
  if (list.length <= INPUT_FILTER_MAX_LENGTH) return list;
  throw new InvalidInputError(
    `The model's columns (results.featureNames without ${[...excluded].map((i) => featureNames[i]).join(' and ')}) ` +
      `are not contiguous and their index list is longer than AWS's ${INPUT_FILTER_MAX_LENGTH}-character InputFilter limit: ` +
      'put the id and actual columns first or last, or set transform.DataProcessing.InputFilter yourself',
  );
}
