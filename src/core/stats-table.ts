import { InvalidInputError } from '../errors.js';
import type { ColumnDefinition, TableDefinition } from '../ports.js';

/*
 * The `<table>_stats` table ParseResults' statistics are written to: its columns, its definition
 * beside the results table, and where its files live.
 */

/** The columns of `<table>_stats`: one line per job for the model, the score and each feature, plus one per histogram bin. */
export const STATS_COLUMNS: readonly ColumnDefinition[] = Object.freeze([
  {
    name: 'kind',
    type: 'string',
    comment:
      "'model' (one line per job), 'score', 'feature', 'label' (rows per label) or 'score_tenth' (rows per tenth of [0, 1])",
  },
  {
    name: 'name',
    type: 'string',
    comment:
      "feature name; 'score'; for kind model: binary, multiclass or regression; for kind label: the label (NULL: rows without one)",
  },
  {
    name: 'position',
    type: 'bigint',
    comment: '1-based feature position among the features sent to the model; 0 for the score',
  },
  { name: 'shard', type: 'string', comment: 'the job (input shard) these statistics cover' },
  {
    name: 'bin',
    type: 'bigint',
    comment: 'histogram bin (fixed for every run, see docs/analysts.md); NULL on the totals line',
  },
  { name: 'lower', type: 'double', comment: 'lower edge of the bin' },
  { name: 'upper', type: 'double', comment: 'upper edge of the bin' },
  { name: 'records', type: 'bigint', comment: 'totals line: rows; bin line: values in the bin' },
  {
    name: 'missing',
    type: 'bigint',
    comment: 'rows where the value is missing (kind model: rows with no actual)',
  },
  { name: 'mean', type: 'double', comment: 'mean of the present values' },
  {
    name: 'm2',
    type: 'double',
    comment: 'sum of squared deviations from the mean (variance = m2 / (n - 1))',
  },
  { name: 'min_value', type: 'double', comment: 'smallest present value' },
  { name: 'max_value', type: 'double', comment: 'largest present value' },
  { name: 'threshold', type: 'double', comment: 'kind model: the binary threshold' },
  {
    name: 'positive_label',
    type: 'string',
    comment: 'kind model, binary: the class the score is the probability of',
  },
  { name: 'negative_label', type: 'string', comment: 'kind model, binary: the other class' },
  {
    name: 'parsed_at',
    type: 'string',
    comment: 'kind model: when ParseResults wrote the rows (orders runs for drift)',
  },
]);

/** The statistics table of a results table: `<table>_stats`, beside it, with the same partitions. */
export function statsTableDefinition(results: TableDefinition): TableDefinition {
  return {
    database: results.database,
    name: statsTableName(results.name),
    location: statsLocation(results.location),
    columns: STATS_COLUMNS.map((c) => ({ ...c })),
    partitionKeys: results.partitionKeys.map((c) => ({ ...c })),
    description: `Per-run feature and score statistics of ${results.name}`,
  };
}

/** `predictions` → `predictions_stats`. */
export function statsTableName(table: string): string {
  return `${table}_stats`;
}

/**
 * Where the statistics of a results location live: the same path under the stats table's folder
 * (`…/results/predictions/run_date=…/` → `…/results/predictions_stats/run_date=…/`), so whatever
 * layout results use under their table (partitions, attempts), statistics follow it.
 *
 * @param tableLocation the results table's location, `s3://…/<table>/`.
 * @param uri that location or any URI under it.
 * @throws InvalidInputError when `uri` is not under `tableLocation`.
 */
export function statsLocation(tableLocation: string, uri: string = tableLocation): string {
  if (!tableLocation.endsWith('/') || !uri.startsWith(tableLocation)) {
    throw new InvalidInputError(`${uri} is not under the results table location ${tableLocation}`);
  }
  return `${tableLocation.slice(0, -1)}_stats/${uri.slice(tableLocation.length)}`;
}
