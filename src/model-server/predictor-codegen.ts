/**
 * Trees compiled into straight-line JavaScript at model load, as Treelite compiles them into C: each
 * tree becomes nested `if`s on the row's feature values with its split conditions and leaf values as
 * literals, so prediction is compare-and-branch with no node lookups. Trees are grouped into functions
 * of bounded size (V8 optimises only functions below a bytecode size), each looping over a block of rows
 * and adding its trees' leaves to the rows' margins in tree order, in float32, as XGBoost does.
 *
 * Models too big to compile (deep or huge trees) return undefined; the caller runs them in the
 * WebAssembly kernel (predictor-wasm.ts).
 */

/** A model's trees as CompiledBooster flattens them (children of a split adjacent, right = left + 1). */
export interface FlatTrees {
  /** Per node: the split's feature, or -1 for a leaf. */
  splitFeature: Int32Array;
  /** Per node: the split condition, or the leaf value. */
  splitValue: Float32Array;
  leftChild: Int32Array;
  /** Per node: the child a missing value goes to. */
  missingChild: Int32Array;
  treeRoot: Int32Array;
  treeGroup: Int32Array;
  /** Nodes of each tree (tree t owns `treeRoot[t] .. treeRoot[t] + treeSize[t] - 1`). */
  treeSize: Int32Array;
}

/**
 * Adds the leaves of its trees for rows `[rowStart, rowEnd)` to `margins` (row-major, one value per
 * output group); `features` holds rows of `numFeatures` values, the model's full width, NaN = missing.
 */
export type TreeKernel = (
  features: Float32Array,
  numFeatures: number,
  rowStart: number,
  rowEnd: number,
  margins: Float32Array,
) => void;

/** How much code compiling may generate: past these the model runs in the WebAssembly kernel. */
export interface CodegenLimits {
  /** Nodes over all trees. */
  maxNodes: number;
  /** Depth of any tree (the nesting of the generated `if`s). */
  maxDepth: number;
}

export const DEFAULT_CODEGEN_LIMITS: CodegenLimits = { maxNodes: 400_000, maxDepth: 64 };

/**
 * Nodes per generated function. V8's optimising compiler skips functions whose bytecode is over 60 KB,
 * and measured on a 300-tree depth-6 model, functions of 2,000 nodes ran 5× slower than ones of 150 to
 * 600 (which ran alike) and one tree per function 40% slower: 500 keeps every function well optimised.
 */
const NODES_PER_FUNCTION = 500;

/**
 * Compiles the trees into kernels, to be called in order on each block of rows. `leafContribution(t, v)`
 * is what tree t's leaf value v adds to the margin (the value itself for gbtree; dart scales it), a
 * float32. Returns undefined when the model is past `limits`.
 */
export function compileTreeKernels(
  trees: FlatTrees,
  numGroups: number,
  leafContribution: (tree: number, value: number) => number,
  limits: CodegenLimits = DEFAULT_CODEGEN_LIMITS,
): TreeKernel[] | undefined {
  if (trees.splitFeature.length > limits.maxNodes) return undefined;
  const kernels: TreeKernel[] = [];
  let body: string[] = [];
  let groups = new Set<number>();
  let nodes = 0;
  const flush = () => {
    if (body.length === 0) return;
    kernels.push(kernelFunction(body, groups, numGroups));
    body = [];
    groups = new Set();
    nodes = 0;
  };
  for (let t = 0; t < trees.treeRoot.length; t++) {
    const size = trees.treeSize[t] as number;
    if (nodes > 0 && nodes + size > NODES_PER_FUNCTION) flush();
    const group = trees.treeGroup[t] as number;
    const code = treeCode(trees, t, `s${group}`, (value) => leafContribution(t, value), limits.maxDepth);
    if (code === undefined) return undefined;
    body.push(`// tree ${t}\n${code}`);
    groups.add(group);
    nodes += size;
  }
  flush();
  return kernels;
}

/** One function over rows `[r0, r1)`: loads the groups' margins, runs its trees, stores them back. */
function kernelFunction(body: string[], groups: Set<number>, numGroups: number): TreeKernel {
  const used = [...groups].sort((a, b) => a - b);
  const at = (g: number) => (numGroups === 1 ? 'r' : `r * ${numGroups} + ${g}`);
  const source = [
    '"use strict";',
    'return function trees(x, nf, r0, r1, m) {',
    '  for (let r = r0; r < r1; r++) {',
    '    const b = r * nf;',
    ...used.map((g) => `    let s${g} = m[${at(g)}];`),
    ...body,
    ...used.map((g) => `    m[${at(g)}] = s${g};`),
    '  }',
    '};',
  ].join('\n');
  return new Function(source)() as TreeKernel;
}

/** A number literal that reads back as exactly `value` (including -0, NaN and the infinities). */
function literal(value: number): string {
  if (Object.is(value, -0)) return '-0';
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return String(value);
}

/**
 * Tree t as nested `if`s adding its leaf to the variable `sum`, or undefined past `maxDepth`. Written
 * iteratively (an explicit stack) so a deep tree cannot overflow this compiler's own stack.
 */
function treeCode(
  trees: FlatTrees,
  t: number,
  sum: string,
  contribution: (value: number) => number,
  maxDepth: number,
): string | undefined {
  const { splitFeature, splitValue, leftChild, missingChild } = trees;
  const out: string[] = [];
  // Items: a node to emit at a depth, or a literal piece of code (closing braces).
  const stack: (number | string)[] = [trees.treeRoot[t] as number];
  const depths: number[] = [0];
  while (stack.length > 0) {
    const item = stack.pop() as number | string;
    const depth = depths.pop() as number;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const feature = splitFeature[item] as number;
    if (feature < 0) {
      // Float32 accumulation, as XGBoost's `preds[i] += leaf` on float.
      out.push(`${sum} = Math.fround(${sum} + ${literal(contribution(splitValue[item] as number))});`);
      continue;
    }
    if (depth >= maxDepth) return undefined;
    const split = splitValue[item] as number;
    const left = leftChild[item] as number;
    const defaultLeft = missingChild[item] === left;
    const v = `x[b + ${feature}]`;
    const s = literal(split);
    // XGBoost goes right when !(fvalue < split) and to the default child when the value is missing.
    // For a split that is not NaN, `!(v >= s)` is true exactly for "v < s or v missing", and `v < s`
    // exactly for "v < s and v present": one comparison either way.
    let condition: string;
    if (Number.isNaN(split)) condition = defaultLeft ? `${v} !== ${v}` : 'false';
    else condition = defaultLeft ? `!(${v} >= ${s})` : `${v} < ${s}`;
    out.push(`if (${condition}) {`);
    // Emit left first: push in reverse.
    stack.push('}', left + 1, '} else {', left);
    depths.push(0, depth + 1, 0, depth + 1);
  }
  return out.join('\n');
}
