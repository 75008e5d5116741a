import { describe, expect, it } from 'vitest';
import { formatCount, formatDecimal, formatFixed } from '../../src/core/number-format.js';

/** Values where the ways of rounding differ: ties in the shortest decimal form, signs, magnitudes. */
function values(): number[] {
  const list = [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, 999.9996, 1234.5, 1e6, 123456789.123456, -98765.4321];
  list.push(1.005, 0.0001, 0.00049, 5e-5, -5e-7, 999999.95, 0.1 + 0.2, 1e20, -1e15, 24.15, 7.13775, 45.2245);
  // A fixed pseudo-random spread over twelve orders of magnitude (the same values every run).
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = 0; i < 20000; i++) {
    list.push((next() - 0.3) * 10 ** (Math.floor(next() * 14) - 4));
    list.push(Math.round(next() * 1e6) / 10 ** (i % 6));
  }
  return list;
}

describe('number formats', () => {
  it('print what Intl.NumberFormat en-US prints, for counts, fixed and at-most decimals', () => {
    const mismatches: string[] = [];
    const check = (got: string, want: string, what: string) => {
      if (got !== want) mismatches.push(`${what}: ${got} ≠ ${want}`);
    };
    for (const v of values()) {
      check(
        formatCount(v),
        new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(v),
        `count ${v}`,
      );
      const fixed = new Intl.NumberFormat('en-US', { minimumFractionDigits: 4, maximumFractionDigits: 4 });
      check(formatFixed(v, 4), fixed.format(v), `fixed ${v}`);
      for (const digits of [1, 3, 4]) {
        const want = new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(v);
        check(formatDecimal(v, digits), want, `decimal(${digits}) ${v}`);
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it('shows the usual cases as a reader expects them', () => {
    expect(formatCount(1_000_000)).toBe('1,000,000');
    expect(formatCount(569)).toBe('569');
    expect(formatFixed(1234.5, 4)).toBe('1,234.5000');
    expect(formatDecimal(24.15, 1)).toBe('24.2');
    expect(formatDecimal(-0.00001, 3)).toBe('-0');
    expect(formatDecimal(1e21, 3)).toBe('1e+21');
  });
});
