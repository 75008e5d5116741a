import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../src/model-server/model-description.js';
import {
  CompiledBooster,
  chooseTreePath,
  JAVASCRIPT_MAX_MEAN_NODES,
  WARM_UP_ROWS,
} from '../../src/model-server/predictor.js';
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

const PATHS = ['wasm', 'javascript'] as const;

describe('both tree paths: the WebAssembly kernel and generated JavaScript', () => {
  const inputs = readCsv(join(FIXTURES, 'inputs.csv'));
  const random = randomRows(inputs.values, inputs.columns, 3000);

  for (const name of manifest.models) {
    it(`${name}: both equal XGBoost's predictions, and each other bit for bit on 3,000 more rows`, async () => {
      const want = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as {
        predictions: number[][];
      };
      const path = join(FIXTURES, name, 'model.json');
      const rows = randomRows(inputs.values, inputs.columns, 3000, splitConditions(path, inputs.columns));
      const wasm = await loadXGBoostModel(path, { trees: 'wasm' });
      const javascript = await loadXGBoostModel(path, { trees: 'javascript' });

      const isLinear = name.startsWith('gblinear');
      expect(wasm.members[0]?.treePath).toBe(isLinear ? undefined : 'wasm');
      expect(javascript.members[0]?.treePath).toBe(isLinear ? undefined : 'javascript');
      for (const model of [wasm, javascript]) {
        const predictions = model.predictBatch(inputs.values, inputs.rows, inputs.columns);
        expect(worstDifference(predictions, want.predictions)).toBeLessThanOrEqual(1e-6);
      }
      expect(wasm.predictBatch(rows, 3000, inputs.columns)).toEqual(
        javascript.predictBatch(rows, 3000, inputs.columns),
      );
    });
  }

  it('chooses JavaScript for small trees and the kernel otherwise, and the kernel past the JavaScript limits', async () => {
    expect(chooseTreePath(80, 80 * JAVASCRIPT_MAX_MEAN_NODES)).toBe('javascript');
    expect(chooseTreePath(80, 80 * JAVASCRIPT_MAX_MEAN_NODES + 1)).toBe('wasm');
    const path = join(FIXTURES, 'gbtree-multi-softprob/model.json');
    const full = await loadXGBoostModel(path, { trees: 'javascript' });
    const tooManyNodes = await loadXGBoostModel(path, {
      trees: 'javascript',
      codegenLimits: { maxNodes: 100 },
    });
    const tooDeep = await loadXGBoostModel(path, { trees: 'javascript', codegenLimits: { maxDepth: 2 } });

    expect(full.members[0]?.treePath).toBe('javascript');
    expect(tooManyNodes.members[0]?.treePath).toBe('wasm');
    expect(tooDeep.members[0]?.treePath).toBe('wasm');
    const expected = full.predictBatch(random, 3000, inputs.columns);
    expect(tooManyNodes.predictBatch(random, 3000, inputs.columns)).toEqual(expected);
    expect(tooDeep.predictBatch(random, 3000, inputs.columns)).toEqual(expected);
  });

  it('warms an automatic JavaScript choice up in the kernel, then hands over, with the same outputs throughout', async () => {
    const path = join(dirname(fileURLToPath(import.meta.url)), '../../examples/model/xgboost-model.json');
    const auto = await loadXGBoostModel(path);
    const javascript = await loadXGBoostModel(path, { trees: 'javascript' });
    const booster = auto.members[0];
    expect(booster?.treePath).toBe('javascript');
    expect(booster?.warmingUp).toBe(true);
    expect(javascript.members[0]?.warmingUp).toBe(false);
    const batch = randomRows(inputs.values, inputs.columns, 4000);
    let predicted = 0;
    let handedOver = -1;
    while (predicted < WARM_UP_ROWS + 8000) {
      expect(auto.predictBatch(batch, 4000, inputs.columns)).toEqual(
        javascript.predictBatch(batch, 4000, inputs.columns),
      );
      predicted += 4000;
      if (handedOver < 0 && !booster?.warmingUp) handedOver = predicted;
    }
    // The batch that reaches WARM_UP_ROWS is the last in the kernel.
    expect(handedOver).toBe(Math.ceil(WARM_UP_ROWS / 4000) * 4000);
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
      [Number.POSITIVE_INFINITY, false, [2, 1, 1, 1, 1, 2]],
      [Number.NEGATIVE_INFINITY, true, [1, 2, 2, 2, 2, 2]],
      [Number.NEGATIVE_INFINITY, false, [2, 2, 2, 2, 2, 2]],
      [0, true, [1, 1, 2, 2, 1, 2]],
      [0, false, [2, 1, 2, 2, 1, 2]],
    ];
    for (const [split, defaultLeft, want] of cases) {
      for (const trees of PATHS) {
        const booster = new CompiledBooster(model(split, defaultLeft), 'hand-made', { trees });
        expect(booster.treePath).toBe(trees);
        expect([split, defaultLeft, trees, Array.from(booster.predictBatch(values, 6, 1))]).toEqual([
          split,
          defaultLeft,
          trees,
          want,
        ]);
      }
    }
  });

  it("walks a 40-deep one-sided tree, missing values taking each split's default, leaves added in float32", () => {
    // Tree 0 is a chain: split i (feature i % 3, threshold i) sends values below i left to leaf value
    // 1 + i / 7 and the rest on; missing goes left at even i. Then single leaves, 1e8 and four of 3:
    // summed in float32 each 3 is lost (1e8 + 3 rounds back to 1e8), summed in float64 they are not.
    const depth = 40;
    const n = 2 * depth + 1;
    const left = new Int32Array(n).fill(-1);
    const right = new Int32Array(n).fill(-1);
    const splitIndex = new Int32Array(n);
    const splitCondition = new Float32Array(n);
    const defaultLeft = new Uint8Array(n);
    for (let i = 0; i < depth; i++) {
      const node = 2 * i; // splits at even slots, their left leaves at odd ones
      left[node] = node + 1;
      right[node] = node + 2;
      splitIndex[node] = i % 3;
      splitCondition[node] = i;
      defaultLeft[node] = i % 2 === 0 ? 1 : 0;
      splitCondition[node + 1] = 1 + i / 7;
    }
    splitCondition[n - 1] = 100; // the chain's last leaf
    const leaf = (value: number) => ({
      left: new Int32Array([-1]),
      right: new Int32Array([-1]),
      splitIndex: new Int32Array([0]),
      splitCondition: new Float32Array([value]),
      defaultLeft: new Uint8Array([0]),
      hasCategoricalSplit: false,
    });
    const description: ModelDescription = {
      objective: 'reg:squarederror',
      numFeature: 3,
      numClass: 0,
      baseScore: 0.5,
      featureNames: [],
      format: 'json',
      booster: {
        kind: 'gbtree',
        treeInfo: new Int32Array(6),
        trees: [
          { left, right, splitIndex, splitCondition, defaultLeft, hasCategoricalSplit: false },
          ...[1e8, 3, 3, 3, 3].map(leaf),
        ],
      },
    };
    // Hand-written walk of the chain for rows [a, b, c]: the first split i with value < i (or missing,
    // defaulting left) ends at leaf 1 + i / 7.
    const chainLeaf = (row: number[]) => {
      for (let i = 0; i < depth; i++) {
        const v = row[i % 3] as number;
        if (Number.isNaN(v) ? i % 2 === 0 : v < i) return Math.fround(1 + i / 7);
      }
      return 100;
    };
    const rows: number[][] = [
      [50, 50, 50],
      [50, 50, 39.5],
      [0, 0, 0],
      [Number.NaN, 50, 50],
      [50, Number.NaN, 50],
      [Number.NaN, Number.NaN, Number.NaN],
      [5, 50, 50],
      [50, 20, 50],
      [38, 39, 38.5],
    ];
    const sumOf = (row: number[]) => {
      let sum = Math.fround(0.5);
      for (const value of [chainLeaf(row), 1e8, 3, 3, 3, 3]) sum = Math.fround(sum + value);
      return sum;
    };
    const want = rows.map(sumOf);
    // The check means something: float32 steps differ from a float64 sum rounded once.
    expect(want[0]).not.toBe(Math.fround(0.5 + 100 + 1e8 + 12));
    const flat = new Float32Array(rows.flat());
    for (const trees of PATHS) {
      const booster = new CompiledBooster(description, 'hand-made', { trees });
      expect(booster.treePath).toBe(trees);
      expect([trees, Array.from(booster.predictBatch(flat, rows.length, 3))]).toEqual([trees, want]);
      // Rows of one column: the other two are missing.
      const narrow = new Float32Array(rows.map((row) => row[0] as number));
      const narrowWant = rows.map((row) => sumOf([row[0] as number, Number.NaN, Number.NaN]));
      expect([trees, Array.from(booster.predictBatch(narrow, rows.length, 1))]).toEqual([trees, narrowWant]);
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
rows[:40] = np.nan  # all-missing rows: every split's default
np.savetxt(f"{out}/rows.csv", rows, delimiter=",", fmt="%.9g")
narrow = rows.copy()
narrow[:, 5:] = np.nan  # what a 5-column request means to a 12-feature model
for name, params, label, rounds in [
    ("softprob", {"objective": "multi:softprob", "num_class": 3, "max_depth": 6}, y3, 60),
    ("deep", {"objective": "binary:logistic", "max_depth": 14, "min_child_weight": 0}, (y3 > 0).astype(int), 40),
    ("dart", {"objective": "reg:squarederror", "booster": "dart", "max_depth": 6, "rate_drop": 0.1}, f[:, 0] * 2 + f[:, 4], 60),
    ("deeper", {"objective": "reg:squarederror", "max_depth": 30, "min_child_weight": 0, "lambda": 0}, np.exp(2 * f[:, 0]) + rng.normal(size=4000), 5),
]:
    booster = xgb.train({**params, "nthread": 1, "seed": 1}, xgb.DMatrix(x, label=label, missing=np.nan), rounds)
    booster.save_model(f"{out}/{name}.json")
    p = booster.predict(xgb.DMatrix(rows, missing=np.nan))
    json.dump(p.reshape(len(rows), -1).astype(float).tolist(), open(f"{out}/{name}.expected.json", "w"))
    p = booster.predict(xgb.DMatrix(narrow, missing=np.nan))
    json.dump(p.reshape(len(rows), -1).astype(float).tolist(), open(f"{out}/{name}.narrow.json", "w"))
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

/** The deepest root-to-leaf path of every tree in a model.json. */
function treeDepths(path: string): number[] {
  const trees = JSON.parse(readFileSync(path, 'utf8')).learner.gradient_booster.model.trees as {
    left_children: number[];
    right_children: number[];
  }[];
  return trees.map((tree) => {
    let deepest = 0;
    const stack: [number, number][] = [[0, 0]];
    while (stack.length > 0) {
      const [node, depth] = stack.pop() as [number, number];
      deepest = Math.max(deepest, depth);
      const left = tree.left_children[node] as number;
      if (left !== -1) stack.push([left, depth + 1], [tree.right_children[node] as number, depth + 1]);
    }
    return deepest;
  });
}

describe.skipIf(!hasXGBoost)(
  'both tree paths on bigger models, against XGBoost 1.7 (python3-xgboost)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'predictor-big-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    let trained = false;
    const train = () => {
      if (!trained) execFileSync(PYTHON, ['-c', TRAIN, dir], { stdio: 'inherit' });
      trained = true;
    };

    for (const name of ['softprob', 'deep', 'dart', 'deeper']) {
      it(`${name}: both paths equal XGBoost's predictions, all-missing and 5-column rows too`, {
        timeout: 120_000,
      }, async () => {
        train();
        const rows = readCsv(join(dir, 'rows.csv'));
        const want = JSON.parse(readFileSync(join(dir, `${name}.expected.json`), 'utf8')) as number[][];
        const wantNarrow = JSON.parse(readFileSync(join(dir, `${name}.narrow.json`), 'utf8')) as number[][];
        if (name === 'deeper')
          expect(Math.min(...treeDepths(join(dir, 'deeper.json')))).toBeGreaterThanOrEqual(20);
        const narrow = new Float32Array(rows.rows * 5);
        for (let r = 0; r < rows.rows; r++) {
          for (let c = 0; c < 5; c++) narrow[r * 5 + c] = rows.values[r * rows.columns + c] as number;
        }
        const outputs: Float64Array[] = [];
        for (const trees of PATHS) {
          const model = await loadXGBoostModel(join(dir, `${name}.json`), { trees });
          expect(model.members[0]?.treePath).toBe(trees);
          if (trees === 'javascript' && name !== 'deep' && name !== 'deeper')
            expect(model.members[0]?.compiledFunctions).toBeGreaterThan(1);
          const predictions = model.predictBatch(rows.values, rows.rows, rows.columns);
          const narrowPredictions = model.predictBatch(narrow, rows.rows, 5);
          expect(worstDifference(predictions, want)).toBeLessThanOrEqual(1e-6);
          expect(worstDifference(narrowPredictions, wantNarrow)).toBeLessThanOrEqual(1e-6);
          outputs.push(predictions, narrowPredictions);
        }
        // The two paths add the same float32 leaves in the same order: equal bit for bit.
        expect(outputs[0]).toEqual(outputs[2]);
        expect(outputs[1]).toEqual(outputs[3]);
      });
    }
  },
);
