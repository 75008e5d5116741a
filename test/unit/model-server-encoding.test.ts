import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodePredictions, parseAccept, pythonFloat } from '../../src/model-server/encoding.js';
import { containerSettingsFromEnv } from '../../src/model-server/server.js';
import { loadXGBoostModel } from '../../src/model-server/xgboost-model.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, '../fixtures/xgboost');
const CONTAINER = join(HERE, '../helpers/sagemaker_xgboost_container.py');

/** Python's own answers, from the test container's encoder (re-expressed from the real container). */
function python(script: string, input: unknown): unknown {
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(input) }).toString(),
  );
}

describe('pythonFloat', () => {
  it("writes every float32 prediction as Python's repr writes the same double", () => {
    const values = [0, 1, 2, 0.5, 1e-5, 1.5e-7, 0.0001, 123456789, 1e16, 1e15, 3.4e38, -2.5e-10, 0.1, 1 / 3];
    // Where the notations switch: 1e-4 and 1e16 and their neighbours, integral values.
    values.push(-1, 1e-4 * (1 - 2 ** -52), -1e-4, 9.999e-5, 1e16 - 2, 2 ** 53, -(1e16 - 2), 1e21, 1e-7);
    values.push(Math.fround(0.9951731562614441));
    let seed = 3;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const exponent = (seed % 60) - 30;
      values.push(Math.fround((seed / 2 ** 31 - 0.5) * 10 ** exponent));
    }
    const expected = python(
      'import json,sys; print(json.dumps([repr(float(v)) for v in json.load(sys.stdin)]))',
      values,
    );

    expect(values.map(pythonFloat)).toEqual(expected);
    // JSON cannot carry these to Python: repr gives 'nan', 'inf', '-inf' and '-0.0' for them.
    expect([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0].map(pythonFloat)).toEqual([
      'nan',
      'inf',
      '-inf',
      '-0.0',
    ]);
  });
});

describe('parseAccept', () => {
  const settings = containerSettingsFromEnv({});

  it('answers text/csv for an absent or */* Accept, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT when set', () => {
    expect([parseAccept(undefined, settings), parseAccept('*/*', settings)]).toEqual([
      'text/csv',
      'text/csv',
    ]);
    expect(
      parseAccept('', containerSettingsFromEnv({ SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: 'application/json' })),
    ).toBe('application/json');
  });

  it('refuses what the container refuses (406): other types and lists of types', () => {
    expect(parseAccept('application/jsonlines; charset=utf-8', settings)).toBe('application/jsonlines');
    expect(parseAccept('text/plain', settings)).toBeUndefined();
    expect(parseAccept('text/csv, application/json', settings)).toBeUndefined();
  });
});

describe('encodePredictions against the container encoding rules (Python test container)', () => {
  const fixtures = [
    'gbtree-binary-logistic',
    'gbtree-binary-logitraw',
    'gbtree-binary-hinge',
    'gbtree-multi-softmax',
    'gbtree-multi-softprob',
    'gbtree-reg-squarederror',
    'gbtree-count-poisson',
  ];
  const modes = [
    { batch: true },
    { batch: false },
    {
      batch: true,
      selected: 'predicted_label, probability,probabilities,labels,raw_score,raw_scores,predicted_score',
    },
    { batch: false, selected: 'PREDICTED_LABEL,probabilities' },
  ];
  const accepts = ['text/csv', 'application/json', 'application/jsonlines'];

  it('writes the same body for every objective, batch or not, every selection and every Accept', async () => {
    const cases: { name: string; ts: string; case: Record<string, unknown> }[] = [];
    for (const name of fixtures) {
      const model = await loadXGBoostModel(join(FIXTURES, name, 'model.json'));
      const { predictions } = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as {
        predictions: number[][];
      };
      const rows = predictions.slice(0, 5);
      for (const mode of modes) {
        for (const accept of accepts) {
          const settings = containerSettingsFromEnv({
            ...(mode.batch ? { SAGEMAKER_BATCH: 'true' } : {}),
            ...(mode.selected ? { SAGEMAKER_INFERENCE_OUTPUT: mode.selected } : {}),
          });
          const encoded = encodePredictions(
            model,
            Float64Array.from(rows.flat()),
            rows.length,
            accept,
            settings,
          );
          cases.push({
            name: `${name} ${JSON.stringify(mode)} ${accept}`,
            ts: encoded.status === 200 ? encoded.body : `HTTP ${encoded.status}: ${encoded.body}`,
            case: {
              objective: model.objective,
              num_class: model.numClass,
              predictions: rows,
              accept,
              ...mode,
            },
          });
        }
      }
    }
    const bodies = JSON.parse(
      execFileSync('/usr/bin/python3', [CONTAINER, 'encode'], {
        input: JSON.stringify(cases.map((c) => c.case)),
      }).toString(),
    ) as string[];

    const differences = cases.flatMap((c, i) =>
      c.ts === bodies[i] ? [] : [`${c.name}:\n  ts ${c.ts}\n  py ${bodies[i]}`],
    );
    expect(differences).toEqual([]);
    expect(cases.length).toBe(fixtures.length * modes.length * accepts.length);
  });

  it('writes one Python list per line for multi:softprob in batch mode, whatever the Accept', async () => {
    const model = await loadXGBoostModel(join(FIXTURES, 'gbtree-multi-softprob', 'model.json'));
    const settings = containerSettingsFromEnv({ SAGEMAKER_BATCH: 'true' });

    const { body } = encodePredictions(model, Float64Array.from([0.5, 0.25, 0.25]), 1, 'text/csv', settings);

    expect(body).toBe('[0.5, 0.25, 0.25]\n');
  });
});
