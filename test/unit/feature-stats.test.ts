import { describe, expect, it } from 'vitest';
import { binBounds, binOf } from '../../src/core/feature-bins.js';
import { FeatureStatistics } from '../../src/core/feature-stats.js';
import { normalizeActual } from '../../src/core/result-records.js';
import { modelInputFilter } from '../../src/core/results-table.js';
import { statsLocation } from '../../src/core/stats-table.js';
import { InvalidInputError } from '../../src/errors.js';

function linesOf(stats: FeatureStatistics, labels?: string[]): Record<string, unknown>[] {
  return stats
    .toJsonLines({
      runId: 'r',
      variant: 'v',
      shardId: '0000',
      parsedAt: '2026-11-30T00:00:00.000Z',
      threshold: 0.5,
      labels,
    })
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('binOf', () => {
  it('puts each value in the fixed bin whose bounds hold it, whatever the data', () => {
    // Hand-computed: 1 = 2^0 starts bin 1 + 16 * 30; 1.5 = 2^0.585 is 9 sixteenths of an octave above.
    expect(binOf(1)).toBe(481);
    expect(binOf(1.5)).toBe(490);
    expect(binOf(-1.5)).toBe(-490);
    expect(binOf(0)).toBe(0);
    expect(binOf(1e-12)).toBe(0);
    for (const x of [0.001, 0.37, 1, 2, 3.25, 1234.5, -7.25, 1e9]) {
      const [lower, upper] = binBounds(binOf(x));
      expect(x >= lower && x < upper, `${x} in [${lower}, ${upper})`).toBe(true);
    }
  });
});

describe("binOf, against the bins' edges", () => {
  /** The definition before the bit-level reading: floor of a logarithm, exact up to its rounding. */
  const byLogarithm = (x: number) => {
    if (Math.abs(x) < 2 ** -30) return 0;
    const bin = 1 + Math.floor(16 * (Math.log2(Math.abs(x)) + 30));
    return x < 0 ? -bin : bin;
  };
  const nextDown = (x: number) => {
    const bits = new Float64Array([x]);
    const words = new BigUint64Array(bits.buffer);
    words[0] = (words[0] as bigint) - 1n;
    return bits[0] as number;
  };

  it('puts every edge in the bin it opens and the double below it in the bin before', () => {
    for (let bin = 1; bin < 16 * 1054; bin += 7) {
      const [lower] = binBounds(bin);
      expect(binOf(lower), `edge of ${bin}`).toBe(bin);
      expect(binOf(-lower), `edge of ${-bin}`).toBe(-bin);
      if (bin > 1) expect(binOf(nextDown(lower)), `below the edge of ${bin}`).toBe(bin - 1);
    }
    // The logarithm rounds up to 1024 here; the last bin below 2^1024 is the right one.
    expect(binOf(Number.MAX_VALUE)).toBe(16 * 1054);
    expect(binOf(2 ** -30)).toBe(1);
    expect(binOf(nextDown(2 ** -30))).toBe(0);
  });

  it('agrees with the logarithm on random values, except a hair from an edge, and always with binBounds', () => {
    let seed = 5;
    const next = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    let nearEdge = 0;
    for (let n = 0; n < 100_000; n += 1) {
      const x = (next() < 0.5 ? -1 : 1) * 2 ** (next() * 120 - 40) * (1 + next());
      const bin = binOf(x);
      // binBounds mirrors negative bins: compare magnitudes with the positive bin's edges.
      const [lower, upper] = binBounds(Math.abs(bin));
      expect(Math.abs(x) >= lower && Math.abs(x) < upper, `${x} in bin ${bin}`).toBe(true);
      if (bin !== 0) expect(Math.sign(bin)).toBe(Math.sign(x));
      if (bin !== byLogarithm(x)) {
        nearEdge += 1;
        const edge = Math.abs(binBounds(Math.max(Math.abs(bin), Math.abs(byLogarithm(x))))[0]);
        expect(Math.abs(Math.abs(x) - edge) / edge, `${x}`).toBeLessThan(1e-12);
      }
    }
    expect(nearEdge).toBeLessThan(10);
  });
});

describe('FeatureStatistics', () => {
  it('counts, finds missing values and computes mean, variance, range and bins per feature', () => {
    const stats = new FeatureStatistics(['a', 'b']);
    const rows = ['1,10', '2,', '3,null', '6,30'];
    rows.forEach((row, i) => {
      const bytes = Buffer.from(row);
      stats.addRow(bytes, 0, bytes.length, i / 10, 1, String(i % 2));
    });
    const lines = linesOf(stats);
    const a = lines.find((l) => l.name === 'a' && l.bin === undefined);
    const b = lines.find((l) => l.name === 'b' && l.bin === undefined);
    // a: 1, 2, 3, 6: mean 3, squared deviations 4 + 1 + 0 + 9 = 14.
    expect(a).toMatchObject({
      kind: 'feature',
      position: 1,
      records: 4,
      missing: 0,
      mean: 3,
      m2: 14,
      min_value: 1,
      max_value: 6,
    });
    // b: 10 and 30 present, two missing: mean 20, squared deviations 100 + 100.
    expect(b).toMatchObject({
      kind: 'feature',
      position: 2,
      records: 4,
      missing: 2,
      mean: 20,
      m2: 200,
      min_value: 10,
      max_value: 30,
    });
    const bBins = lines.filter((l) => l.name === 'b' && l.bin !== undefined);
    expect(bBins.map((l) => [l.bin, l.records])).toEqual([
      [binOf(10), 1],
      [binOf(30), 1],
    ]);
    expect(lines[0]).toMatchObject({
      kind: 'model',
      name: 'binary',
      records: 4,
      missing: 0,
      positive_label: '1',
    });
  });

  it('writes each line as JSON.stringify would, names with quotes and accents included', () => {
    const stats = new FeatureStatistics(['plain', 'say "hi"', 'été', 'back\\slash']);
    const rows = ['1.5,-2e-9,1e21,7', '-0.25,,3,0', '123456.789,0.1,NaN,5e-324'];
    for (const [i, row] of rows.entries()) {
      const bytes = Buffer.from(row);
      stats.addRow(bytes, 0, bytes.length, i / 3, 1, undefined);
    }
    const text = stats.toJsonLines({
      runId: 'r',
      variant: 'v',
      shardId: 'shard "0"',
      parsedAt: '2026-01-01T00:00:00.000Z',
      threshold: 0.5,
      labels: ['no', 'yes'],
    });
    const lines = text.trimEnd().split('\n');
    expect(lines.filter((line) => line.includes('"bin":')).length).toBeGreaterThan(10);
    for (const line of lines) expect(line).toBe(JSON.stringify(JSON.parse(line)));
  });

  it("gives the same statistics from values read while checking as from the row's bytes", () => {
    const rows = ['1,10,0.5', '2,,0.25', '3,-4e-3,', '6,30,1e5', '0.001,2,3'];
    const fromBytes = new FeatureStatistics(['a', 'b', 'c']);
    const fromValues = new FeatureStatistics(['a', 'b', 'c']);
    rows.forEach((row, i) => {
      const bytes = Buffer.from(row);
      fromBytes.addRow(bytes, 0, bytes.length, i / 10, 1, undefined);
      const values = Float64Array.from(row.split(','), (f) => (f === '' ? Number.NaN : Number(f)));
      fromValues.addRowValues(values, values.length, i / 10, 1);
    });
    expect(linesOf(fromValues)).toEqual(linesOf(fromBytes));
    // A row wider than the readers' first buffers (64 values), with null and nan as missing.
    const wideBytes = new FeatureStatistics(undefined);
    const wideValues = new FeatureStatistics(undefined);
    const wide = Array.from({ length: 100 }, (_, i) =>
      i % 7 === 3 ? 'null' : i % 11 === 5 ? 'nan' : `${i}.5`,
    );
    const wideRow = Buffer.from(wide.join(','));
    wideBytes.addRow(wideRow, 0, wideRow.length, 0.5, 1, undefined);
    wideValues.addRowValues(
      Float64Array.from(wide, (f) => (f === 'null' || f === 'nan' ? Number.NaN : Number(f))),
      wide.length,
      0.5,
      1,
    );
    expect(linesOf(wideBytes)).toEqual(linesOf(wideValues));
    expect(linesOf(wideBytes).find((l) => l.name === 'f100' && l.bin === undefined)).toMatchObject({
      records: 1,
      missing: 0,
      min_value: 99.5,
    });
    // Hand-checked: c holds 0.5, 0.25, 1e5, 3 and one missing value.
    expect(linesOf(fromValues).find((l) => l.name === 'c' && l.bin === undefined)).toMatchObject({
      records: 5,
      missing: 1,
      min_value: 0.25,
      max_value: 1e5,
    });
  });

  it('calls a model regression when a score leaves [0, 1] and multiclass when it gives a score per class', () => {
    const regression = new FeatureStatistics(undefined);
    regression.addRow(Buffer.from('1'), 0, 1, 152.5, 1, '140');
    expect(regression.modelKind(undefined)).toBe('regression');
    const multiclass = new FeatureStatistics(undefined);
    multiclass.addRow(Buffer.from('1'), 0, 1, 0.8, 3, 'a');
    expect(multiclass.modelKind(undefined)).toBe('multiclass');
    const binary = new FeatureStatistics(undefined);
    binary.addRow(Buffer.from('1'), 0, 1, 0.8, 1, undefined);
    expect(binary.modelKind(['no', 'yes'])).toBe('binary');
  });
});

describe('statsLocation', () => {
  it('keeps the path under the results table and moves it under <table>_stats', () => {
    expect(
      statsLocation(
        's3://b/results/predictions/',
        's3://b/results/predictions/run_date=d/run_id=r/variant=v/part-0000.json',
      ),
    ).toBe('s3://b/results/predictions_stats/run_date=d/run_id=r/variant=v/part-0000.json');
    expect(() => statsLocation('s3://b/results/predictions/', 's3://b/elsewhere/x.json')).toThrow(
      InvalidInputError,
    );
  });
});

describe('normalizeActual', () => {
  it('stores class indexes as their labels, numbers canonically, and empty values as missing', () => {
    expect(normalizeActual('1', ['malignant', 'benign'])).toBe('benign');
    expect(normalizeActual('benign', ['malignant', 'benign'])).toBe('benign');
    expect(normalizeActual('1.0', undefined)).toBe('1');
    expect(normalizeActual(' 151.5 ', undefined)).toBe('151.5');
    expect(normalizeActual('', undefined)).toBeUndefined();
    expect(normalizeActual('NaN', undefined)).toBeUndefined();
    expect(normalizeActual('unknown', ['a', 'b'])).toBe('unknown');
  });
});

describe('modelInputFilter', () => {
  it('keeps the id and actual columns from the model with a slice when the rest are contiguous', () => {
    expect(modelInputFilter(['id', 'a', 'b', 'y'], [0, 3])).toBe('$[1:3]');
    expect(modelInputFilter(['id', 'a', 'b'], [0, -1])).toBe('$[1:]');
    expect(modelInputFilter(['a', 'b', 'y'], [-1, 2])).toBe('$[0:2]');
    expect(modelInputFilter(['a', 'id', 'b', 'y'], [1, 3])).toBe('$[0,2]');
    expect(modelInputFilter(['a', 'b'], [-1, -1])).toBeUndefined();
  });

  it('refuses a filter longer than AWS accepts, saying how to fix it', () => {
    const names = Array.from({ length: 40 }, (_, i) => `c${i}`);
    expect(() => modelInputFilter(names, [5, 39])).toThrow(
      /63-character InputFilter limit: put the id and actual columns first or last/,
    );
  });
});
