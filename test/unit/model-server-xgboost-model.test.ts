import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, UnsupportedModelError } from '../../src/errors.js';
import {
  checkModelArtifact,
  loadXGBoostModel,
  parseXGBoostModel,
  XGBoostModel,
} from '../../src/model-server/xgboost-model.js';

const ROOT = join(import.meta.dirname, '../..');
const SAMPLE_MODEL = join(ROOT, 'examples/model/xgboost-model.json');
const SAMPLE_INPUTS = ['part-0001.csv', 'part-0002.csv'].map((f) => join(ROOT, 'examples/sample/input', f));
const FIXTURES = join(ROOT, 'test/fixtures/models');

/** Reads a CSV the simple way (empty field = NaN), independent of the server's own parser. */
function readRows(...files: string[]): number[][] {
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => line.split(',').map((v) => (v === '' ? Number.NaN : Number(v)))),
  );
}

function flatten(rows: number[][]): Float32Array {
  return Float32Array.from(rows.flat());
}

function expectClose(actual: ArrayLike<number>, expected: number[], tolerance = 1e-6) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  }
  expect(worst).toBeLessThanOrEqual(tolerance);
}

/** The parts of a saved model the tests edit to make variants of it. */
interface EditableModel {
  learner: {
    objective: { name: string };
    gradient_booster: { name: string; model: { trees: { split_type: number[] }[] } };
  };
}

function modelJson(path: string): EditableModel {
  return JSON.parse(readFileSync(path, 'utf8')) as EditableModel;
}

describe('XGBoostModel.predictBatch', () => {
  it("equals XGBoost's binary:logistic probabilities for every sample row, missing values included", async () => {
    const model = await loadXGBoostModel(SAMPLE_MODEL);
    const rows = readRows(...SAMPLE_INPUTS);
    const expected = readRows(join(ROOT, 'examples/sample/expected-predictions.csv')).flat();
    expect(rows.some((row) => row.some(Number.isNaN))).toBe(true);

    const predictions = model.predictBatch(flatten(rows), rows.length);

    expect(rows.length).toBe(569);
    expectClose(predictions, expected);
  });

  it("equals XGBoost's multi:softprob class probabilities, one group of num_class per row", async () => {
    const model = await loadXGBoostModel(join(FIXTURES, 'iris-softprob/xgboost-model.json'));
    const rows = readRows(join(FIXTURES, 'iris-softprob/input.csv'));
    const expected = readRows(join(FIXTURES, 'iris-softprob/expected-predictions.csv'));

    const predictions = model.predictBatch(flatten(rows), rows.length);

    expect(expected[0]).toHaveLength(3);
    expectClose(predictions, expected.flat());
  });

  it("equals XGBoost's reg:squarederror values when base_score is not the default", async () => {
    const model = await loadXGBoostModel(join(FIXTURES, 'diabetes-regression/xgboost-model.json'));
    const rows = readRows(join(FIXTURES, 'diabetes-regression/input.csv'));
    const expected = readRows(join(FIXTURES, 'diabetes-regression/expected-predictions.csv')).flat();

    const predictions = model.predictBatch(flatten(rows), rows.length);

    expect(model.baseScore).toBeCloseTo(152.133, 3);
    expectClose(predictions, expected);
  });

  it('returns the class index of the largest probability when the objective is multi:softmax', () => {
    const json = modelJson(join(FIXTURES, 'iris-softprob/xgboost-model.json'));
    json.learner.objective.name = 'multi:softmax';
    const model = XGBoostModel.fromJson(json);
    const rows = readRows(join(FIXTURES, 'iris-softprob/input.csv'));
    const probabilities = readRows(join(FIXTURES, 'iris-softprob/expected-predictions.csv'));

    const labels = model.predictBatch(flatten(rows), rows.length);

    expect(model.outputsPerRow).toBe(1);
    expect(Array.from(labels)).toEqual(probabilities.map((p) => p.indexOf(Math.max(...p))));
  });

  it('rounds Float64Array input to float32 so it predicts exactly what Float32Array input does', async () => {
    const model = await loadXGBoostModel(SAMPLE_MODEL);
    const rows = readRows(...SAMPLE_INPUTS);

    const from64 = model.predictBatch(Float64Array.from(rows.flat()), rows.length);
    const from32 = model.predictBatch(flatten(rows), rows.length);

    expect(Array.from(from64)).toEqual(Array.from(from32));
  });

  it('throws InvalidInputError when the rows have more features than the model, as XGBoost does', async () => {
    const model = await loadXGBoostModel(SAMPLE_MODEL);

    expect(() => model.predictBatch(new Float32Array(31), 1, 31)).toThrow(InvalidInputError);
    expect(() => model.predictBatch(new Float32Array(29), 1)).toThrow(/need 30 values, got 29/);
  });
});

describe('XGBoostModel.predict', () => {
  it('returns one array per row and treats null as a missing value', async () => {
    const model = await loadXGBoostModel(SAMPLE_MODEL);
    const rows = readRows(...SAMPLE_INPUTS).slice(0, 3);
    const withNulls = rows.map((row) => row.map((v) => (Number.isNaN(v) ? null : v)));
    withNulls[0] = withNulls[0]?.map((v, i) => (i < 5 ? null : v)) ?? [];
    const asNaN = withNulls.map((row) => row.map((v) => v ?? Number.NaN));

    const predictions = model.predict(withNulls);

    expect(predictions).toHaveLength(3);
    expect(predictions[0]).toHaveLength(1);
    expect(predictions.flat()).toEqual(Array.from(model.predictBatch(flatten(asNaN), 3)));
  });

  it('throws naming the row when a row has the wrong length', async () => {
    const model = await loadXGBoostModel(SAMPLE_MODEL);

    expect(() => model.predict([new Array(30).fill(1), [1, 2]])).toThrow(
      'Row 2 has 2 features; the model expects 30',
    );
  });
});

describe('XGBoostModel', () => {
  it('exposes num_feature, objective and num_class as saved in the model', async () => {
    const sample = await loadXGBoostModel(SAMPLE_MODEL);
    const iris = await loadXGBoostModel(join(FIXTURES, 'iris-softprob/xgboost-model.json'));

    expect([sample.objective, sample.numFeature, sample.numClass, sample.outputsPerRow]).toEqual([
      'binary:logistic',
      30,
      0,
      1,
    ]);
    expect([iris.objective, iris.numFeature, iris.numClass, iris.outputsPerRow, iris.numTrees]).toEqual([
      'multi:softprob',
      4,
      3,
      3,
      45,
    ]);
  });

  it('throws UnsupportedModelError naming the booster when XGBoost has no such booster', () => {
    const json = modelJson(SAMPLE_MODEL);
    json.learner.gradient_booster.name = 'gbforest';

    expect(() => XGBoostModel.fromJson(json)).toThrow(UnsupportedModelError);
    expect(() => XGBoostModel.fromJson(json)).toThrow('unknown booster "gbforest"');
  });

  it('throws UnsupportedModelError naming the objective when XGBoost 1.7 cannot predict it', () => {
    const json = modelJson(SAMPLE_MODEL);
    json.learner.objective.name = 'reg:quantileerror';

    expect(() => XGBoostModel.fromJson(json)).toThrow('unsupported objective "reg:quantileerror"');
  });

  it('throws UnsupportedModelError when a tree has a categorical split', () => {
    const json = modelJson(SAMPLE_MODEL);
    const tree = json.learner.gradient_booster.model.trees[3];
    if (tree) tree.split_type[0] = 1;

    expect(() => XGBoostModel.fromJson(json)).toThrow(/tree 3 has a categorical split/);
  });

  it('throws InvalidInputError when the JSON is not an XGBoost model', () => {
    expect(() => XGBoostModel.fromJson({ hello: 'world' })).toThrow(InvalidInputError);
    expect(() => XGBoostModel.fromJson({ hello: 'world' })).toThrow('has no "learner"');
  });
});

describe('loadXGBoostModel', () => {
  it('loads every top-level file of a directory the way the container reads /opt/ml/model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-dir-'));
    writeFileSync(
      join(dir, 'xgboost-model'),
      readFileSync(join(FIXTURES, 'diabetes-regression/xgboost-model.json')),
    );
    writeFileSync(join(dir, '.DS_Store'), 'not a model');

    const model = await loadXGBoostModel(dir);

    expect([model.objective, model.members.length]).toEqual(['reg:squarederror', 1]);
  });

  it('loads the model from a model.tar.gz', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-tar-'));
    writeFileSync(join(dir, 'xgboost-model.json'), readFileSync(SAMPLE_MODEL));
    execFileSync('tar', ['-czf', join(dir, 'model.tar.gz'), '-C', dir, 'xgboost-model.json']);

    const model = await loadXGBoostModel(join(dir, 'model.tar.gz'));

    expect(model.predict([new Array(30).fill(Number.NaN)])).toEqual(
      (await loadXGBoostModel(SAMPLE_MODEL)).predict([new Array(30).fill(Number.NaN)]),
    );
  });

  it('throws InvalidInputError naming the file when its bytes are no XGBoost format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-bin-'));
    writeFileSync(join(dir, 'xgboost-model'), Buffer.from([0x7b, 0x4c, 0x00, 0x00, 0x00, 0x07, 0x6c]));

    await expect(loadXGBoostModel(dir)).rejects.toThrow(/xgboost-model is not valid UBJSON/);
    expect(() => parseXGBoostModel('binary', 'x')).toThrow(/x is not an XGBoost model/);
  });

  it('throws InvalidInputError naming the path when it does not exist or holds no model', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'model-empty-'));

    await expect(loadXGBoostModel(join(empty, 'nope.json'))).rejects.toThrow(/nope.json does not exist/);
    await expect(loadXGBoostModel(empty)).rejects.toThrow(/No model file in .*has none/);
  });
});

describe('checkModelArtifact', () => {
  it('tells the objective, class count and feature count from every format the server reads', async () => {
    const dir = join(ROOT, 'test/fixtures/xgboost');
    for (const file of ['model.json', 'model.ubj', 'xgboost-model', 'model.tar.gz']) {
      await expect(checkModelArtifact(join(dir, 'gbtree-binary-logitraw', file))).resolves.toEqual({
        objective: 'binary:logitraw',
        numClass: 0,
        featureNames: [],
        numFeature: 5,
      });
      await expect(checkModelArtifact(join(dir, 'gbtree-multi-softprob', file))).resolves.toEqual({
        objective: 'multi:softprob',
        numClass: 3,
        featureNames: [],
        numFeature: 5,
      });
    }
  });

  it('checks bytes it has not found sound before, whatever the path, and names the path the user gave', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-check-'));
    const path = join(dir, 'xgboost-model.json');
    const sound = readFileSync(SAMPLE_MODEL);
    writeFileSync(path, sound);
    await checkModelArtifact(path);
    // The same bytes under another name (a run's copy in the store) are sound too.
    writeFileSync(join(dir, 'copy.json'), sound);
    await expect(checkModelArtifact(join(dir, 'copy.json'))).resolves.toEqual({
      objective: 'binary:logistic',
      numClass: 0,
      featureNames: [],
      numFeature: 30,
    });

    // The file changed after a sound check: its new bytes are checked, and a failure is never remembered.
    const broken = JSON.parse(sound.toString('utf8'));
    broken.learner.gradient_booster.model.trees[0].left_children[0] = 99_999;
    writeFileSync(path, JSON.stringify(broken));
    await expect(checkModelArtifact(path, 's3://bucket/model.json')).rejects.toThrow(
      's3://bucket/model.json: tree 0 node 0 has children that do not form a tree',
    );
    await expect(checkModelArtifact(path)).rejects.toThrow(`${path}: tree 0 node 0`);
  });

  it('gives the feature names saved with JSON and UBJSON models, in a model.tar.gz too, and none for XGBoost 1.x binary', async () => {
    const cli = join(ROOT, 'test/fixtures/cli');
    const names = (await checkModelArtifact(join(cli, 'model.json'))).featureNames;
    expect(names).toHaveLength(30);
    expect(names.slice(0, 2)).toEqual(['mean radius', 'mean texture']);
    expect((await checkModelArtifact(join(cli, 'model.ubj'))).featureNames).toEqual(names);
    const dir = mkdtempSync(join(tmpdir(), 'model-names-'));
    writeFileSync(join(dir, 'xgboost-model.json'), readFileSync(join(cli, 'model.json')));
    execFileSync('tar', ['-czf', join(dir, 'model.tar.gz'), '-C', dir, 'xgboost-model.json']);
    expect((await checkModelArtifact(join(dir, 'model.tar.gz'))).featureNames).toEqual(names);
    // XGBoost 1.x's binary format has no place for them: XGBoost itself loads such a model without names.
    const binary = join(ROOT, 'test/fixtures/xgboost/gbtree-binary-logistic/xgboost-model');
    expect((await checkModelArtifact(binary)).featureNames).toEqual([]);
  });
});
