import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import {
  parseCsvNumber,
  parseCsvRecords,
  parseLibsvmRecords,
  sniffDelimiter,
} from '../../src/model-server/records.js';

const ROOT = join(import.meta.dirname, '../..');
const bytes = (text: string) => Buffer.from(text, 'utf8');

/** A deterministic generator, so failures reproduce. */
function lcg(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('parseCsvNumber', () => {
  it('returns the same double as Number() for decimal text of any length and exponent', () => {
    const random = lcg(42);
    const texts: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const value = (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
      const digits = 1 + Math.floor(random() * 17);
      texts.push(value.toPrecision(digits), value.toExponential(digits - 1), String(value));
    }
    texts.push('0', '-0', '+7', '.5', '5.', '1e5', '1E-5', '123456789012345', '1234567890123456', '0.1e23');

    const mismatches = texts.filter((text) => !Object.is(parseCsvNumber(text), Number(text)));

    expect(mismatches).toEqual([]);
  });

  it('returns NaN for an empty field, blanks or "nan", and infinity for "inf"', () => {
    expect([parseCsvNumber(''), parseCsvNumber('  '), parseCsvNumber('NaN')]).toEqual([
      Number.NaN,
      Number.NaN,
      Number.NaN,
    ]);
    expect(parseCsvNumber('-inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseCsvNumber(' 2.5 ')).toBe(2.5);
  });

  it('throws InvalidInputError for text that is not a number', () => {
    for (const text of ['abc', '1.2.3', '0x10', '1e', '--1', '1,5']) {
      expect(() => parseCsvNumber(text), text).toThrow(InvalidInputError);
    }
  });
});

describe('parseCsvRecords', () => {
  it('reads one record per line with empty fields as missing values', () => {
    const { values, numRows } = parseCsvRecords(bytes('1,2,3\n4,,6\n,,\n'));

    expect(numRows).toBe(3);
    expect(Array.from(values)).toEqual([1, 2, 3, 4, Number.NaN, 6, Number.NaN, Number.NaN, Number.NaN]);
  });

  it('reads CRLF line ends and a last line without a newline', () => {
    const { values, numRows } = parseCsvRecords(bytes('1.5,2\r\n3,4.25'));

    expect(numRows).toBe(2);
    expect(Array.from(values)).toEqual([1.5, 2, 3, 4.25]);
  });

  it('reads random decimal fields as Number() does, rounded to float32, whatever their length', () => {
    const random = lcg(7);
    const rows: string[][] = [];
    for (let r = 0; r < 2000; r++) {
      const row: string[] = [];
      for (let c = 0; c < 8; c++) {
        const digits = String(Math.floor(random() * 10 ** (1 + Math.floor(random() * 19))));
        const point = Math.floor(random() * (digits.length + 1));
        let text = point === digits.length ? digits : `${digits.slice(0, point)}.${digits.slice(point)}`;
        if (text.startsWith('.')) text = `0${text}`;
        if (random() < 0.2) text = `00${text}`;
        if (random() < 0.2) text += `e${random() < 0.5 ? '-' : ''}${Math.floor(random() * 40)}`;
        if (random() < 0.5) text = `-${text}`;
        row.push(text);
      }
      rows.push(row);
    }
    const { values, numRows } = parseCsvRecords(Buffer.from(rows.map((row) => row.join(',')).join('\n')));

    const expected = rows.flat().map((text) => Math.fround(Number(text)));
    const mismatches = expected.flatMap((value, i) =>
      Object.is(values[i], value) ? [] : [`${rows.flat()[i]}: ${values[i]} != ${value}`],
    );
    expect(numRows).toBe(2000);
    expect(mismatches).toEqual([]);
  });

  it('stores each value rounded to float32 from the correctly rounded double', () => {
    const text = readFileSync(join(ROOT, 'examples/sample/input/part-0001.csv'), 'utf8');
    const expected = text
      .trimEnd()
      .split('\n')
      .flatMap((line) => line.split(',').map((v) => (v === '' ? Number.NaN : Math.fround(Number(v)))));

    const { values, numRows } = parseCsvRecords(bytes(text));

    expect(numRows).toBe(300);
    expect(Array.from(values)).toEqual(expected);
  });

  it('reads a quoted field as an unreadable value, as the container (no quote handling) does', () => {
    expect(() => parseCsvRecords(bytes('"1.5",2\n'))).toThrow(
      'Record 1 has a non-numeric value in field 1: "\\"1.5\\""',
    );
  });

  it('names the record and the counts when a record has another number of values than the first', () => {
    expect(() => parseCsvRecords(bytes('1,2,3\n1,2\n'))).toThrow(
      'Record 2 has 2 values but the first record has 3',
    );
    expect(() => parseCsvRecords(bytes('1,2,3\r\n1,2,3,4,5\r\n'))).toThrow(
      'Record 2 has 5 values but the first record has 3',
    );
  });

  it('reads the delimiter csv.Sniffer finds in the first line: tab, semicolon, space, pipe', () => {
    for (const [text, expected] of [
      ['1\t2\n\t3', [1, 2, Number.NaN, 3]],
      ['1;2\n3;4', [1, 2, 3, 4]],
      ['1 2\n3 4', [1, 2, 3, 4]],
      ['1|2|3', [1, 2, 3]],
    ] as const) {
      expect(Array.from(parseCsvRecords(bytes(text)).values), text).toEqual(expected);
    }
  });

  it('strips the body first, as the container does, so leading and trailing blank lines are not records', () => {
    const { numRows, values } = parseCsvRecords(bytes('\n\n1,2\n3,4\n\n'));

    expect([numRows, ...values]).toEqual([2, 1, 2, 3, 4]);
  });

  it('names the record and the field when a value is not numeric', () => {
    expect(() => parseCsvRecords(bytes('1,2\n3,4\n5,six\n'))).toThrow(
      'Record 3 has a non-numeric value in field 2: "six"',
    );
  });

  it('rejects an empty line inside the request instead of dropping it, so outputs stay aligned', () => {
    expect(() => parseCsvRecords(bytes('1,2\n\n3,4\n'))).toThrow(
      'Record 2 has 1 value but the first record has 2',
    );
  });

  it('returns no rows for an empty body', () => {
    expect(parseCsvRecords(bytes('')).numRows).toBe(0);
  });
});

describe('sniffDelimiter', () => {
  it("picks the delimiter Python's csv.Sniffer picks, a letter or digit meaning a comma", () => {
    const lines = [
      '1.5,2',
      '1.5\t2',
      '1.5;2',
      '1.5 2',
      '0.5',
      '-0.25',
      '12',
      '1,2;3',
      '1.5|2|3',
      '1.5,,2',
      ',1',
      '1e-05,2',
      '1.5 , 2',
      'nan,1',
      '1:2',
      '-1.5e-05',
    ];
    const script =
      'import csv, json, sys\n' +
      'out = []\n' +
      'for line in json.load(sys.stdin):\n' +
      '    d = csv.Sniffer().sniff(line).delimiter\n' +
      '    out.append("," if d.isalnum() else d)\n' +
      'print(json.dumps(out))\n';
    const python = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(lines) }).toString(),
    ) as string[];

    expect(lines.map((line) => String.fromCharCode(sniffDelimiter(bytes(line))))).toEqual(python);
  });
});

describe('parseLibsvmRecords', () => {
  it('reads 1-based index:value pairs, absent indices as missing, the label ignored', () => {
    const { values, numRows } = parseLibsvmRecords(bytes('1 1:0.5 3:2\n0 2:-1\n'), 3);

    expect(numRows).toBe(2);
    expect(Array.from(values)).toEqual([0.5, Number.NaN, 2, Number.NaN, -1, Number.NaN]);
  });

  it('reads indices as 0-based when one of them is 0, as the container does', () => {
    const { values } = parseLibsvmRecords(bytes('0:1 2:3'), 3);

    expect(Array.from(values)).toEqual([1, Number.NaN, 3]);
  });

  it('names the record when an index is beyond the model or a value is not a number', () => {
    expect(() => parseLibsvmRecords(bytes('1:1\n4:1'), 3)).toThrow(
      "Record 2 has feature index 4, beyond the model's 3 features",
    );
    expect(() => parseLibsvmRecords(bytes('1:x'), 3)).toThrow('Record 1 has a non-numeric value');
  });
});
