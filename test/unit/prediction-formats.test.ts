import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePredictionLine, selectedKeysOf } from '../../src/core/prediction-formats.js';
import { PredictionMismatchError } from '../../src/errors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, '../fixtures/xgboost');
const CONTAINER = join(HERE, '../helpers/sagemaker_xgboost_container.py');
const where = 'out.csv.out, line 1';

/** The response bodies the container writes (its encoding re-expressed in the Python test container). */
function containerBodies(cases: Record<string, unknown>[]): string[] {
  return JSON.parse(
    execFileSync('/usr/bin/python3', [CONTAINER, 'encode'], { input: JSON.stringify(cases) }).toString(),
  ) as string[];
}

function fixture(name: string): { objective: string; num_class: number; predictions: number[][] } {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8'));
}

describe('parsePredictionLine', () => {
  it('reads value lines, Python list lines, CSV rows and JSON lines', () => {
    expect(parsePredictionLine('0.9951731562614441', {}, where)).toBe(0.9951731562614441);
    expect(parsePredictionLine('1e-05', {}, where)).toBe(1e-5);
    expect(parsePredictionLine('[0.9951731562614441, 0.001, 0.003]', {}, where)).toEqual([
      0.9951731562614441, 0.001, 0.003,
    ]);
    expect(parsePredictionLine('0.1,0.2,0.7', {}, where)).toEqual([0.1, 0.2, 0.7]);
    expect(parsePredictionLine('{"score": 0.25}', {}, where)).toBe(0.25);
    expect(parsePredictionLine('{"score": [0.1, 0.2, 0.7]}', {}, where)).toEqual([0.1, 0.2, 0.7]);
    expect(parsePredictionLine('{"predictions": [{"score": 0.5}]}', {}, where)).toBe(0.5);
  });

  it('reads a selection: probabilities before labels, P(1) of a binary pair, the CSV by the selected keys', () => {
    const keys = selectedKeysOf('predicted_label, PROBABILITY,probabilities');
    expect(
      parsePredictionLine(
        '{"predicted_label": 1, "probability": 0.9, "probabilities": [0.1, 0.9]}',
        {},
        where,
      ),
    ).toBe(0.9);
    expect(parsePredictionLine('1,0.9,"[0.09999999999999998, 0.9]"', { selectedKeys: keys }, where)).toBe(
      0.9,
    );
    expect(
      parsePredictionLine('{"predicted_label": 2, "probabilities": [0.1, 0.2, 0.7]}', {}, where),
    ).toEqual([0.1, 0.2, 0.7]);
    expect(parsePredictionLine('{"predicted_label": 2.0, "raw_score": 2.0}', {}, where)).toBe(2);
  });

  it('refuses a JSON document of several predictions on one line, saying which Accept to use', () => {
    expect(() => parsePredictionLine('{"predictions": [{"score": 1}, {"score": 2}]}', {}, where)).toThrow(
      /holds 2 predictions.*use Accept text\/csv or application\/jsonlines/,
    );
  });

  it('names the line when it holds no prediction', () => {
    expect(() => parsePredictionLine('nan', {}, where)).toThrow(PredictionMismatchError);
    expect(() => parsePredictionLine('[0.1, nan]', {}, where)).toThrow(
      `${where}: prediction is not a number or a list of numbers: [0.1, nan]`,
    );
  });

  it('reads back every body the container writes in batch mode, for every objective, Accept and selection', () => {
    const names = [
      'gbtree-binary-logistic',
      'gbtree-multi-softprob',
      'gbtree-reg-squarederror',
      'gbtree-multi-softmax',
    ];
    const selections = [
      undefined,
      'predicted_label,probability,probabilities',
      'predicted_label',
      'probabilities,predicted_label',
    ];
    const cases: { case: Record<string, unknown>; want: (number | number[])[] }[] = [];
    for (const name of names) {
      const { objective, num_class, predictions } = fixture(name);
      const rows = predictions.slice(0, 4);
      for (const selected of selections) {
        if (selected && objective.startsWith('reg:')) continue;
        for (const accept of ['text/csv', 'application/jsonlines']) {
          // What each selection says about a record, as the results' score: P(1), the class scores, or the label.
          const want = rows.map((row) => {
            const values = row.map((v) => Math.fround(v));
            if (selected === 'predicted_label') {
              if (objective === 'multi:softmax') return values[0] as number;
              return objective === 'binary:logistic'
                ? Number((values[0] as number) > 0.5)
                : values.indexOf(Math.max(...values));
            }
            if (selected && objective === 'multi:softmax') return values[0] as number;
            return values.length === 1 ? (values[0] as number) : values;
          });
          cases.push({
            case: {
              objective,
              num_class,
              predictions: rows,
              accept,
              batch: true,
              ...(selected ? { selected } : {}),
            },
            want,
          });
        }
      }
    }
    const bodies = containerBodies(cases.map((c) => c.case));

    cases.forEach(({ case: c, want }, i) => {
      const lines = (bodies[i] as string).trimEnd().split('\n');
      const format = { selectedKeys: selectedKeysOf(c.selected as string | undefined) };
      const got = lines.map((line) => parsePredictionLine(line, format, where));
      expect(got, JSON.stringify(c)).toEqual(want);
    });
  });
});
