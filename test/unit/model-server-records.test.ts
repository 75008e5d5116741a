import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import {
  CsvInvocation,
  formatPredictions,
  parseCsvNumber,
  parseCsvRecords,
  parseJsonLinesRecords,
  parseJsonRecords,
} from '../../src/model-server/records.js';
import { loadXGBoostModel } from '../../src/model-server/xgboost-model.js';

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
    const { values, numRows } = parseCsvRecords(bytes('1,2,3\n4,,6\n,,\n'), 3);

    expect(numRows).toBe(3);
    expect(Array.from(values)).toEqual([1, 2, 3, 4, Number.NaN, 6, Number.NaN, Number.NaN, Number.NaN]);
  });

  it('reads CRLF line ends and a last line without a newline', () => {
    const { values, numRows } = parseCsvRecords(bytes('1.5,2\r\n3,4.25'), 2);

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
    const { values, numRows } = parseCsvRecords(Buffer.from(rows.map((row) => row.join(',')).join('\n')), 8);

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

    const { values, numRows } = parseCsvRecords(bytes(text), 30);

    expect(numRows).toBe(300);
    expect(Array.from(values)).toEqual(expected);
  });

  it('falls back to a CSV parser when a field is quoted', () => {
    const { values, numRows } = parseCsvRecords(bytes('"1.5",2\n3,""\n'), 2);

    expect(numRows).toBe(2);
    expect(Array.from(values)).toEqual([1.5, 2, 3, Number.NaN]);
  });

  it('names the record and the counts when a record has the wrong number of values', () => {
    expect(() => parseCsvRecords(bytes('1,2,3\n1,2\n'), 3)).toThrow(
      'Record 2 has 2 values; the model expects 3',
    );
    expect(() => parseCsvRecords(bytes('1,2,3\r\n1,2,3,4,5\r\n'), 3)).toThrow(
      'Record 2 has 5 values; the model expects 3',
    );
    expect(() => parseCsvRecords(bytes('"1",2\n1\n'), 2)).toThrow(
      'Record 2 has 1 value; the model expects 2',
    );
  });

  it('names the record and the field when a value is not numeric', () => {
    expect(() => parseCsvRecords(bytes('1,2\n3,4\n5,six\n'), 2)).toThrow(
      'Record 3 has a non-numeric value in field 2: "six"',
    );
  });

  it('rejects an empty line inside the request instead of dropping it, so outputs stay aligned', () => {
    expect(() => parseCsvRecords(bytes('1,2\n\n3,4\n'), 2)).toThrow('Record 2 is empty');
  });

  it('returns no rows for an empty body', () => {
    expect(parseCsvRecords(bytes(''), 3).numRows).toBe(0);
  });
});

describe('parseJsonLinesRecords', () => {
  it('reads one array or {"features"} object per line, null as missing', () => {
    const { values, numRows } = parseJsonLinesRecords(bytes('[1,2]\r\n{"features":[3,null]}\n'), 2);

    expect(numRows).toBe(2);
    expect(Array.from(values)).toEqual([1, 2, 3, Number.NaN]);
  });

  it('names the line that is not JSON or holds a non-number', () => {
    expect(() => parseJsonLinesRecords(bytes('[1,2]\n[1,\n'), 2)).toThrow('Record 2 is not valid JSON');
    expect(() => parseJsonLinesRecords(bytes('[1,"x"]\n'), 2)).toThrow(
      'Record 1 has a non-numeric value in field 2: "x"',
    );
  });
});

describe('parseJsonRecords', () => {
  it('reads {"instances": [...]}, an array of records, or one record', () => {
    expect(parseJsonRecords(bytes('{"instances":[[1,2],[3,4]]}'), 2).numRows).toBe(2);
    expect(parseJsonRecords(bytes('[[1,2],[3,4],[5,6]]'), 2).numRows).toBe(3);
    const single = parseJsonRecords(bytes('[7,8]'), 2);
    expect([single.numRows, ...single.values]).toEqual([1, 7, 8]);
  });

  it('throws InvalidInputError for JSON of another shape', () => {
    expect(() => parseJsonRecords(bytes('{"rows":[]}'), 2)).toThrow(/must be \{"instances"/);
    expect(() => parseJsonRecords(bytes('{"instances":[[1,2],[3]]}'), 2)).toThrow('Record 2 has 1 value');
  });
});

describe('formatPredictions', () => {
  it('writes one score per line as CSV and score objects with predicted_label as JSON lines', async () => {
    const model = await loadXGBoostModel(join(ROOT, 'examples/model/xgboost-model.json'));
    const predictions = Float64Array.of(0.25, 0.75);

    expect(formatPredictions(model, predictions, 2, 'text/csv')).toBe('0.25\n0.75\n');
    expect(formatPredictions(model, predictions, 2, 'application/jsonlines')).toBe(
      '{"score":0.25,"predicted_label":0}\n{"score":0.75,"predicted_label":1}\n',
    );
    expect(JSON.parse(formatPredictions(model, predictions, 2, 'application/json'))).toEqual({
      predictions: [
        { score: 0.25, predicted_label: 0 },
        { score: 0.75, predicted_label: 1 },
      ],
    });
  });

  it('writes class probabilities comma-separated and the most likely class for softprob', async () => {
    const model = await loadXGBoostModel(join(ROOT, 'test/fixtures/models/iris-softprob'));
    const predictions = Float64Array.of(0.1, 0.7, 0.2);

    expect(formatPredictions(model, predictions, 1, 'text/csv')).toBe('0.1,0.7,0.2\n');
    expect(formatPredictions(model, predictions, 1, 'application/jsonlines')).toBe(
      '{"scores":[0.1,0.7,0.2],"predicted_label":1}\n',
    );
  });

  it('writes a plain score without a label for regression', async () => {
    const model = await loadXGBoostModel(join(ROOT, 'test/fixtures/models/diabetes-regression'));

    expect(formatPredictions(model, Float64Array.of(151.5), 1, 'application/json')).toBe(
      '{"predictions":[{"score":151.5}]}',
    );
  });
});

describe('CsvInvocation', () => {
  const sampleModel = () => loadXGBoostModel(join(ROOT, 'examples/model/xgboost-model.json'));
  const sample = Buffer.from(
    ['part-0001.csv', 'part-0002.csv']
      .map((f) => readFileSync(join(ROOT, 'examples/sample/input', f), 'utf8'))
      .join('')
      .replaceAll('\n', '\r\n'),
  );

  function run(invocation: CsvInvocation, body: Uint8Array, cuts: number[]): string {
    let from = 0;
    for (const cut of [...cuts, body.length]) {
      invocation.write(body.subarray(from, cut));
      from = cut;
    }
    return invocation.end();
  }

  it('answers the same body whatever the chunk boundaries, CRLF and numbers cut in two included', async () => {
    const model = await sampleModel();
    const whole = run(new CsvInvocation(model, 'text/csv'), sample, []);
    const random = lcg(7);

    for (let attempt = 0; attempt < 20; attempt++) {
      const cuts = Array.from({ length: 1 + Math.floor(random() * 40) }, () =>
        Math.floor(random() * sample.length),
      ).sort((a, b) => a - b);
      expect(run(new CsvInvocation(model, 'text/csv'), sample, cuts)).toBe(whole);
    }
    const head = sample.subarray(0, sample.indexOf('\n', 2000) + 1);
    const atEveryByte = Array.from({ length: head.length - 1 }, (_, i) => i + 1);
    expect(run(new CsvInvocation(model, 'text/csv'), head, atEveryByte)).toBe(
      run(new CsvInvocation(model, 'text/csv'), head, []),
    );
    expect(whole.split('\n')).toHaveLength(570);
  });

  it('builds one JSON document from predictions made a chunk at a time', async () => {
    const model = await sampleModel();
    const lines = sample.toString().split('\r\n').slice(0, 3).join('\n');

    const body = run(new CsvInvocation(model, 'application/json'), Buffer.from(lines), [
      lines.indexOf('\n') + 3,
    ]);

    expect((JSON.parse(body) as { predictions: unknown[] }).predictions).toHaveLength(3);
  });

  it('numbers records across chunks when a later chunk has a bad record', async () => {
    const model = await sampleModel();
    const rows = sample.toString().split('\r\n').slice(0, 10);
    rows[7] = rows[7]?.replace(/,[^,]*$/, ',x') ?? '';
    const body = Buffer.from(rows.join('\n'));
    const invocation = new CsvInvocation(model, 'text/csv');

    expect(() => run(invocation, body, [body.indexOf('\n', 2000)])).toThrow(
      'Record 8 has a non-numeric value in field 30: "x"',
    );
  });

  it('hands the rest of the body to the CSV parser once a quote appears, keeping record numbers', async () => {
    const model = await loadXGBoostModel(join(ROOT, 'test/fixtures/models/iris-softprob'));
    const body = Buffer.from('5.1,3.5,1.4,0.2\n"6.2",3.4,5.4,2.3\n7,"3",4\n');

    expect(() => run(new CsvInvocation(model, 'text/csv'), body, [16])).toThrow(
      'Record 3 has 3 values; the model expects 4',
    );
    const ok = run(new CsvInvocation(model, 'text/csv'), body.subarray(0, 34), [16]);
    expect(ok.trimEnd().split('\n')).toHaveLength(2);
  });
});
