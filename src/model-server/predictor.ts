/**
 * XGBoost 1.7's prediction, without XGBoost: a {@link ModelDescription} (from any format reader) is
 * compiled once at load into flat typed arrays (trees renumbered so each split's children are adjacent),
 * then handed to one of two tree paths: a WebAssembly kernel that walks the trees as data with no
 * data-dependent branch (predictor-wasm.ts), or straight-line JavaScript, nested `if`s with the splits
 * as literals (predictor-codegen.ts). Both add leaves in float32 in XGBoost's order, so outputs equal
 * XGBoost's own; which one runs is a speed choice only ({@link chooseTreePath}).
 */
import { InvalidInputError, UnsupportedModelError } from '../errors.js';
import type { ModelDescription, TreeDescription } from './model-description.js';
import {
  type CodegenLimits,
  compileTreeKernels,
  DEFAULT_CODEGEN_LIMITS,
  type FlatTrees,
  type TreeKernel,
} from './predictor-codegen.js';
import { WasmTrees } from './predictor-wasm.js';

/** How a model's trees run: the WebAssembly kernel, or generated JavaScript. */
export type TreePath = 'wasm' | 'javascript';

/** How a model's trees are turned into code. */
export interface CompileOptions {
  /**
   * The tree path: 'auto' (default) picks by {@link chooseTreePath} (JavaScript after a warm-up in the
   * kernel, {@link WARM_UP_ROWS}); 'wasm' or 'javascript' force one from the first row (tests, the
   * bench). JavaScript past its code size limits runs as WebAssembly instead.
   */
  trees?: 'auto' | TreePath;
  /** Limits on generated JavaScript (default {@link DEFAULT_CODEGEN_LIMITS}). */
  codegenLimits?: Partial<CodegenLimits>;
}

/**
 * Mean nodes per tree at or below which generated JavaScript runs the trees. Measured on this project's
 * 2-core machines (docs/performance.md): on the sample model (80 trees of 9.6 nodes on average, depth
 * at most 4, breast-cancer rows whose splits a branch predictor learns well) the nested `if`s are about
 * 1.5× faster than the kernel; on models of 15 nodes a tree and more (depth 3 to 8 on rows where splits
 * are coin flips) the kernel is 2.2× to 3.6× faster, and on 200 trees of 9 nodes on breast-cancer rows
 * the two are even. Both paths beat native XGBoost on both bench models.
 */
export const JAVASCRIPT_MAX_MEAN_NODES = 12;

/**
 * Rows a model whose trees run as JavaScript (chosen by {@link chooseTreePath}, not forced) predicts in
 * the WebAssembly kernel first, with equal outputs. V8 runs generated code slowly until it has compiled
 * it, which took about 45 ms of the first 5,000 rows of the sample model, where the kernel, compiled at
 * load, took 4 ms: a job of a few thousand rows (the sample run's 569) never pays that, and a large one
 * pays it once (50,000 rows in the kernel cost about 11 ms more than in warm JavaScript).
 */
export const WARM_UP_ROWS = 50_000;

/**
 * The tree path for a model of `numTrees` trees and `numNodes` nodes: generated JavaScript for small
 * trees (mean nodes per tree at most {@link JAVASCRIPT_MAX_MEAN_NODES}), where branches are few and
 * mostly predicted; the WebAssembly kernel otherwise, whose cost is each tree's depth in steps whatever
 * the data.
 */
export function chooseTreePath(numTrees: number, numNodes: number): TreePath {
  return numTrees > 0 && numNodes / numTrees <= JAVASCRIPT_MAX_MEAN_NODES ? 'javascript' : 'wasm';
}

/** Rows per block: the block's margins and features stay in cache while every tree runs over it. */
const ROW_BLOCK = 256;

/** How an objective maps base_score to a margin (ProbToMargin) and a margin to the output (PredTransform). */
interface ObjectiveRule {
  margin: 'identity' | 'logit' | 'log';
  output: 'identity' | 'sigmoid' | 'exp' | 'hinge' | 'softmax' | 'argmax';
}

/** Every objective XGBoost 1.7's predictor can serve, with its base_score and output rules. */
export const OBJECTIVES: Readonly<Record<string, ObjectiveRule>> = {
  'reg:squarederror': { margin: 'identity', output: 'identity' },
  'reg:linear': { margin: 'identity', output: 'identity' },
  'reg:squaredlogerror': { margin: 'identity', output: 'identity' },
  'reg:pseudohubererror': { margin: 'identity', output: 'identity' },
  'reg:absoluteerror': { margin: 'identity', output: 'identity' },
  'reg:logistic': { margin: 'logit', output: 'sigmoid' },
  'binary:logistic': { margin: 'logit', output: 'sigmoid' },
  // XGBoost 1.7's LogisticRaw keeps base_score as the raw margin (no logit) and outputs the margin.
  'binary:logitraw': { margin: 'identity', output: 'identity' },
  'binary:hinge': { margin: 'identity', output: 'hinge' },
  'reg:gamma': { margin: 'log', output: 'exp' },
  'reg:tweedie': { margin: 'log', output: 'exp' },
  'count:poisson': { margin: 'log', output: 'exp' },
  'survival:cox': { margin: 'log', output: 'exp' },
  'survival:aft': { margin: 'log', output: 'exp' },
  'multi:softprob': { margin: 'identity', output: 'softmax' },
  'multi:softmax': { margin: 'identity', output: 'argmax' },
  'rank:pairwise': { margin: 'identity', output: 'identity' },
  'rank:ndcg': { margin: 'identity', output: 'identity' },
  'rank:map': { margin: 'identity', output: 'identity' },
};

/** One model, compiled: predicts rows given row-major in one Float32Array (NaN = missing). */
export class CompiledBooster {
  readonly objective: string;
  readonly numFeature: number;
  readonly numClass: number;
  /** Numbers per row in a prediction: numClass for multi:softprob, 1 otherwise. */
  readonly outputsPerRow: number;
  readonly numTrees: number;
  readonly booster: 'gbtree' | 'dart' | 'gblinear';
  readonly featureNames: readonly string[];
  /** base_score as saved (output space). */
  readonly baseScore: number;
  private readonly rule: ObjectiveRule;
  /** base_score in margin space, float32: where every output's sum starts. */
  private readonly baseMargin: number;
  private readonly numGroups: number;
  // Trees, flattened: child indices are absolute; the right child is always leftChild + 1.
  private readonly splitFeature: Int32Array; // -1 marks a leaf
  private readonly splitValue: Float32Array; // split condition, or the leaf value at a leaf
  private readonly leftChild: Int32Array;
  private readonly missingChild: Int32Array; // the default direction's child, taken for NaN
  private readonly treeRoot: Int32Array;
  private readonly treeGroup: Int32Array;
  private readonly treeSize: Int32Array;
  /** The trees as generated code, when they run as JavaScript. */
  private readonly kernels: TreeKernel[] | undefined;
  /** The trees in the WebAssembly kernel's memory, when they run there, or warm up there. */
  private readonly wasm: WasmTrees | undefined;
  /** Rows left to predict in the kernel before the generated JavaScript takes over (WARM_UP_ROWS). */
  private rowsBeforeJavascript = 0;
  /** dart: each tree's weight; undefined for gbtree. */
  private readonly treeWeight: Float32Array | undefined;
  /** gblinear: the weights, `(numFeature + 1) × groups`. */
  private readonly linearWeights: Float32Array | undefined;

  constructor(model: ModelDescription, source = 'model', options: CompileOptions = {}) {
    const rule = OBJECTIVES[model.objective];
    if (!rule) {
      throw new UnsupportedModelError(
        `${source}: unsupported objective "${model.objective}"; XGBoost 1.7's predictor serves ` +
          Object.keys(OBJECTIVES).join(', '),
      );
    }
    this.rule = rule;
    this.objective = model.objective;
    this.numFeature = model.numFeature;
    this.numClass = model.numClass;
    this.baseScore = model.baseScore;
    this.featureNames = model.featureNames;
    this.booster = model.booster.kind;
    const multi = model.objective.startsWith('multi:');
    if (multi && model.numClass < 2) {
      throw new InvalidInputError(
        `${source}: objective ${model.objective} needs num_class >= 2, got ${model.numClass}`,
      );
    }
    this.numGroups = Math.max(model.numClass, 1);
    this.outputsPerRow = rule.output === 'softmax' ? this.numGroups : 1;
    this.baseMargin = probToMargin(rule, model.baseScore, model.objective, source);

    const booster = model.booster;
    if (booster.kind === 'gblinear') {
      if (booster.weights.length !== (this.numFeature + 1) * this.numGroups) {
        throw new InvalidInputError(
          `${source}: ${booster.weights.length} linear weights for ${this.numFeature} features and ${this.numGroups} groups`,
        );
      }
      this.linearWeights = booster.weights;
      this.treeWeight = undefined;
      this.numTrees = 0;
      this.splitFeature = new Int32Array(0);
      this.splitValue = new Float32Array(0);
      this.leftChild = new Int32Array(0);
      this.missingChild = new Int32Array(0);
      this.treeRoot = new Int32Array(0);
      this.treeGroup = new Int32Array(0);
      this.treeSize = new Int32Array(0);
      this.kernels = undefined;
      this.wasm = undefined;
      return;
    }
    this.linearWeights = undefined;
    this.treeWeight = booster.kind === 'dart' ? booster.weightDrop : undefined;
    const { trees, treeInfo } = booster;
    this.numTrees = trees.length;
    let totalNodes = 0;
    for (const tree of trees) totalNodes += tree.left.length;
    this.splitFeature = new Int32Array(totalNodes);
    this.splitValue = new Float32Array(totalNodes);
    this.leftChild = new Int32Array(totalNodes);
    this.missingChild = new Int32Array(totalNodes);
    this.treeRoot = new Int32Array(trees.length);
    this.treeGroup = new Int32Array(trees.length);
    this.treeSize = new Int32Array(trees.length);
    let offset = 0;
    trees.forEach((tree, t) => {
      const group = treeInfo[t] as number;
      if (!(group >= 0 && group < this.numGroups)) {
        throw new InvalidInputError(
          `${source}: tree ${t} adds to output group ${group}; the model has ${this.numGroups}`,
        );
      }
      if (tree.hasCategoricalSplit) {
        throw new UnsupportedModelError(
          `${source}: tree ${t} has a categorical split; categorical features are not served`,
        );
      }
      this.treeRoot[t] = offset;
      this.treeGroup[t] = group;
      this.treeSize[t] = this.flattenTree(tree, t, offset, source);
      offset += this.treeSize[t] as number;
    });
    const flat: FlatTrees = {
      splitFeature: this.splitFeature,
      splitValue: this.splitValue,
      leftChild: this.leftChild,
      missingChild: this.missingChild,
      treeRoot: this.treeRoot,
      treeGroup: this.treeGroup,
      treeSize: this.treeSize,
    };
    const contribution = (t: number, leaf: number) => this.leafContribution(t, leaf);
    const wanted = options.trees ?? 'auto';
    const path = wanted === 'auto' ? chooseTreePath(this.numTrees, totalNodes) : wanted;
    this.kernels =
      path === 'javascript'
        ? compileTreeKernels(flat, this.numGroups, contribution, {
            ...DEFAULT_CODEGEN_LIMITS,
            ...options.codegenLimits,
          })
        : undefined;
    // The kernel runs the trees, or (an automatic JavaScript choice) the first rows while V8 warms up.
    const warmUp = this.kernels !== undefined && wanted === 'auto';
    this.wasm =
      !this.kernels || warmUp
        ? new WasmTrees(flat, this.numFeature, this.numGroups, contribution)
        : undefined;
    this.rowsBeforeJavascript = warmUp ? WARM_UP_ROWS : 0;
  }

  /** Which path runs the trees; undefined for gblinear, which has none. */
  get treePath(): TreePath | undefined {
    if (this.kernels) return 'javascript';
    return this.wasm ? 'wasm' : undefined;
  }

  /** Whether rows of a JavaScript-path model still go to the kernel ({@link WARM_UP_ROWS}). */
  get warmingUp(): boolean {
    return this.kernels !== undefined && this.rowsBeforeJavascript > 0;
  }

  /** How many generated functions hold the trees (0 unless they run as JavaScript). */
  get compiledFunctions(): number {
    return this.kernels?.length ?? 0;
  }

  /**
   * What tree t's leaf adds to its margin, in float32. Dart predicts each tree alone from base_score,
   * takes base_score off again and scales what is left by the tree's weight (gbtree.cc,
   * Dart::PredictBatchImpl): the same float steps, done once per leaf instead of once per row.
   */
  private leafContribution(t: number, leaf: number): number {
    const { treeWeight, baseMargin } = this;
    if (!treeWeight) return leaf;
    const alone = Math.fround(Math.fround(baseMargin + leaf) - baseMargin);
    return Math.fround(alone * (treeWeight[t] as number));
  }

  /**
   * Copies one tree into the flat arrays from `offset`, breadth-first from the root, and returns how
   * many nodes it wrote. Renumbering gives each split's two children adjacent slots (the right child is
   * `leftChild + 1`), puts children after their parent, and drops pruned nodes no walk reaches.
   */
  private flattenTree(tree: TreeDescription, t: number, offset: number, source: string): number {
    const n = tree.left.length;
    if (n === 0) throw new InvalidInputError(`${source}: tree ${t} has no nodes`);
    for (const key of ['right', 'splitIndex', 'splitCondition', 'defaultLeft'] as const) {
      if (tree[key].length !== n)
        throw new InvalidInputError(`${source}: tree ${t} has a malformed ${key} array`);
    }
    const order = [0];
    const seen = new Uint8Array(n);
    seen[0] = 1;
    for (let k = 0; k < order.length; k++) {
      const i = order[k] as number;
      const node = offset + k;
      const left = tree.left[i] as number;
      this.splitValue[node] = tree.splitCondition[i] as number;
      if (left === -1) {
        this.splitFeature[node] = -1;
        continue;
      }
      const right = tree.right[i] as number;
      const feature = tree.splitIndex[i] as number;
      if (left < 0 || left >= n || right < 0 || right >= n || seen[left] || seen[right] || left === right) {
        throw new InvalidInputError(`${source}: tree ${t} node ${i} has children that do not form a tree`);
      }
      if (feature < 0 || feature >= this.numFeature) {
        throw new InvalidInputError(
          `${source}: tree ${t} node ${i} splits on feature ${feature}; num_feature is ${this.numFeature}`,
        );
      }
      seen[left] = 1;
      seen[right] = 1;
      const leftSlot = offset + order.length;
      order.push(left, right);
      this.splitFeature[node] = feature;
      this.leftChild[node] = leftSlot;
      this.missingChild[node] = tree.defaultLeft[i] ? leftSlot : leftSlot + 1;
    }
    return order.length;
  }

  /**
   * Predicts `numRows` rows of `numFeatures` values (row-major, NaN = missing; fewer features than the
   * model's are missing ones, as in XGBoost). Returns `numRows × outputsPerRow` float32 values.
   */
  predictBatch(features: Float32Array, numRows: number, numFeatures: number): Float64Array {
    if (numFeatures > this.numFeature) {
      throw new InvalidInputError(`Rows have ${numFeatures} features; the model expects ${this.numFeature}`);
    }
    const margins = this.linearWeights
      ? this.linearMargins(features, numRows, numFeatures)
      : this.treeMargins(features, numRows, numFeatures);
    return this.transform(margins, numRows);
  }

  /** Raw margins, `numRows × numGroups`, accumulated in float32 tree by tree as XGBoost does. */
  private treeMargins(features: Float32Array, numRows: number, numFeatures: number): Float32Array {
    const margins = new Float32Array(numRows * this.numGroups).fill(this.baseMargin);
    const kernels = this.kernels;
    if (!kernels || this.rowsBeforeJavascript > 0) {
      // The kernel, or JavaScript's warm-up (numTrees 0 adds nothing). Columns past numFeatures are missing.
      if (kernels) this.rowsBeforeJavascript -= numRows;
      this.wasm?.addTrees(features, numRows, numFeatures, margins);
      return margins;
    }
    // Generated code reads every feature the trees split on: columns the request did not send are
    // missing, as in a narrower DMatrix, so narrower rows are widened with NaN first.
    const width = this.numFeature;
    const rows = numFeatures === width ? features : widen(features, numRows, numFeatures, width);
    for (let start = 0; start < numRows; start += ROW_BLOCK) {
      const end = Math.min(start + ROW_BLOCK, numRows);
      for (const kernel of kernels) kernel(rows, width, start, end, margins);
    }
    return margins;
  }

  /** gblinear: bias + base_score + Σ weight × value over the row's present features, in float32. */
  private linearMargins(features: Float32Array, numRows: number, numFeatures: number): Float32Array {
    const weights = this.linearWeights as Float32Array;
    const { numGroups, baseMargin } = this;
    const margins = new Float32Array(numRows * numGroups);
    for (let r = 0; r < numRows; r++) {
      const base = r * numFeatures;
      for (let g = 0; g < numGroups; g++) {
        let sum = Math.fround((weights[this.numFeature * numGroups + g] as number) + baseMargin);
        for (let f = 0; f < numFeatures; f++) {
          const value = features[base + f] as number;
          if (Number.isNaN(value)) continue;
          sum = Math.fround(sum + Math.fround(value * (weights[f * numGroups + g] as number)));
        }
        margins[r * numGroups + g] = sum;
      }
    }
    return margins;
  }

  private transform(margins: Float32Array, numRows: number): Float64Array {
    const k = this.numGroups;
    const out = new Float64Array(numRows * this.outputsPerRow);
    switch (this.rule.output) {
      case 'sigmoid':
        // XGBoost's Sigmoid in float32: 1.0f / (expf(-x) + 1.0f).
        for (let i = 0; i < numRows; i++) {
          out[i] = Math.fround(1 / Math.fround(Math.fround(Math.exp(-(margins[i] as number))) + 1));
        }
        return out;
      case 'exp':
        for (let i = 0; i < numRows; i++) out[i] = Math.fround(Math.exp(margins[i] as number));
        return out;
      case 'hinge':
        for (let i = 0; i < numRows; i++) out[i] = (margins[i] as number) > 0 ? 1 : 0;
        return out;
      case 'softmax':
        for (let r = 0; r < numRows; r++) softmaxInto(margins, r * k, k, out);
        return out;
      case 'argmax':
        for (let r = 0; r < numRows; r++) {
          // The first maximum wins, as in XGBoost's FindMaxIndex.
          let best = 0;
          for (let c = 1; c < k; c++)
            if ((margins[r * k + c] as number) > (margins[r * k + best] as number)) best = c;
          out[r] = best;
        }
        return out;
      default:
        if (k === 1) out.set(margins);
        else for (let r = 0; r < numRows; r++) out[r] = margins[r * k] as number;
        return out;
    }
  }
}

/** Rows of `numFeatures` values copied into rows of `width`, the columns past `numFeatures` missing. */
function widen(features: Float32Array, numRows: number, numFeatures: number, width: number): Float32Array {
  const rows = new Float32Array(numRows * width).fill(Number.NaN);
  for (let r = 0; r < numRows; r++) {
    rows.set(features.subarray(r * numFeatures, (r + 1) * numFeatures), r * width);
  }
  return rows;
}

/** XGBoost's Softmax: exp(x - max) in float32, normalised by the float32 sum. */
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
function probToMargin(rule: ObjectiveRule, baseScore: number, objective: string, source: string): number {
  if (rule.margin === 'logit') {
    if (!(baseScore > 0 && baseScore < 1)) {
      throw new InvalidInputError(`${source}: base_score ${baseScore} must be in (0, 1) for ${objective}`);
    }
    return Math.fround(-Math.log(Math.fround(Math.fround(1 / baseScore) - 1)));
  }
  if (rule.margin === 'log') {
    if (!(baseScore > 0))
      throw new InvalidInputError(`${source}: base_score ${baseScore} must be > 0 for ${objective}`);
    return Math.fround(Math.log(baseScore));
  }
  return Math.fround(baseScore);
}
