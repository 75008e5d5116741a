import { exactDecimal, fastDecimal } from './decimal.js';

/**
 * Byte-level recognition of comma-separated JSON numbers (`1,-2.5,3e-4`), the shape of nearly every
 * numeric CSV line and CSV prediction. Such bytes are already valid JSON array content, so result
 * parsing copies them into rows as they are: no decoding, no field splitting, no float formatting.
 *
 * The common line (no empty field) is checked by a sticky RegExp, which V8 runs as native code; the
 * rest by a table-driven automaton (one table load per byte, no strings, no allocation), which also
 * accepts empty fields. That is what lets ParseResults join hundreds of thousands of records a second.
 */

// Byte classes.
// Class 0 is any other byte: Uint8Array starts zeroed.
const K_ZERO = 1;
const K_DIGIT = 2; // 1-9
const K_MINUS = 3;
const K_PLUS = 4;
const K_DOT = 5;
const K_EXP = 6; // e or E
const K_COMMA = 7;
const COMMA = 0x2c;
const CLASSES = 8;

const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS[0x30] = K_ZERO;
for (let c = 0x31; c <= 0x39; c++) BYTE_CLASS[c] = K_DIGIT;
BYTE_CLASS[0x2d] = K_MINUS;
BYTE_CLASS[0x2b] = K_PLUS;
BYTE_CLASS[0x2e] = K_DOT;
BYTE_CLASS[0x65] = K_EXP;
BYTE_CLASS[0x45] = K_EXP;
BYTE_CLASS[0x2c] = K_COMMA;

// States of `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,2})?`, fields separated by commas. The
// exponent is held to two digits so no number written this way overflows a double (with the field
// length cap below): longer ones take the caller's checked path.
const S_START = 0;
const S_MINUS = 1;
const S_ZERO = 2;
const S_INT = 3;
const S_DOT = 4;
const S_FRACTION = 5;
const S_EXP = 6;
const S_EXP_SIGN = 7;
const S_EXP_DIGIT = 8;
const S_EXP_DIGITS = 9;
const S_REJECT = 10;
const STATES = 11;

const NEXT = new Uint8Array(STATES * CLASSES).fill(S_REJECT);
const on = (state: number, byteClass: number, next: number) => {
  NEXT[state * CLASSES + byteClass] = next;
};
on(S_START, K_MINUS, S_MINUS);
on(S_START, K_ZERO, S_ZERO);
on(S_START, K_DIGIT, S_INT);
on(S_START, K_COMMA, S_START); // an empty field: counted, and checked by the scan loop
on(S_MINUS, K_ZERO, S_ZERO);
on(S_MINUS, K_DIGIT, S_INT);
for (const state of [S_ZERO, S_INT, S_FRACTION]) {
  on(state, K_EXP, S_EXP);
  on(state, K_COMMA, S_START);
}
on(S_ZERO, K_DOT, S_DOT);
on(S_INT, K_DOT, S_DOT);
on(S_INT, K_ZERO, S_INT);
on(S_INT, K_DIGIT, S_INT);
on(S_DOT, K_ZERO, S_FRACTION);
on(S_DOT, K_DIGIT, S_FRACTION);
on(S_FRACTION, K_ZERO, S_FRACTION);
on(S_FRACTION, K_DIGIT, S_FRACTION);
on(S_EXP, K_PLUS, S_EXP_SIGN);
on(S_EXP, K_MINUS, S_EXP_SIGN);
for (const state of [S_EXP, S_EXP_SIGN]) {
  on(state, K_ZERO, S_EXP_DIGIT);
  on(state, K_DIGIT, S_EXP_DIGIT);
}
on(S_EXP_DIGIT, K_ZERO, S_EXP_DIGITS);
on(S_EXP_DIGIT, K_DIGIT, S_EXP_DIGITS);
on(S_EXP_DIGIT, K_COMMA, S_START);
on(S_EXP_DIGITS, K_COMMA, S_START);

/** NEXT by byte rather than byte class: one table load per byte in the scan loop. */
const NEXT_BY_BYTE = new Uint8Array(STATES * 256);
for (let state = 0; state < STATES; state++) {
  for (let byte = 0; byte < 256; byte++) {
    NEXT_BY_BYTE[state * 256 + byte] = NEXT[state * CLASSES + (BYTE_CLASS[byte] as number)] as number;
  }
}

const ACCEPTING = new Uint8Array(STATES);
for (const state of [S_ZERO, S_INT, S_FRACTION, S_EXP_DIGIT, S_EXP_DIGITS]) ACCEPTING[state] = 1;

/**
 * At most this many bytes per field: with at most two exponent digits, such a number is below 1e300
 * and so finite as a double. Longer fields (valid or not) are left to the caller's checked path.
 */
const MAX_FIELD_BYTES = 200;

/**
 * One JSON number as written in the common case: the same grammar as the automaton, integer digits
 * capped at 200 and the exponent at two digits, so the value is finite.
 */
const JSON_NUMBER = String.raw`-?(?:0|[1-9]\d{0,199})(?:\.\d+)?(?:[eE][+-]?\d\d?)?`;

/**
 * Scans a line for a comma-separated list of JSON numbers, empty fields allowed (CSV's missing
 * values). One instance is reused line after line, so scanning allocates nothing.
 */
export class NumberListScan {
  /** Fields in the last line scanned, empty ones included. */
  fields = 0;
  /** Empty fields in the last line scanned (each is written as `null`). */
  emptyFields = 0;

  /** Sticky RegExps for lists of exactly n numbers (key n) or any number of them (key -1). */
  private readonly lists = new Map<number, RegExp>();

  /**
   * Whether `text[start, end)` is exactly a list of `count` JSON numbers (any count when -1) with no
   * empty field: the common line, checked by a RegExp (native code, faster than {@link scan}'s byte
   * loop). False says nothing more: {@link scan} then tells empty fields from what is no number.
   */
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

  /**
   * Whether `bytes[start, end)` is exactly a comma-separated list of JSON numbers and empty fields.
   * Anything else gives false (`nan`, quotes, spaces, `+1`, `.5`, `01`, a 3-digit exponent, a field
   * over 200 bytes): the caller parses those the slow, checked way.
   */
  scan(bytes: Uint8Array, start: number, end: number): boolean {
    let state = S_START;
    let fields = 1;
    let empty = 0;
    let fieldStart = start;
    for (let i = start; i < end; i++) {
      const byte = bytes[i] as number;
      state = NEXT_BY_BYTE[(state << 8) | byte] as number;
      if (byte === COMMA) {
        if (i === fieldStart) empty += 1;
        else if (i - fieldStart > MAX_FIELD_BYTES) return false;
        fields += 1;
        fieldStart = i + 1;
      }
    }
    // Ending in S_START means the last field is empty (the line ends with a comma, or is empty).
    if (state === S_START) empty += 1;
    else if (ACCEPTING[state] === 0 || end - fieldStart > MAX_FIELD_BYTES) return false;
    this.fields = fields;
    this.emptyFields = empty;
    return true;
  }
}

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;

/**
 * {@link NumberListScan.scan} and {@link jsonNumberValue} in one pass: checks a line is a list of JSON
 * numbers and empty fields, exactly as `scan` accepts it, and reads each field's value as
 * `jsonNumberValue` would (NaN for an empty field) while walking its bytes once. ParseResults reads
 * every feature of every row for the run's statistics: reading while checking halves that work.
 */
export class NumberListParse {
  /** Fields in the last line accepted, empty ones included. */
  fields = 0;
  /** Empty fields in the last line accepted. */
  emptyFields = 0;
  /** The last accepted line's values, `fields` of them (NaN for an empty field); reused line after line. */
  values = new Float64Array(64);

  /**
   * Whether `bytes[start, end)` is exactly a comma-separated list of JSON numbers and empty fields (the
   * same answer as {@link NumberListScan.scan}); when it is, {@link values} holds them.
   */
  parse(bytes: Uint8Array, start: number, end: number): boolean {
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
          // One or two digits, as scan's automaton allows.
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
            Buffer.from(bytes.buffer, bytes.byteOffset + fieldStart, i - fieldStart).toString('latin1'),
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
 * Copies a list {@link NumberListScan} accepted into `target` at `at`, writing `null` for each empty
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
 * The value of one JSON number in `bytes[start, end)` (a list {@link NumberListScan} accepted as one
 * non-empty field), correctly rounded: the project's one fast decimal parser (src/core/decimal.ts),
 * else `Number()`.
 */
export function jsonNumberValue(bytes: Uint8Array, start: number, end: number): number {
  return (
    fastDecimal(bytes, start, end) ??
    Number(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1'))
  );
}
