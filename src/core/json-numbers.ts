import { exactDecimal, fastDecimal } from './decimal.js';

/**
 * Byte-level reading of comma-separated JSON numbers (`1,-2.5,3e-4`), the shape of nearly every numeric
 * CSV line and CSV prediction. Such bytes are already valid JSON array content, so result parsing copies
 * them into rows as they are: no decoding, no field splitting, no float formatting.
 *
 * {@link NumberListParse} checks a line and reads its values in one pass over its bytes (no strings, no
 * allocation), empty fields allowed; {@link PlainNumberLists} is a RegExp for the lines it leaves alone
 * (a field over 200 bytes). That is what lets ParseResults join hundreds of thousands of records a second.
 */

const COMMA = 0x2c;

/**
 * At most this many bytes per field: with at most two exponent digits, such a number is below 1e300
 * and so finite as a double. Longer fields (valid or not) are left to the caller's checked path.
 */
const MAX_FIELD_BYTES = 200;

/**
 * One JSON number as written in the common case: the grammar {@link NumberListParse} reads, integer
 * digits capped at 200 and the exponent at two digits, so the value is finite.
 */
const JSON_NUMBER = String.raw`-?(?:0|[1-9]\d{0,199})(?:\.\d+)?(?:[eE][+-]?\d\d?)?`;

/**
 * Lists of JSON numbers with no empty field, matched by a RegExp (native code) on a line's latin1 text:
 * what ParseResults copies as it is when {@link NumberListParse} declines a field over 200 bytes.
 */
export class PlainNumberLists {
  /** Sticky RegExps for lists of exactly n numbers (key n) or any number of them (key -1). */
  private readonly lists = new Map<number, RegExp>();

  /** Whether `text[start, end)` is exactly a list of `count` JSON numbers (any count when -1), none empty. */
  isPlainList(text: string, start: number, end: number, count: number): boolean {
    let list = this.lists.get(count);
    if (!list) {
      const rest = count === -1 ? '*' : `{${count - 1}}`;
      list = new RegExp(`${JSON_NUMBER}(?:,${JSON_NUMBER})${rest}`, 'y');
      this.lists.set(count, list);
    }
    list.lastIndex = start;
    return list.test(text) && list.lastIndex === end;
  }
}

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;

/**
 * Checks that a line is exactly a comma-separated list of JSON numbers and empty fields, and reads each
 * field's value as `jsonNumberValue` would (NaN for an empty field), walking its bytes once. Anything
 * else gives false (`nan`, quotes, spaces, `+1`, `.5`, `01`, a 3-digit exponent, a field over 200 bytes):
 * the caller reads those the slow, checked way. One instance is reused line after line.
 */
export class NumberListParse {
  /** Fields in the last line accepted, empty ones included. */
  fields = 0;
  /** Empty fields in the last line accepted. */
  emptyFields = 0;
  /** The last accepted line's values, `fields` of them (NaN for an empty field); reused line after line. */
  values = new Float64Array(64);

  /**
   * Whether `bytes[start, end)` is exactly a comma-separated list of JSON numbers and empty fields; when
   * it is, {@link values} holds them. `source`, when given, is the same bytes as latin1 text (as a
   * LineCursor gives it, made once per chunk): fields past the fast decimal path (XGBoost writes
   * scores with 17 digits) are read from it instead of from a string made for each field.
   */
  parse(bytes: Uint8Array, start: number, end: number, source?: { text(): string }): boolean {
    let values = this.values;
    let field = 0;
    let empty = 0;
    let i = start;
    for (;;) {
      const fieldStart = i;
      let value: number;
      if (i === end || bytes[i] === COMMA) {
        value = Number.NaN;
        empty += 1;
      } else {
        let negative = false;
        if (bytes[i] === MINUS) {
          negative = true;
          i += 1;
        }
        let mantissa = 0;
        let significant = 0;
        let exponent = 0;
        const first = i < end ? (bytes[i] as number) : -1;
        if (first === ZERO) i += 1;
        else if (first > ZERO && first <= 0x39) {
          for (; i < end; i += 1) {
            const digit = (bytes[i] as number) - ZERO;
            if (digit >>> 0 > 9) break;
            mantissa = mantissa * 10 + digit;
            significant += 1;
          }
        } else return false;
        if (i < end && bytes[i] === DOT) {
          i += 1;
          const fractionStart = i;
          for (; i < end; i += 1) {
            const digit = (bytes[i] as number) - ZERO;
            if (digit >>> 0 > 9) break;
            if (significant > 0 || digit !== 0) significant += 1;
            mantissa = mantissa * 10 + digit;
          }
          if (i === fractionStart) return false;
          exponent = fractionStart - i;
        }
        if (i < end && ((bytes[i] as number) | 0x20) === 0x65) {
          i += 1;
          let exponentNegative = false;
          if (bytes[i] === PLUS || bytes[i] === MINUS) {
            exponentNegative = bytes[i] === MINUS;
            i += 1;
          }
          // One or two digits: longer exponents take the caller's checked path.
          const d1 = i < end ? (bytes[i] as number) - ZERO : -1;
          if (d1 >>> 0 > 9) return false;
          i += 1;
          let written = d1;
          const d2 = i < end ? (bytes[i] as number) - ZERO : -1;
          if (d2 >>> 0 <= 9) {
            written = written * 10 + d2;
            i += 1;
          }
          exponent += exponentNegative ? -written : written;
        }
        if ((i < end && bytes[i] !== COMMA) || i - fieldStart > MAX_FIELD_BYTES) return false;
        const exact = exactDecimal(mantissa, significant, exponent);
        if (!Number.isNaN(exact)) {
          value = negative ? -exact : exact;
        } else {
          value = Number(
            source
              ? source.text().slice(fieldStart, i)
              : Buffer.from(bytes.buffer, bytes.byteOffset + fieldStart, i - fieldStart).toString('latin1'),
          );
        }
      }
      if (field === values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
        this.values = grown;
      }
      values[field] = value;
      field += 1;
      if (i >= end) break;
      i += 1; // past the comma
    }
    this.fields = field;
    this.emptyFields = empty;
    return true;
  }
}

/**
 * Copies a list {@link NumberListParse} accepted into `target` at `at`, writing `null` for each empty
 * field; returns the position after it. The caller makes room: the list's length plus 4 bytes per
 * empty field.
 */
export function copyNumberListWithNulls(
  bytes: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  at: number,
): number {
  let out = at;
  let fieldEmpty = true;
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (byte === COMMA) {
      if (fieldEmpty) out = writeNull(target, out);
      fieldEmpty = true;
    } else {
      fieldEmpty = false;
    }
    target[out++] = byte;
  }
  if (fieldEmpty) out = writeNull(target, out);
  return out;
}

function writeNull(target: Uint8Array, at: number): number {
  target[at] = 0x6e;
  target[at + 1] = 0x75;
  target[at + 2] = 0x6c;
  target[at + 3] = 0x6c;
  return at + 4;
}

/**
 * The value of one JSON number in `bytes[start, end)` (a list {@link NumberListParse} accepted as one
 * non-empty field), correctly rounded: the project's one fast decimal parser (src/core/decimal.ts),
 * else `Number()`.
 */
export function jsonNumberValue(bytes: Uint8Array, start: number, end: number): number {
  return (
    fastDecimal(bytes, start, end) ??
    Number(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1'))
  );
}
