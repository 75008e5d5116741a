import { binBounds, binOf } from './feature-bins.js';
import { jsonNumberValue } from './json-numbers.js';
import type { ModelKind } from './results-table.js';

/**
 * Per-feature and score statistics of one job's rows, gathered while ParseResults writes them (one
 * pass, no rescan), and written as JSON lines to the `<table>_stats` table (stats-table.ts), which the
 * `drift` and `evaluation` queries read. Histograms count values in the fixed bins of feature-bins.ts.
 */

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

/** Running count, missing count, mean and sum of squared deviations (Welford), range and bins. */
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
 * Statistics of one job's rows. ParseResults calls {@link addRowValues} (features it read while
 * checking them) or {@link addRow} (a row's features as bytes, its true outcome) once per row, and
 * {@link addLabel}; {@link toJsonLines} then gives the rows of `<table>_stats` for this job.
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
  /** {@link addFeatures}' values of the row it reads, reused row after row. */
  private rowValues = new Float64Array(64);

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
   * empty field, `null` or `nan` is a missing value (as the row stores them). Read into values, then
   * counted as {@link addValues} counts them.
   */
  addFeatures(bytes: Uint8Array, start: number, end: number): void {
    let values = this.rowValues;
    let column = 0;
    let fieldStart = start;
    for (let i = start; i <= end; i += 1) {
      if (i < end && bytes[i] !== 0x2c) continue;
      if (column === values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
        this.rowValues = grown;
      }
      const first = bytes[fieldStart];
      const missing =
        i === fieldStart ||
        first === 0x6e ||
        first === 0x4e ||
        (first === 0x2d && bytes[fieldStart + 1] === 0x6e);
      values[column] = missing ? Number.NaN : jsonNumberValue(bytes, fieldStart, i);
      column += 1;
      fieldStart = i + 1;
    }
    this.addValues(values, column);
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

  /** Rows of `<table>_stats` for this job, as JSON lines (see STATS_COLUMNS in stats-table.ts). */
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
      // A line per bin holding values: most of the file (about 1,700 lines for the sample's 30
      // features), written as text with what JSON.stringify would give (bounds and counts are finite
      // numbers, whose JSON is String(n)) instead of an object per line.
      const head = `{"kind":${JSON.stringify(kindName)},"name":${JSON.stringify(name)},"position":${position},"shard":${JSON.stringify(context.shardId)},"bin":`;
      for (const [bin, count] of m.bins.sorted()) {
        const [lower, upper] = binBounds(bin);
        lines.push(`${head}${bin},"lower":${lower},"upper":${upper},"records":${count}}`);
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
