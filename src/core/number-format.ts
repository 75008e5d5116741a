/**
 * Numbers as the CLI, the progress lines and the run report print them, in the en-US style
 * (`1,234,567.5`), written out here rather than with Intl: the first Intl number format in a process
 * loads ICU's locale data, about 12 ms of every run's start, for three patterns.
 *
 * The output is Intl.NumberFormat('en-US')'s (test/unit/number-format.test.ts compares them): rounding
 * works on the number's shortest decimal form, as printed elsewhere (24.15 → "24.2", where `toFixed`,
 * working on the binary value 24.1499…, says "24.1"), a tie away from zero, and a negative number keeps
 * its sign even when it rounds to zero ("-0").
 */

/** Thousands separators in the integer part of a plain decimal ("1234567.50" → "1,234,567.50"). */
function groupThousands(decimal: string): string {
  const point = decimal.indexOf('.');
  const whole = point < 0 ? decimal : decimal.slice(0, point);
  return whole.replace(/\B(?=(\d{3})+$)/g, ',') + (point < 0 ? '' : decimal.slice(point));
}

/**
 * `value` rounded to `digits` decimals, as a plain decimal with exactly that many, thousands separated;
 * `trim` drops trailing zeros (and a bare point).
 */
function format(value: number, digits: number, trim: boolean): string {
  if (!Number.isFinite(value) || Math.abs(value) >= 1e21) return String(value);
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const shortest = String(Math.abs(value));
  let whole: string;
  let fraction: string;
  if (shortest.includes('e')) {
    // Below 1e-6 (the only exponent form left): zero at any precision used here (at most 6 decimals).
    whole = '0';
    fraction = '';
  } else {
    [whole = '0', fraction = ''] = shortest.split('.');
  }
  let kept = `${whole}${fraction.slice(0, digits).padEnd(digits, '0')}`;
  if ((fraction[digits] ?? '0') >= '5') kept = (BigInt(kept) + 1n).toString().padStart(kept.length, '0');
  let text = digits === 0 ? kept : `${kept.slice(0, -digits) || '0'}.${kept.slice(-digits)}`;
  if (trim && digits > 0) text = text.replace(/\.?0+$/, '');
  return sign + groupThousands(text);
}

/** An integer with thousands separators, rounded when not one: 1000000 → "1,000,000". */
export function formatCount(value: number): string {
  return format(value, 0, false);
}

/** Exactly `digits` decimals, thousands separators: (1234.5, 4) → "1,234.5000". */
export function formatFixed(value: number, digits: number): string {
  return format(value, digits, false);
}

/** At most `digits` decimals (no trailing zeros), thousands separators: (1234.5, 3) → "1,234.5". */
export function formatDecimal(value: number, digits: number): string {
  return format(value, digits, true);
}

/**
 * A size as the CLI prints it everywhere (`runs`, the manifest line, what a cleanup freed): 117.0 KB,
 * 1.4 MB.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
