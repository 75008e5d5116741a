import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UnsupportedModelError } from '../../src/errors.js';
import { loadXGBoostModel } from '../../src/model-server/xgboost-model.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/xgboost');
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as {
  xgboost: string;
  models: string[];
};
const FORMATS = ['model.json', 'model.ubj', 'xgboost-model', 'model.tar.gz'] as const;

/** inputs.csv: empty cells are missing values. */
function inputs(): { values: Float32Array; rows: number; columns: number } {
  const lines = readFileSync(join(FIXTURES, 'inputs.csv'), 'utf8').trimEnd().split('\n');
  const columns = (lines[0] as string).split(',').length;
  const values = new Float32Array(lines.length * columns);
  lines.forEach((line, r) => {
    line.split(',').forEach((cell, c) => {
      values[r * columns + c] = cell === '' ? Number.NaN : Number(cell);
    });
  });
  return { values, rows: lines.length, columns };
}

interface Expected {
  objective: string;
  booster: string;
  num_class: number;
  predictions: number[][];
}

function expected(name: string): Expected {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
}

/** Largest difference from XGBoost's own prediction, relative for values above 1. */
function worstDifference(actual: Float64Array, wanted: number[][]): number {
  const flat = wanted.flat();
  expect(actual.length).toBe(flat.length);
  let worst = 0;
  flat.forEach((value, i) => {
    const difference = Math.abs((actual[i] as number) - value) / Math.max(1, Math.abs(value));
    worst = Math.max(worst, Number.isNaN(difference) ? Number.POSITIVE_INFINITY : difference);
  });
  return worst;
}

describe(`the built-in predictor against XGBoost ${manifest.xgboost}'s own predictions`, () => {
  const data = inputs();

  it('has fixtures for every booster and the inputs have missing values', () => {
    expect(new Set(manifest.models.map((name) => expected(name).booster))).toEqual(
      new Set(['gbtree', 'dart', 'gblinear']),
    );
    expect(Array.from(data.values).filter(Number.isNaN).length).toBeGreaterThan(50);
  });

  // Each on both tree paths (the server picks one by the trees' size; the fixtures' are all small).
  for (const name of manifest.models) {
    for (const format of FORMATS) {
      it(`predicts ${name} from ${format} within 1e-6, in the kernel and in JavaScript`, async () => {
        const want = expected(name);
        for (const trees of ['wasm', 'javascript'] as const) {
          const model = await loadXGBoostModel(join(FIXTURES, name, format), { trees });

          const predictions = model.predictBatch(data.values, data.rows, data.columns);

          expect([model.objective, model.members[0]?.booster]).toEqual([want.objective, want.booster]);
          expect(model.outputsPerRow).toBe(want.predictions[0]?.length);
          expect([trees, worstDifference(predictions, want.predictions) <= 1e-6]).toEqual([trees, true]);
        }
      });
    }
  }

  it('averages the top-level files of a model.tar.gz as the container ensemble does', async () => {
    for (const trees of ['wasm', 'javascript'] as const) {
      const model = await loadXGBoostModel(join(FIXTURES, 'ensemble/model.tar.gz'), { trees });

      const predictions = model.predictBatch(data.values, data.rows, data.columns);

      expect(model.members).toHaveLength(2);
      expect(model.sources.map((s) => s.replace(/^.*\(/, ''))).toEqual(['model-a.json)', 'model-b)']);
      expect([trees, worstDifference(predictions, expected('ensemble').predictions) <= 1e-6]).toEqual([
        trees,
        true,
      ]);
    }
  });

  it('loads only the first file when SAGEMAKER_INFERENCE_ENSEMBLE turns the ensemble off', async () => {
    const model = await loadXGBoostModel(join(FIXTURES, 'ensemble/model.tar.gz'), { ensemble: false });

    expect(model.members).toHaveLength(1);
  });

  it('refuses a pickled booster, naming the file and saying how to re-save it', async () => {
    const path = join(FIXTURES, 'pickled/xgboost-model');

    await expect(loadXGBoostModel(path)).rejects.toThrow(UnsupportedModelError);
    await expect(loadXGBoostModel(path)).rejects.toThrow(`${path} is a pickled Python object`);
    await expect(loadXGBoostModel(path)).rejects.toThrow("booster.save_model('xgboost-model.json')");
  });
});
