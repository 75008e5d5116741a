import { describe, expect, it } from 'vitest';
import {
  copyNumberListWithNulls,
  jsonNumberValue,
  NumberListParse,
  PlainNumberLists,
} from '../../src/core/json-numbers.js';

function scanOf(text: string): { fields: number; emptyFields: number } | false {
  const scan = new NumberListParse();
  const bytes = Buffer.from(`#${text}#`);
  // Scanned inside a larger buffer, as ParseResults does: only [start, end) may count.
  return scan.parse(bytes, 1, bytes.length - 1)
    ? { fields: scan.fields, emptyFields: scan.emptyFields }
    : false;
}

/** Whether JSON.parse reads every non-empty field as a number (exponents of one or two digits). */
function jsonNumberFields(text: string): boolean {
  return text.split(',').every((f) => {
    if (f === '') return true;
    if (/[eE][+-]?\d{3}/.test(f)) return false;
    try {
      return typeof JSON.parse(f) === 'number';
    } catch {
      return false;
    }
  });
}

/** A small seeded generator, so a failure names a case that can be re-run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('NumberListScan', () => {
  it('accepts comma-separated JSON numbers and counts them', () => {
    expect(scanOf('17.99,10.38,-122.8,0,0.5,1e5,2E-7,3.5e+10')).toEqual({ fields: 8, emptyFields: 0 });
    expect(scanOf('0')).toEqual({ fields: 1, emptyFields: 0 });
    expect(scanOf('-0.0')).toEqual({ fields: 1, emptyFields: 0 });
  });

  it('counts empty fields (missing values) anywhere in the line', () => {
    expect(scanOf('1,,2')).toEqual({ fields: 3, emptyFields: 1 });
    expect(scanOf(',1')).toEqual({ fields: 2, emptyFields: 1 });
    expect(scanOf('1,')).toEqual({ fields: 2, emptyFields: 1 });
    expect(scanOf(',')).toEqual({ fields: 2, emptyFields: 2 });
  });

  it('rejects what JSON would not read as a number, so such lines take the checked path', () => {
    for (const text of [
      '+1',
      '.5',
      '5.',
      '01',
      '-',
      '1e',
      '1e+',
      '1.2.3',
      '1-2',
      'nan',
      '1,nan',
      ' 1',
      '1 ',
      '"1"',
      '1e100',
      'Infinity',
      '0x10',
      '1,2;3',
      '--1',
      '1ee2',
    ]) {
      expect(scanOf(text), text).toBe(false);
    }
  });

  it('leaves fields over 200 bytes to the checked path (they might overflow a double)', () => {
    expect(scanOf(`1,${'9'.repeat(200)}`)).toEqual({ fields: 2, emptyFields: 0 });
    expect(scanOf(`1,${'9'.repeat(201)}`)).toBe(false);
    expect(scanOf(`${'9'.repeat(201)},1`)).toBe(false);
  });

  it('agrees with JSON.parse on random byte strings over the number alphabet', () => {
    const next = random(42);
    const plainLists = new PlainNumberLists();
    const alphabet = '0123456789-+.eE,';
    for (let n = 0; n < 20_000; n++) {
      let text = '';
      const length = 1 + Math.floor(next() * 8);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
      const fields = text.split(',');
      const jsonOk = jsonNumberFields(text);
      const scanned = scanOf(text);
      expect(scanned !== false, text).toBe(jsonOk);
      if (scanned) expect(scanned.emptyFields, text).toBe(fields.filter((f) => f === '').length);
      // The RegExp used first for the common line agrees: a list with no empty field.
      const plain = scanned !== false && scanned.emptyFields === 0;
      const line = `#${text}\n`;
      expect(plainLists.isPlainList(line, 1, line.length - 1, -1), text).toBe(plain);
      expect(plainLists.isPlainList(line, 1, line.length - 1, fields.length), text).toBe(plain);
      expect(plainLists.isPlainList(line, 1, line.length - 1, fields.length + 1), text).toBe(false);
    }
  });
});

describe('NumberListParse', () => {
  /** Each field's value as JSON.parse reads it; NaN for an empty field. */
  function referenceValues(text: string): number[] {
    return text.split(',').map((f) => (f === '' ? Number.NaN : (JSON.parse(f) as number)));
  }

  function parsed(text: string): { fields: number; emptyFields: number; values: number[] } | false {
    const parse = new NumberListParse();
    const bytes = Buffer.from(`7${text}7`);
    if (!parse.parse(bytes, 1, bytes.length - 1)) return false;
    return {
      fields: parse.fields,
      emptyFields: parse.emptyFields,
      values: Array.from(parse.values.subarray(0, parse.fields)),
    };
  }

  it('reads the values JSON.parse reads, NaN for an empty field', () => {
    expect(parsed('17.99,10.38,-122.8,0,0.5,1e5,2E-7,3.5e+10,-0.0')).toEqual({
      fields: 9,
      emptyFields: 0,
      values: [17.99, 10.38, -122.8, 0, 0.5, 1e5, 2e-7, 3.5e10, -0],
    });
    expect(parsed('1,,2,')).toEqual({ fields: 4, emptyFields: 2, values: [1, Number.NaN, 2, Number.NaN] });
    expect(parsed('')).toEqual({ fields: 1, emptyFields: 1, values: [Number.NaN] });
    // Past the fast path (16+ significant digits, powers of ten beyond 10^22): still JSON.parse's double.
    for (const text of ['0.12345678901234567', '123456789012345678', '1.5e-30', '9.999999999999999e99']) {
      expect(parsed(text), text).toEqual({ fields: 1, emptyFields: 0, values: [JSON.parse(text)] });
    }
  });

  it('accepts exactly the lines JSON.parse reads as numbers, on random strings over the number alphabet', () => {
    const next = random(7);
    const alphabet = '0123456789-+.eE,';
    for (let n = 0; n < 20_000; n++) {
      let text = '';
      const length = 1 + Math.floor(next() * 10);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
      const fields = text.split(',');
      const read = parsed(text);
      expect(read !== false, text).toBe(jsonNumberFields(text));
      if (read) {
        expect([read.fields, read.emptyFields], text).toEqual([
          fields.length,
          fields.filter((f) => f === '').length,
        ]);
        expect(read.values, text).toEqual(referenceValues(text));
      }
    }
    expect(parsed(`1,${'9'.repeat(201)}`)).toBe(false);
    expect(parsed(`1,${'9'.repeat(200)}`)).toEqual({ fields: 2, emptyFields: 0, values: [1, 1e200 - 1] });
  });

  it('reads fields past the fast path from the text it is given, to the same values', () => {
    const parse = new NumberListParse();
    const text = '#0.030077347531914710,0.5,,123456789012345678#';
    const bytes = Buffer.from(text, 'latin1');
    // The text stands for the bytes (as a LineCursor's latin1 text does): only its slices are read.
    expect(parse.parse(bytes, 1, bytes.length - 1, { text: () => text })).toBe(true);
    expect(Array.from(parse.values.subarray(0, parse.fields))).toEqual([
      0.03007734753191471,
      0.5,
      Number.NaN,
      JSON.parse('123456789012345678'),
    ]);
  });

  it('reads random decimals as JSON.parse does, bit for bit', () => {
    const next = random(11);
    const texts: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const value = (next() - 0.5) * 10 ** Math.floor(next() * 24 - 12);
      const digits = 1 + Math.floor(next() * 17);
      texts.push(n % 3 === 0 ? value.toExponential(digits - 1) : String(Number(value.toPrecision(digits))));
    }
    const line = texts.join(',');
    const read = parsed(line);
    if (!read) throw new Error('the line was refused');
    expect(read.fields).toBe(texts.length);
    expect(read.values).toEqual(referenceValues(line));
  });
});

describe('copyNumberListWithNulls', () => {
  it('writes null for each empty field and copies the rest byte for byte', () => {
    for (const [text, expected] of [
      [',1,,2.50,', 'null,1,null,2.50,null'],
      ['1,2', '1,2'],
      [',', 'null,null'],
    ] as const) {
      const source = Buffer.from(`x${text}x`);
      const target = Buffer.alloc(64, 0x20);
      const end = copyNumberListWithNulls(source, 1, source.length - 1, target, 3);
      expect(target.subarray(3, end).toString(), text).toBe(expected);
      expect(JSON.parse(`[${expected}]`)).toHaveLength(expected.split(',').length);
    }
  });
});

describe('jsonNumberValue', () => {
  const numberIn = (text: string) => {
    const bytes = Buffer.from(`[${text}]`);
    return jsonNumberValue(bytes, 1, bytes.length - 1);
  };

  it('reads numbers exactly as Number() does', () => {
    for (const text of [
      '0',
      '-0',
      '0.5',
      '0.1',
      '0.30000000000000004',
      '123456789012345',
      '1234567890123456789',
      '1e22',
      '1e23',
      '1.5e-7',
      '-2.5E+3',
      '0.000001234',
      '9007199254740993',
      '4.35',
      '1e-300',
    ]) {
      expect(Object.is(numberIn(text), Number(text)), text).toBe(true);
    }
  });

  it('matches Number() on random decimals, the threshold comparison depends on it', () => {
    const next = random(7);
    for (let n = 0; n < 50_000; n++) {
      const digits = String(Math.floor(next() * 10 ** (1 + Math.floor(next() * 17))));
      const point = Math.floor(next() * (digits.length + 1));
      let text = point === digits.length ? digits : `${digits.slice(0, point) || '0'}.${digits.slice(point)}`;
      if (next() < 0.3) text += `e${next() < 0.5 ? '-' : ''}${Math.floor(next() * 30)}`;
      if (next() < 0.5) text = `-${text}`;
      expect(numberIn(text), text).toBe(Number(text));
    }
  });
});
