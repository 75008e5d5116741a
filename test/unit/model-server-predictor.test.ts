import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../src/model-server/model-description.js';
import { CompiledBooster } from '../../src/model-server/predictor.js';
import { loadXGBoostModel } from '../../src/model-server/xgboost-model.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/xgboost');
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { models: string[] };

/** A CSV of numbers, empty cells missing, as one row-major Float32Array. */
function readCsv(path: string): { values: Float32Array; rows: number; columns: number } {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  const columns = (lines[0] as string).split(',').length;
  const values = new Float32Array(lines.length * columns);
  lines.forEach((line, r) => {
    line.split(',').forEach((cell, c) => {
      values[r * columns + c] = cell === '' ? Number.NaN : Number(cell);
    });
  });
  return { values, rows: lines.length, columns };
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

/**
 * Random rows on the fixture inputs' scale (each column's own range), ~20% missing, and a quarter of the
 * values exactly a split condition of the model on that column (`value < split` must be exact there).
 */
function randomRows(
  template: Float32Array,
  columns: number,
  rows: number,
  splits: number[][] = [],
): Float32Array {
  let seed = 15;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const out = new Float32Array(rows * columns);
  for (let i = 0; i < out.length; i++) {
    const donor = template[Math.floor(random() * (template.length / columns)) * columns + (i % columns)];
    const u = random();
    const onSplit = splits[i % columns] ?? [];
    out[i] =
      u < 0.2
        ? Number.NaN
        : u < 0.45 && onSplit.length > 0
          ? (onSplit[Math.floor(random() * onSplit.length)] as number)
          : u < 0.7
            ? (donor as number)
            : (donor as number) * (0.5 + random());
  }
  return out;
}

/** Each column's split conditions in a model.json (gbtree or dart). */
function splitConditions(path: string, columns: number): number[][] {
  const learner = JSON.parse(readFileSync(path, 'utf8')).learner;
  const booster = learner.gradient_booster.gbtree ?? learner.gradient_booster;
  const out: number[][] = Array.from({ length: columns }, () => []);
  for (const tree of booster.model?.trees ?? []) {
    tree.split_indices.forEach((feature: number, node: number) => {
      if (tree.left_children[node] !== -1) out[feature]?.push(tree.split_conditions[node]);
    });
  }
  return out;
}

describe('trees compiled to JavaScript and the flat-array walker', () => {
  const inputs = readCsv(join(FIXTURES, 'inputs.csv'));
  const random = randomRows(inputs.values, inputs.columns, 3000);

  for (const name of manifest.models) {
    it(`${name}: both equal XGBoost's predictions, and each other bit for bit on 3,000 more rows`, async () => {
      const want = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as {
        predictions: number[][];
      };
      const path = join(FIXTURES, name, 'model.json');
      const rows = randomRows(inputs.values, inputs.columns, 3000, splitConditions(path, inputs.columns));
      const compiled = await loadXGBoostModel(path);
      const walked = await loadXGBoostModel(join(FIXTURES, name, 'model.json'), { compileTrees: false });

      const isLinear = name.startsWith('gblinear');
      expect(compiled.members[0]?.compiledTrees).toBe(!isLinear);
      expect(walked.members[0]?.compiledTrees).toBe(false);
      for (const model of [compiled, walked]) {
        const predictions = model.predictBatch(inputs.values, inputs.rows, inputs.columns);
        expect(worstDifference(predictions, want.predictions)).toBeLessThanOrEqual(1e-6);
      }
      expect(compiled.predictBatch(rows, 3000, inputs.columns)).toEqual(
        walked.predictBatch(rows, 3000, inputs.columns),
      );
    });
  }

  it('walks a model past the code size limits, with the same predictions', async () => {
    const path = join(FIXTURES, 'gbtree-multi-softprob/model.json');
    const full = await loadXGBoostModel(path);
    const tooManyNodes = await loadXGBoostModel(path, { compileTrees: { maxNodes: 100 } });
    const tooDeep = await loadXGBoostModel(path, { compileTrees: { maxDepth: 2 } });

    expect(full.members[0]?.compiledTrees).toBe(true);
    expect(tooManyNodes.members[0]?.compiledTrees).toBe(false);
    expect(tooDeep.members[0]?.compiledTrees).toBe(false);
    const expected = full.predictBatch(random, 3000, inputs.columns);
    expect(tooManyNodes.predictBatch(random, 3000, inputs.columns)).toEqual(expected);
    expect(tooDeep.predictBatch(random, 3000, inputs.columns)).toEqual(expected);
  });

  it('treats columns a narrower request did not send as missing, on both paths', async () => {
    const path = join(FIXTURES, 'gbtree-binary-logistic/model.json');
    const compiled = await loadXGBoostModel(path);
    const walked = await loadXGBoostModel(path, { compileTrees: false });
    const narrow = new Float32Array(3000 * 3);
    const padded = new Float32Array(3000 * inputs.columns).fill(Number.NaN);
    for (let r = 0; r < 3000; r++) {
      for (let c = 0; c < 3; c++) {
        narrow[r * 3 + c] = random[r * inputs.columns + c] as number;
        padded[r * inputs.columns + c] = random[r * inputs.columns + c] as number;
      }
    }

    const expected = walked.predictBatch(padded, 3000, inputs.columns);
    expect(compiled.predictBatch(narrow, 3000, 3)).toEqual(expected);
    expect(walked.predictBatch(narrow, 3000, 3)).toEqual(expected);
  });

  it("follows XGBoost's GetNextNode for infinite and NaN split conditions: right unless value < split", () => {
    // One tree: root splits feature 0 at `split`, default direction as given; leaves 1 (left), 2 (right).
    const model = (split: number, defaultLeft: boolean): ModelDescription => ({
      objective: 'reg:squarederror',
      numFeature: 1,
      numClass: 0,
      baseScore: 0,
      featureNames: [],
      format: 'json',
      booster: {
        kind: 'gbtree',
        treeInfo: new Int32Array([0]),
        trees: [
          {
            left: new Int32Array([1, -1, -1]),
            right: new Int32Array([2, -1, -1]),
            splitIndex: new Int32Array([0, 0, 0]),
            splitCondition: new Float32Array([split, 1, 2]),
            defaultLeft: new Uint8Array([defaultLeft ? 1 : 0, 0, 0]),
            hasCategoricalSplit: false,
          },
        ],
      },
    });
    const values = new Float32Array([
      Number.NaN,
      -1,
      0,
      1,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
    const cases: [number, boolean, number[]][] = [
      [Number.NaN, true, [1, 2, 2, 2, 2, 2]],
      [Number.NaN, false, [2, 2, 2, 2, 2, 2]],
      [Number.POSITIVE_INFINITY, true, [1, 1, 1, 1, 1, 2]],
      [Number.NEGATIVE_INFINITY, false, [2, 2, 2, 2, 2, 2]],
      [0, true, [1, 1, 2, 2, 1, 2]],
      [0, false, [2, 1, 2, 2, 1, 2]],
    ];
    for (const [split, defaultLeft, want] of cases) {
      for (const compileTrees of [true, false]) {
        const booster = new CompiledBooster(model(split, defaultLeft), 'hand-made', { compileTrees });
        expect(booster.compiledTrees).toBe(compileTrees);
        expect([split, defaultLeft, compileTrees, Array.from(booster.predictBatch(values, 6, 1))]).toEqual([
          split,
          defaultLeft,
          compileTrees,
          want,
        ]);
      }
    }
  });
});

// Bigger models than the fixtures, trained and predicted by XGBoost itself: many trees spread over several
// generated functions, several output groups per function, deep trees.
const PYTHON = '/usr/bin/python3';
const TRAIN = `
import json, sys
import numpy as np, xgboost as xgb
out = sys.argv[1]
rng = np.random.default_rng(7)
x = rng.normal(size=(4000, 12)).astype(np.float32)
x[rng.random(size=x.shape) < 0.15] = np.nan
f = np.nan_to_num(x)
y3 = (f[:, 0] + f[:, 1] * f[:, 2] > 0).astype(int) + (f[:, 3] > 0.5).astype(int)
rows = rng.normal(size=(1500, 12)).astype(np.float32)
rows[rng.random(size=rows.shape) < 0.15] = np.nan
np.savetxt(f"{out}/rows.csv", rows, delimiter=",", fmt="%.9g")
for name, params, label, rounds in [
    ("softprob", {"objective": "multi:softprob", "num_class": 3, "max_depth": 6}, y3, 60),
    ("deep", {"objective": "binary:logistic", "max_depth": 14, "min_child_weight": 0}, (y3 > 0).astype(int), 40),
    ("dart", {"objective": "reg:squarederror", "booster": "dart", "max_depth": 6, "rate_drop": 0.1}, f[:, 0] * 2 + f[:, 4], 60),
]:
    booster = xgb.train({**params, "nthread": 1, "seed": 1}, xgb.DMatrix(x, label=label, missing=np.nan), rounds)
    booster.save_model(f"{out}/{name}.json")
    p = booster.predict(xgb.DMatrix(rows, missing=np.nan))
    json.dump(p.reshape(len(rows), -1).astype(float).tolist(), open(f"{out}/{name}.expected.json", "w"))
`;
const hasXGBoost =
  existsSync(PYTHON) &&
  (() => {
    try {
      execFileSync(PYTHON, ['-c', 'import xgboost, numpy'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

describe.skipIf(!hasXGBoost)('compiled trees on bigger models, against XGBoost 1.7 (python3-xgboost)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'predictor-big-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let trained = false;
  const train = () => {
    if (!trained) execFileSync(PYTHON, ['-c', TRAIN, dir], { stdio: 'inherit' });
    trained = true;
  };

  for (const name of ['softprob', 'deep', 'dart']) {
    it(`${name}: compiled and walked predictions equal XGBoost's`, { timeout: 120_000 }, async () => {
      train();
      const rows = readCsv(join(dir, 'rows.csv'));
      const want = JSON.parse(readFileSync(join(dir, `${name}.expected.json`), 'utf8')) as number[][];
      const compiled = await loadXGBoostModel(join(dir, `${name}.json`));
      const walked = await loadXGBoostModel(join(dir, `${name}.json`), { compileTrees: false });

      expect(compiled.members[0]?.compiledTrees).toBe(true);
      if (name !== 'deep') expect(compiled.members[0]?.compiledFunctions).toBeGreaterThan(1);
      const predictions = compiled.predictBatch(rows.values, rows.rows, rows.columns);
      expect(worstDifference(predictions, want)).toBeLessThanOrEqual(1e-6);
      expect(walked.predictBatch(rows.values, rows.rows, rows.columns)).toEqual(predictions);
    });
  }
});
