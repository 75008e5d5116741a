import { InvalidInputError } from '../errors.js';
import type { ColumnDefinition, TableDefinition } from '../ports.js';
import { jsonNumberValue } from './json-numbers.js';
import type { ModelKind } from './results-table.js';

/**
 * Per-feature and score statistics of one job's rows, gathered while ParseResults writes them (one
 * pass, no rescan), and written as JSON lines to the `<table>_stats` table, which the `drift` and
 * `evaluation` queries read.
 *
 * Histograms use one fixed set of bins for every feature of every run: logarithmic bins,
 * {@link BINS_PER_OCTAVE} per power of two, mirrored for negative values, with one bin around zero.
 * Because the bins never depend on the data, two runs' histograms (and two shards' of one run) line
 * up bin for bin: shards merge by adding counts, and the drift query can regroup any run by a baseline
 * run's deciles (see queries/drift.sql) without re-reading either run's rows. The price is resolution
 * for features far from zero with a narrow spread (a year column: about 90 per bin near 2000), where
 * PSI sees fewer groups.
 */

/** Bins per doubling of |x|: neighbouring bin edges differ by 2^(1/16), about 4.4%. */
export const BINS_PER_OCTAVE = 16;
/** |x| below 2^MIN_EXPONENT (zero included) falls in bin 0. */
export const MIN_EXPONENT = -30;

const ZERO_LIMIT = 2 ** MIN_EXPONENT;

/**
 * The fixed bin of a value: 0 for |x| < 2^-30, else ±(1 + floor(16 × (log2|x| + 30))), signed like x.
 *
 * @example binOf(1) // 481; binOf(-1) // -481; binOf(0) // 0
 */
export function binOf(x: number): number {
  const magnitude = Math.abs(x);
  if (magnitude < ZERO_LIMIT) return 0;
  if (!(magnitude <= Number.MAX_VALUE) || !LITTLE_ENDIAN) {
    const bin = 1 + Math.floor(BINS_PER_OCTAVE * (Math.log2(magnitude) - MIN_EXPONENT));
    return x < 0 ? -bin : bin;
  }
  // ParseResults bins every feature of every row: instead of a logarithm, the double's own exponent
  // gives the octave and its top mantissa bits a first guess within it, which one or two comparisons
  // with the bins' edges (the same numbers binBounds gives) settle exactly.
  BITS_FLOAT[0] = magnitude;
  const high = BITS_WORDS[1] as number;
  let bin =
    1 +
    BINS_PER_OCTAVE * ((high >>> 20) - 1023 - MIN_EXPONENT) +
    (OCTAVE_GUESS[(high >>> 12) & 0xff] as number);
  while (magnitude < (BIN_EDGES[bin] as number)) bin -= 1;
  while (magnitude >= (BIN_EDGES[bin + 1] as number)) bin += 1;
  return x < 0 ? -bin : bin;
}

/** BIN_EDGES[k] is the lower edge of bin k (k ≥ 1), as binBounds computes it; enough for every finite double. */
const BIN_EDGES = (() => {
  const bins = 1 + BINS_PER_OCTAVE * (1024 - MIN_EXPONENT);
  const edges = new Float64Array(bins + 2);
  for (let k = 1; k < edges.length; k += 1) edges[k] = 2 ** ((k - 1) / BINS_PER_OCTAVE + MIN_EXPONENT);
  return edges;
})();
/** The bin within its octave of a mantissa whose top 8 bits are the index: never above the true one. */
const OCTAVE_GUESS = Uint8Array.from({ length: 256 }, (_, top) =>
  Math.floor(BINS_PER_OCTAVE * Math.log2(1 + top / 256)),
);
const BITS_FLOAT = new Float64Array(1);
const BITS_WORDS = new Uint32Array(BITS_FLOAT.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The [lower, upper) range of a bin (for negative bins, the mirror of the positive one). */
export function binBounds(bin: number): [number, number] {
  if (bin === 0) return [-ZERO_LIMIT, ZERO_LIMIT];
  const k = Math.abs(bin);
  const low = 2 ** ((k - 1) / BINS_PER_OCTAVE + MIN_EXPONENT);
  const high = 2 ** (k / BINS_PER_OCTAVE + MIN_EXPONENT);
  return bin > 0 ? [low, high] : [-high, -low];
}

/** Running count, missing count, mean and sum of squared deviations (Welford), range and bins. */
/**
 * Counts per bin. ParseResults adds one value per feature per row, so this is the hottest loop of
 * parsing: counts live in a typed array over the range of bins seen so far (grown when a value falls
 * outside it), with no Map lookup per value. A feature's values usually span a few dozen bins.
 */
class BinCounts {
  private counts: Float64Array | undefined;
  /** The bin counted at counts[0]. */
  private first = 0;

  add(bin: number): void {
    let counts = this.counts;
    let index = bin - this.first;
    if (!counts || index < 0 || index >= counts.length) {
      counts = this.grow(bin);
      index = bin - this.first;
    }
    counts[index] = (counts[index] as number) + 1;
  }

  /** [bin, count] for every bin holding values, by bin. */
  sorted(): [number, number][] {
    const entries: [number, number][] = [];
    const counts = this.counts;
    if (!counts) return entries;
    for (let i = 0; i < counts.length; i += 1) {
      const count = counts[i] as number;
      if (count > 0) entries.push([this.first + i, count]);
    }
    return entries;
  }

  private grow(bin: number): Float64Array {
    const old = this.counts;
    const low = old ? Math.min(this.first, bin - 16) : bin - 16;
    const high = old ? Math.max(this.first + old.length, bin + 17) : bin + 17;
    const counts = new Float64Array(high - low);
    if (old) counts.set(old, this.first - low);
    this.counts = counts;
    this.first = low;
    return counts;
  }
}

class Moments {
  records = 0;
  missing = 0;
  mean = 0;
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  readonly bins = new BinCounts();

  add(x: number): void {
    this.records += 1;
    const n = this.records - this.missing;
    const delta = x - this.mean;
    this.mean += delta / n;
    this.m2 += delta * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.bins.add(binOf(x));
  }

  addMissing(): void {
    this.records += 1;
    this.missing += 1;
  }
}

/** The run-level facts the stats lines carry besides the moments. */
export interface StatisticsContext {
  runId: string;
  variant: string;
  shardId: string;
  /** When ParseResults wrote these rows (ISO): orders runs so `drift` finds the previous one. */
  parsedAt: string;
  threshold: number;
  labels: readonly string[] | undefined;
}

/**
 * Statistics of one job's rows. ParseResults calls {@link addFeatures} and {@link addPrediction} once
 * per row, and {@link addActual} when the run names an actualColumn; {@link toJsonLines} then gives
 * the rows of `<table>_stats` for this job.
 */
export class FeatureStatistics {
  private readonly features: Moments[] = [];
  private readonly score = new Moments();
  private readonly names: readonly string[] | undefined;
  private multiclass = false;
  private scoresInUnitInterval = true;
  private actuals = 0;
  private actualsBinary = true;
  /** Rows per label (`null`: rows without one), for the summary and label-counts queries. */
  private readonly labelCounts = new Map<string | null, number>();
  /**
   * Rows per tenth of [0, 1] (a score of 1 in the last), for score-histogram: the buckets it draws when
   * every score of the run is a probability. Scores outside [0, 1] are not counted here.
   */
  private readonly tenths = new Array<number>(10).fill(0);

  /** @param names the features' names in row order (featureNames without the id and actual columns). */
  constructor(names: readonly string[] | undefined) {
    this.names = names;
  }

  /**
   * Adds one row's features as values already read (NaN: missing), `count` of them: what ParseResults
   * passes when {@link NumberListParse} read the line while checking it.
   */
  addValues(values: Float64Array, count: number): void {
    const features = this.features;
    for (let column = 0; column < count; column += 1) {
      const moments = features[column] ?? this.newFeature(column);
      const value = values[column] as number;
      if (Number.isNaN(value)) moments.addMissing();
      else moments.add(value);
    }
    for (let c = count; c < features.length; c += 1) features[c]?.addMissing();
  }

  /** A feature first seen on a later row was missing on the rows before. */
  private newFeature(column: number): Moments {
    const moments = new Moments();
    const before = this.score.records;
    moments.records = before;
    moments.missing = before;
    this.features[column] = moments;
    return moments;
  }

  /**
   * Adds one row's features: `bytes[start, end)` is a comma-separated list of JSON numbers, where an
   * empty field, `null` or `nan` is a missing value (as the row stores them).
   */
  addFeatures(bytes: Uint8Array, start: number, end: number): void {
    let column = 0;
    let fieldStart = start;
    for (let i = start; i <= end; i += 1) {
      if (i < end && bytes[i] !== 0x2c) continue;
      const moments = this.features[column] ?? this.newFeature(column);
      const first = bytes[fieldStart];
      if (
        i === fieldStart ||
        first === 0x6e ||
        first === 0x4e ||
        (first === 0x2d && bytes[fieldStart + 1] === 0x6e)
      ) {
        moments.addMissing();
      } else {
        moments.add(jsonNumberValue(bytes, fieldStart, i));
      }
      column += 1;
      fieldStart = i + 1;
    }
    // Columns this row did not have are missing on it.
    for (let c = column; c < this.features.length; c += 1) this.features[c]?.addMissing();
  }

  /** The one call ParseResults makes per row: its features, its score and its true outcome. */
  addRow(
    features: Uint8Array,
    start: number,
    end: number,
    score: number,
    classes: number,
    actual: string | undefined,
  ): void {
    this.addFeatures(features, start, end);
    this.addPrediction(score, classes);
    this.addActual(actual);
  }

  /** {@link addRow} for a row whose features {@link addValues} takes. */
  addRowValues(values: Float64Array, count: number, score: number, classes: number): void {
    this.addValues(values, count);
    this.addPrediction(score, classes);
  }

  /** Adds one row's score (the binary probability, the regression value, or the top class probability). */
  addPrediction(score: number, classes: number): void {
    this.score.add(score);
    if (classes > 1) this.multiclass = true;
    if (score < 0 || score > 1) this.scoresInUnitInterval = false;
    // The same arithmetic as score-histogram.sql: floor((score - 0) / (1 - 0) * 10), at most 9.
    else {
      const tenth = Math.min(Math.floor(score * 10), 9);
      this.tenths[tenth] = (this.tenths[tenth] ?? 0) + 1;
    }
  }

  /** Counts one row's label as written in the row (`null` when the row has none). */
  addLabel(label: string | null): void {
    this.labelCounts.set(label, (this.labelCounts.get(label) ?? 0) + 1);
  }

  /** Notes one row's true outcome, as stored in `actual` (undefined when the row has none). */
  addActual(actual: string | undefined): void {
    if (actual === undefined) return;
    this.actuals += 1;
    if (actual !== '0' && actual !== '1') this.actualsBinary = false;
  }

  /**
   * What kind of model this looks like: multiclass when it gave a score per class or more than two
   * labels are configured; binary with two labels, or with no labels when every score is a probability
   * and every true outcome (if any) is 0 or 1; regression otherwise.
   */
  modelKind(labels: readonly string[] | undefined): ModelKind {
    if (this.multiclass || (labels && labels.length > 2)) return 'multiclass';
    if (labels && labels.length === 2) return 'binary';
    return this.scoresInUnitInterval && this.actualsBinary ? 'binary' : 'regression';
  }

  /** Rows of `<table>_stats` for this job, as JSON lines (see {@link STATS_COLUMNS}). */
  toJsonLines(context: StatisticsContext): string {
    const kind = this.modelKind(context.labels);
    const positive = kind === 'binary' ? (context.labels?.[1] ?? '1') : null;
    const negative = kind === 'binary' ? (context.labels?.[0] ?? '0') : null;
    const lines: string[] = [
      JSON.stringify({
        kind: 'model',
        name: kind,
        shard: context.shardId,
        records: this.score.records,
        missing: this.score.records - this.actuals,
        threshold: context.threshold,
        positive_label: positive,
        negative_label: negative,
        parsed_at: context.parsedAt,
      }),
    ];
    const add = (kindName: string, name: string, position: number, m: Moments) => {
      const present = m.records - m.missing;
      lines.push(
        JSON.stringify({
          kind: kindName,
          name,
          position,
          shard: context.shardId,
          records: m.records,
          missing: m.missing,
          mean: present > 0 ? m.mean : null,
          m2: present > 0 ? m.m2 : null,
          min_value: present > 0 ? m.min : null,
          max_value: present > 0 ? m.max : null,
        }),
      );
      for (const [bin, count] of m.bins.sorted()) {
        const [lower, upper] = binBounds(bin);
        lines.push(
          JSON.stringify({
            kind: kindName,
            name,
            position,
            shard: context.shardId,
            bin,
            lower,
            upper,
            records: count,
          }),
        );
      }
    };
    add('score', 'score', 0, this.score);
    for (const [label, records] of this.labelCounts) {
      lines.push(
        JSON.stringify({ kind: 'label', name: label, position: 0, shard: context.shardId, records }),
      );
    }
    this.tenths.forEach((records, bin) => {
      if (records === 0) return;
      lines.push(
        JSON.stringify({
          kind: 'score_tenth',
          name: 'score',
          position: 0,
          shard: context.shardId,
          bin,
          lower: bin / 10,
          upper: (bin + 1) / 10,
          records,
        }),
      );
    });
    this.features.forEach((m, i) => {
      // A row that never reached this column (ragged JSON) counts as missing.
      while (m.records < this.score.records) m.addMissing();
      add('feature', this.names?.[i] ?? `f${i + 1}`, i + 1, m);
    });
    return `${lines.join('\n')}\n`;
  }
}

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
