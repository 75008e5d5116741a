/**
 * Predicts with an XGBoost model saved in its JSON format (`booster.save_model('model.json')`), without
 * XGBoost: the trees are read once, flattened into typed arrays, and walked the way XGBoost's CPU
 * predictor walks them, in float32, so that predictions equal XGBoost's own.
 */
import { InvalidInputError, UnsupportedModelError } from '../errors.js';
import { readModelArtifact } from './model-artifact.js';

/** The objectives this predictor implements. */
export const SUPPORTED_OBJECTIVES = [
  'binary:logistic',
  'binary:logitraw',
  'reg:logistic',
  'reg:squarederror',
  'reg:linear',
  'multi:softprob',
  'multi:softmax',
] as const;

export type XGBoostObjective = (typeof SUPPORTED_OBJECTIVES)[number];

/**
 * What one row's output means:
 * - `binary`: one probability (of class 1), or one raw margin for `binary:logitraw`;
 * - `multiclass-probabilities`: `numClass` probabilities (multi:softprob);
 * - `multiclass-label`: the predicted class index (multi:softmax);
 * - `regression`: one value.
 */
export type OutputKind = 'binary' | 'multiclass-probabilities' | 'multiclass-label' | 'regression';

/** The parts of the JSON model this loader reads; everything else in the file is ignored. */
interface JsonTree {
  left_children: number[];
  right_children: number[];
  split_indices: number[];
  split_conditions: number[];
  default_left: (number | boolean)[];
  split_type?: number[];
}

/**
 * A loaded XGBoost gbtree model, ready to predict.
 *
 * @example
 * ```ts
 * const model = await loadXGBoostModel('examples/model/xgboost-model.json');
 * const [[probability]] = model.predict([[17.99, 10.38, ...]]);
 * ```
 */
export class XGBoostModel {
  /** The objective named in the model, e.g. `binary:logistic`. */
  readonly objective: XGBoostObjective;
  /** Features per row the model was trained on (`learner_model_param.num_feature`). */
  readonly numFeature: number;
  /** `learner_model_param.num_class`: the class count for multi:* objectives, 0 otherwise (as in XGBoost). */
  readonly numClass: number;
  /** Numbers per row in a prediction: `numClass` for multi:softprob, 1 otherwise. */
  readonly outputsPerRow: number;
  readonly outputKind: OutputKind;
  readonly numTrees: number;
  /** Feature names saved with the model (empty when it was trained on a plain array). */
  readonly featureNames: readonly string[];
  /** `learner_model_param.base_score`, in output space as XGBoost 1.x saves it. */
  readonly baseScore: number;

  /** Margin every output starts from: base_score mapped to margin space, in float32. */
  private readonly baseMargin: number;
  /** Flattened nodes of every tree; child indices are absolute into these arrays. */
  private readonly splitFeature: Int32Array; // -1 marks a leaf
  private readonly splitValue: Float32Array; // split condition, or the leaf value at a leaf
  private readonly leftChild: Int32Array; // the right child is always leftChild + 1
  private readonly missingChild: Int32Array; // the default direction's child, taken for NaN
  private readonly treeRoot: Int32Array;
  private readonly treeGroup: Int32Array; // output group (class) each tree adds to
  private readonly numGroups: number;

  /** Builds a model from parsed JSON. Prefer {@link loadXGBoostModel} or {@link parseXGBoostModel}. */
  constructor(json: unknown) {
    const learner = field(json, 'learner', 'object', 'model');
    const params = field(learner, 'learner_model_param', 'object', 'learner');
    const booster = field(learner, 'gradient_booster', 'object', 'learner');
    const boosterName = field(booster, 'name', 'string', 'gradient_booster');
    if (boosterName !== 'gbtree') {
      throw new UnsupportedModelError(
        `Unsupported booster "${boosterName}": the built-in model server serves gbtree models only`,
      );
    }
    const objectiveName = field(
      field(learner, 'objective', 'object', 'learner'),
      'name',
      'string',
      'objective',
    );
    if (!(SUPPORTED_OBJECTIVES as readonly string[]).includes(objectiveName)) {
      throw new UnsupportedModelError(
        `Unsupported objective "${objectiveName}": the built-in model server supports ${SUPPORTED_OBJECTIVES.join(', ')}`,
      );
    }
    this.objective = objectiveName as XGBoostObjective;
    this.numFeature = integerParam(params, 'num_feature');
    this.numClass = integerParam(params, 'num_class', 0);
    const numTarget = integerParam(params, 'num_target', 1);
    if (numTarget !== 1) {
      throw new UnsupportedModelError(
        `Unsupported num_target ${numTarget}: multi-target models are not served`,
      );
    }
    this.baseScore = Number(field(params, 'base_score', 'string', 'learner_model_param'));
    if (!Number.isFinite(this.baseScore)) throw new InvalidInputError('Model base_score is not a number');

    const isMulti = this.objective.startsWith('multi:');
    if (isMulti && this.numClass < 2) {
      throw new InvalidInputError(
        `Model objective ${this.objective} needs num_class >= 2, got ${this.numClass}`,
      );
    }
    this.numGroups = isMulti ? this.numClass : 1;
    this.outputsPerRow = this.objective === 'multi:softprob' ? this.numClass : 1;
    this.outputKind =
      this.objective === 'multi:softprob'
        ? 'multiclass-probabilities'
        : this.objective === 'multi:softmax'
          ? 'multiclass-label'
          : this.objective.startsWith('binary:')
            ? 'binary'
            : 'regression';
    this.baseMargin = probToMargin(this.objective, this.baseScore);

    const names = (learner as { feature_names?: unknown }).feature_names;
    this.featureNames = Array.isArray(names) ? names.map(String) : [];

    const gbtree = field(booster, 'model', 'object', 'gradient_booster');
    const trees = field(gbtree, 'trees', 'array', 'gradient_booster.model') as JsonTree[];
    const treeInfo = field(gbtree, 'tree_info', 'array', 'gradient_booster.model') as number[];
    if (treeInfo.length !== trees.length) {
      throw new InvalidInputError(`Model has ${trees.length} trees but ${treeInfo.length} tree_info entries`);
    }
    this.numTrees = trees.length;

    let totalNodes = 0;
    trees.forEach((tree, t) => {
      if (!Array.isArray(tree?.left_children))
        throw new InvalidInputError(`Tree ${t} has no left_children array`);
      totalNodes += tree.left_children.length;
    });
    this.splitFeature = new Int32Array(totalNodes);
    this.splitValue = new Float32Array(totalNodes);
    this.leftChild = new Int32Array(totalNodes);
    this.missingChild = new Int32Array(totalNodes);
    this.treeRoot = new Int32Array(trees.length);
    this.treeGroup = new Int32Array(trees.length);

    let offset = 0;
    trees.forEach((tree, t) => {
      const group = treeInfo[t] ?? 0;
      if (!Number.isInteger(group) || group < 0 || group >= this.numGroups) {
        throw new InvalidInputError(
          `Tree ${t} is assigned to output group ${group}; the model has ${this.numGroups}`,
        );
      }
      this.treeRoot[t] = offset;
      this.treeGroup[t] = group;
      offset += this.flattenTree(tree, t, offset);
    });
  }

  /**
   * Copies one tree into the flat arrays from `offset`, breadth-first from the root, and returns how
   * many nodes it wrote. Renumbering gives each split's two children adjacent slots, so the walk steps
   * to `leftChild + (goes right)` without a second lookup, and drops pruned nodes no walk reaches.
   */
  private flattenTree(tree: JsonTree, t: number, offset: number): number {
    const n = tree.left_children.length;
    for (const key of ['right_children', 'split_indices', 'split_conditions', 'default_left'] as const) {
      if (!Array.isArray(tree[key]) || tree[key].length !== n) {
        throw new InvalidInputError(`Tree ${t} has a malformed ${key} array`);
      }
    }
    if (n === 0) throw new InvalidInputError(`Tree ${t} has no nodes`);
    const order = [0];
    const seen = new Uint8Array(n);
    seen[0] = 1;
    for (let k = 0; k < order.length; k++) {
      const i = order[k] as number;
      const node = offset + k;
      const left = tree.left_children[i] as number;
      this.splitValue[node] = tree.split_conditions[i] as number;
      if (left === -1) {
        this.splitFeature[node] = -1;
        continue;
      }
      if (tree.split_type && tree.split_type[i] !== 0) {
        throw new UnsupportedModelError(
          `Tree ${t} has a categorical split: categorical features are not served`,
        );
      }
      const right = tree.right_children[i] as number;
      const feature = tree.split_indices[i] as number;
      if (left < 0 || left >= n || right < 0 || right >= n || seen[left] || seen[right] || left === right) {
        throw new InvalidInputError(`Tree ${t} node ${i} has children that do not form a tree`);
      }
      if (feature < 0 || feature >= this.numFeature) {
        throw new InvalidInputError(
          `Tree ${t} node ${i} splits on feature ${feature}; num_feature is ${this.numFeature}`,
        );
      }
      seen[left] = 1;
      seen[right] = 1;
      const leftSlot = offset + order.length;
      order.push(left, right);
      this.splitFeature[node] = feature;
      this.leftChild[node] = leftSlot;
      this.missingChild[node] = tree.default_left[i] ? leftSlot : leftSlot + 1;
    }
    return order.length;
  }

  /**
   * Predicts a batch of rows stored row-major in one array (`numRows × numFeatures`); NaN is a missing
   * value. Returns `numRows × outputsPerRow` numbers, row-major. Float64Array input is rounded to
   * float32 first, as XGBoost stores features as float32 before comparing them with split conditions.
   */
  predictBatch(
    rows: Float32Array | Float64Array,
    numRows: number,
    numFeatures: number = this.numFeature,
  ): Float64Array {
    if (numFeatures !== this.numFeature) {
      throw new InvalidInputError(`Rows have ${numFeatures} features; the model expects ${this.numFeature}`);
    }
    if (rows.length < numRows * numFeatures) {
      throw new InvalidInputError(
        `${numRows} rows of ${numFeatures} features need ${numRows * numFeatures} values, got ${rows.length}`,
      );
    }
    const features =
      rows instanceof Float32Array ? rows : Float32Array.from(rows.subarray(0, numRows * numFeatures));
    const margins = this.margins(features, numRows, numFeatures);
    return this.transform(margins, numRows);
  }

  /**
   * Predicts rows given as arrays of numbers (NaN, `null` or `undefined` for a missing value). Returns one
   * array per row: `[probability]`, `[value]`, `[classIndex]`, or the class probabilities for softprob.
   */
  predict(rows: readonly (readonly (number | null | undefined)[])[]): number[][] {
    const flat = new Float32Array(rows.length * this.numFeature);
    rows.forEach((row, r) => {
      if (row.length !== this.numFeature) {
        throw new InvalidInputError(
          `Row ${r + 1} has ${row.length} features; the model expects ${this.numFeature}`,
        );
      }
      for (let f = 0; f < row.length; f++) flat[r * this.numFeature + f] = row[f] ?? Number.NaN;
    });
    const out = this.predictBatch(flat, rows.length);
    const result: number[][] = [];
    for (let r = 0; r < rows.length; r++) {
      result.push(Array.from(out.subarray(r * this.outputsPerRow, (r + 1) * this.outputsPerRow)));
    }
    return result;
  }

  /** Raw margins, `numRows × numGroups`, accumulated in float32 in tree order as XGBoost does. */
  private margins(features: Float32Array, numRows: number, numFeatures: number): Float32Array {
    const { treeRoot, treeGroup, numGroups, baseMargin } = this;
    const margins = new Float32Array(numRows * numGroups);
    const numTrees = treeRoot.length;
    for (let r = 0; r < numRows; r++) {
      const base = r * numFeatures;
      if (numGroups === 1) {
        // One output: a local accumulator, rounded to float32 after each tree like XGBoost's
        // `preds[i] += leaf_value` on floats, is a quarter faster than adding into the array.
        let margin = baseMargin;
        for (let t = 0; t < numTrees; t++) {
          margin = Math.fround(margin + this.leafValue(treeRoot[t] as number, features, base));
        }
        margins[r] = margin;
        continue;
      }
      const out = r * numGroups;
      margins.fill(baseMargin, out, out + numGroups);
      for (let t = 0; t < numTrees; t++) {
        // Float32Array storage rounds each addition to float32.
        const g = out + (treeGroup[t] as number);
        margins[g] = (margins[g] as number) + this.leafValue(treeRoot[t] as number, features, base);
      }
    }
    return margins;
  }

  /** Walks one tree for the row at `base` and returns its leaf value. */
  private leafValue(root: number, features: Float32Array, base: number): number {
    const { splitFeature, splitValue, leftChild, missingChild } = this;
    let node = root;
    let feature = splitFeature[node] as number;
    while (feature >= 0) {
      const value = features[base + feature] as number;
      // XGBoost goes left when `fvalue < split_condition`; both sides are float32 values, so the
      // comparison is exact. A missing value (NaN) takes the learned default child; that test is
      // almost always false and predicts well, while the split itself is branch-free arithmetic.
      node = Number.isNaN(value)
        ? (missingChild[node] as number)
        : (leftChild[node] as number) + +(value >= (splitValue[node] as number));
      feature = splitFeature[node] as number;
    }
    return splitValue[node] as number;
  }

  private transform(margins: Float32Array, numRows: number): Float64Array {
    const out = new Float64Array(numRows * this.outputsPerRow);
    switch (this.objective) {
      case 'binary:logistic':
      case 'reg:logistic':
        // XGBoost's Sigmoid in float32: 1.0f / (expf(-x) + 1.0f); rounding each step alike keeps the
        // result within an ulp of XGBoost's instead of a few ulps.
        for (let i = 0; i < numRows; i++) {
          out[i] = Math.fround(1 / Math.fround(Math.fround(Math.exp(-(margins[i] as number))) + 1));
        }
        return out;
      case 'multi:softprob': {
        const k = this.numClass;
        for (let r = 0; r < numRows; r++) softmaxInto(margins, r * k, k, out);
        return out;
      }
      case 'multi:softmax': {
        const k = this.numClass;
        for (let r = 0; r < numRows; r++) {
          // The first maximum wins, as in XGBoost's FindMaxIndex.
          let best = 0;
          for (let c = 1; c < k; c++)
            if ((margins[r * k + c] as number) > (margins[r * k + best] as number)) best = c;
          out[r] = best;
        }
        return out;
      }
      default:
        out.set(margins);
        return out;
    }
  }
}

/** XGBoost's Softmax: exp(x - max) in float32, normalised by a double sum. */
function softmaxInto(margins: Float32Array, start: number, k: number, out: Float64Array): void {
  let max = margins[start] as number;
  for (let c = 1; c < k; c++) max = Math.max(max, margins[start + c] as number);
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const e = Math.fround(Math.exp(Math.fround((margins[start + c] as number) - max)));
    out[start + c] = e;
    sum += e;
  }
  const denominator = Math.fround(sum);
  for (let c = 0; c < k; c++) out[start + c] = Math.fround((out[start + c] as number) / denominator);
}

/** base_score is saved in output space; prediction starts from it in margin space (ObjFunction::ProbToMargin). */
function probToMargin(objective: XGBoostObjective, baseScore: number): number {
  if (objective === 'binary:logistic' || objective === 'reg:logistic' || objective === 'binary:logitraw') {
    if (!(baseScore > 0 && baseScore < 1)) {
      throw new InvalidInputError(`Model base_score ${baseScore} must be in (0, 1) for ${objective}`);
    }
    return Math.fround(-Math.log(Math.fround(Math.fround(1 / baseScore) - 1)));
  }
  return Math.fround(baseScore);
}

type Kind = 'object' | 'string' | 'array';

function field(parent: unknown, key: string, kind: 'object', where: string): Record<string, unknown>;
function field(parent: unknown, key: string, kind: 'string', where: string): string;
function field(parent: unknown, key: string, kind: 'array', where: string): unknown[];
function field(parent: unknown, key: string, kind: Kind, where: string): unknown {
  const value =
    parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[key] : undefined;
  const ok =
    kind === 'array'
      ? Array.isArray(value)
      : kind === 'object'
        ? value !== null && typeof value === 'object' && !Array.isArray(value)
        : typeof value === 'string';
  if (!ok) {
    throw new InvalidInputError(
      `Not an XGBoost JSON model: ${where}.${key} is missing or not ${kind === 'array' ? 'an' : 'a'} ${kind}`,
    );
  }
  return value;
}

function integerParam(params: Record<string, unknown>, key: string, fallback?: number): number {
  const raw = params[key];
  if (raw === undefined && fallback !== undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidInputError(
      `Model learner_model_param.${key} is not a non-negative integer: ${String(raw)}`,
    );
  }
  return value;
}

/**
 * Parses an XGBoost JSON model from text or bytes. Throws UnsupportedModelError for UBJSON or the
 * legacy binary format (re-save those with `booster.save_model('model.json')`).
 */
export function parseXGBoostModel(text: string | Uint8Array, source = 'model'): XGBoostModel {
  const body =
    typeof text === 'string'
      ? text
      : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new UnsupportedModelError(
      `${source} is not an XGBoost JSON model (UBJSON and the legacy binary format are not served; ` +
        `re-save it with booster.save_model("model.json"))`,
      { cause: error },
    );
  }
  return new XGBoostModel(json);
}

/**
 * Loads an XGBoost JSON model from a file, a model directory (such as /opt/ml/model) or a model.tar.gz.
 * Throws InvalidInputError when nothing usable is there and UnsupportedModelError for a booster,
 * objective or format the predictor does not implement.
 */
export async function loadXGBoostModel(path: string): Promise<XGBoostModel> {
  const { bytes, source } = await readModelArtifact(path);
  return parseXGBoostModel(bytes, source);
}
