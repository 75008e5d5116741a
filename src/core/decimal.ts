/**
 * The one fast decimal parser: ParseResults' JSON numbers (src/core/json-numbers.ts) and the model
 * server's CSV and libsvm fields (src/model-server/records.ts) both read numbers through it, falling
 * back to `Number()` where it declines.
 */

/** Powers of ten a double holds exactly (10^0 … 10^22). */
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Up to 15 significant digits fit a double's 53-bit mantissa exactly. */
const MAX_EXACT_DIGITS = 15;

/**
 * The value of `bytes[start, end)` when it is exactly a decimal `[+-]digits[.digits][(e|E)[+-]digits]`
 * (digits on at least one side of the point) that the fast path computes exactly; otherwise undefined,
 * and the caller uses `Number()` (or reports the text as no number).
 *
 * Clinger's fast path: with at most 15 significant digits the mantissa is an exact integer below 2^53,
 * and 10^k for k ≤ 22 is exact too, so one multiplication or division is correctly rounded: the same
 * double `Number()` gives. More digits or a larger power of ten give undefined.
 */
export function fastDecimal(bytes: Uint8Array, start: number, end: number): number | undefined {
  let i = start;
  let negative = false;
  if (bytes[i] === 0x2d) {
    negative = true;
    i++;
  } else if (bytes[i] === 0x2b) {
    i++;
  }
  let mantissa = 0;
  let significant = 0;
  let exponent = 0;
  let sawDigit = false;
  for (; i < end; i++) {
    const digit = (bytes[i] as number) - 0x30;
    if (digit < 0 || digit > 9) break;
    if (significant > 0 || digit !== 0) significant++;
    mantissa = mantissa * 10 + digit;
    sawDigit = true;
  }
  if (i < end && bytes[i] === 0x2e) {
    i++;
    for (; i < end; i++) {
      const digit = (bytes[i] as number) - 0x30;
      if (digit < 0 || digit > 9) break;
      if (significant > 0 || digit !== 0) significant++;
      mantissa = mantissa * 10 + digit;
      exponent--;
      sawDigit = true;
    }
  }
  if (!sawDigit) return undefined;
  if (i < end && (bytes[i] === 0x65 || bytes[i] === 0x45)) {
    i++;
    let expNegative = false;
    if (bytes[i] === 0x2d || bytes[i] === 0x2b) {
      expNegative = bytes[i] === 0x2d;
      i++;
    }
    let exp = 0;
    const expStart = i;
    // Five digits at most: a longer exponent is out of the fast path's range anyway.
    for (; i < end && i - expStart < 5; i++) {
      const digit = (bytes[i] as number) - 0x30;
      if (digit < 0 || digit > 9) break;
      exp = exp * 10 + digit;
    }
    if (i === expStart) return undefined;
    exponent += expNegative ? -exp : exp;
  }
  if (i !== end) return undefined;
  const value = exactDecimal(mantissa, significant, exponent);
  if (Number.isNaN(value)) return undefined;
  return negative ? -value : value;
}

/**
 * `mantissa × 10^exponent` when Clinger's fast path makes it exact, else NaN (a number either way, so
 * hot loops never box the result): the arithmetic of every decimal reader in the project (this
 * module's {@link fastDecimal}, ParseResults' one-pass list reader, the model server's CSV reader),
 * which scan their own grammars and count `significant` digits (leading zeros need not count) as they go.
 */
export function exactDecimal(mantissa: number, significant: number, exponent: number): number {
  if (significant > MAX_EXACT_DIGITS) return Number.NaN;
  if (exponent === 0) return mantissa;
  if (exponent < 0 && exponent >= -22) return mantissa / (EXACT_POWERS_OF_TEN[-exponent] as number);
  if (exponent > 0 && exponent <= 22) return mantissa * (EXACT_POWERS_OF_TEN[exponent] as number);
  return Number.NaN;
}
