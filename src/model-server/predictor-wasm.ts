/**
 * Trees walked by a small WebAssembly kernel with no data-dependent branch. The kernel is fixed code
 * (wasm-kernel.ts assembles it, byte by byte, at first use); the model is data in its linear memory,
 * laid out here. Each step of a
 * walk is a load, a compare and a `select`, which compiles to a conditional move, so a deep tree costs
 * its depth in steps and no mispredicted branches; several rows walk each tree together so their
 * dependent load chains overlap.
 *
 * Exactness. XGBoost goes right when `!(value < split)` and to the split's default child when the value
 * is missing (NaN). The kernel only ever asks `value >= threshold`, with each row copied three times:
 * once with missing values as -Infinity (read by splits whose default is left: -Infinity >= split is
 * false), once with them as +Infinity (default right: +Infinity >= split is true), and once as presence
 * flags, 1 present and 0 missing, for the splits the first two cannot express: a NaN split (a present
 * value always goes right, as `!(v < NaN)` is true) and a default-left split at -Infinity (every present
 * value goes right). A leaf's children are the leaf itself, so every tree runs exactly its depth in
 * steps for every row; its value (what it adds to the margin: dart's weight folded in) sits in the
 * threshold slot. Margins are added in float32 (`f32.add`) tree by tree, as XGBoost's `preds += leaf`.
 */
import type { FlatTrees } from './predictor-codegen.js';
import { kernelBytes, LANES, NODE_BYTES, TREE_BYTES } from './wasm-kernel.js';

/** Rows per call of the kernel: their expanded features stay in cache while every tree runs over them. */
const BLOCK_ROWS = 128;
const PAGE = 65536;

/** The part of the WebAssembly JS API used here (this project's TypeScript libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi };

/** The kernel compiled once per process; each model gets its own instance and memory. */
let compiledKernel: object | undefined;

type ExpandRows = (src: number, dst: number, count: number, numFeature: number) => void;

type RunKernel = (
  tree: number,
  treeEnd: number,
  rows: number,
  rowBytes: number,
  rowCount: number,
  margins: number,
  marginBytes: number,
) => void;

/**
 * A model's trees in a kernel instance's memory: adds every tree's leaves to margins, block by block.
 * One instance per model; calls are synchronous and do not interleave.
 */
export class WasmTrees {
  private readonly run: RunKernel;
  private readonly expand: ExpandRows;
  private readonly stagingAt: number;
  private readonly memory: WasmMemory;
  private readonly numFeature: number;
  private readonly numGroups: number;
  private readonly treeEnd: number;
  private readonly rowsAt: number;
  private readonly marginsAt: number;
  private readonly rowFloats: number;

  /**
   * Lays out `trees` (as CompiledBooster flattens them) for the kernel; `leafContribution(t, v)` is what
   * tree t's leaf value v adds to the margin, a float32.
   */
  constructor(
    trees: FlatTrees,
    numFeature: number,
    numGroups: number,
    leafContribution: (tree: number, value: number) => number,
  ) {
    const numTrees = trees.treeRoot.length;
    const numNodes = trees.splitFeature.length;
    this.numFeature = numFeature;
    this.numGroups = numGroups;
    this.rowFloats = 3 * numFeature;
    this.treeEnd = numTrees * TREE_BYTES;
    const nodesAt = this.treeEnd;
    this.rowsAt = nodesAt + numNodes * NODE_BYTES;
    this.marginsAt = this.rowsAt + BLOCK_ROWS * this.rowFloats * 4;
    this.stagingAt = this.marginsAt + BLOCK_ROWS * numGroups * 4;
    const bytes = this.stagingAt + BLOCK_ROWS * numFeature * 4;
    compiledKernel ??= new wasmApi.Module(kernelBytes());
    const instance = new wasmApi.Instance(compiledKernel, {});
    // The module defines its own memory: grow that one instead of importing ours.
    const exported = instance.exports as { run: RunKernel; expand: ExpandRows; memory: WasmMemory };
    this.expand = exported.expand;
    this.memory = exported.memory;
    const pages = Math.ceil(bytes / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.memory.grow(pages);
    this.run = exported.run;

    const ints = new Int32Array(this.memory.buffer);
    const floats = new Float32Array(this.memory.buffer);
    const { splitFeature, splitValue, leftChild, missingChild, treeRoot, treeGroup, treeSize } = trees;
    const nodeDepth = new Int32Array(numNodes);
    for (let t = 0; t < numTrees; t++) {
      const first = treeRoot[t] as number;
      const last = first + (treeSize[t] as number);
      let depth = 0;
      for (let i = first; i < last; i++) {
        const at = (nodesAt + i * NODE_BYTES) >> 2;
        const feature = splitFeature[i] as number;
        const value = splitValue[i] as number;
        if (feature < 0) {
          ints[at] = 0;
          floats[at + 1] = leafContribution(t, value);
          ints[at + 2] = nodesAt + i * NODE_BYTES;
          ints[at + 3] = nodesAt + i * NODE_BYTES;
          depth = Math.max(depth, nodeDepth[i] as number);
          continue;
        }
        const left = leftChild[i] as number;
        // Children follow their parent in the flattened (breadth-first) order.
        nodeDepth[left] = (nodeDepth[i] as number) + 1;
        nodeDepth[left + 1] = (nodeDepth[i] as number) + 1;
        const defaultLeft = missingChild[i] === left;
        let column: number;
        let threshold: number;
        if (Number.isNaN(value) || (defaultLeft && value === Number.NEGATIVE_INFINITY)) {
          // Present values all go right; only presence decides.
          column = 2 * numFeature + feature;
          threshold = defaultLeft ? 0.5 : 0;
        } else {
          column = defaultLeft ? feature : numFeature + feature;
          threshold = value;
        }
        ints[at] = column * 4;
        floats[at + 1] = threshold;
        ints[at + 2] = nodesAt + left * NODE_BYTES;
        ints[at + 3] = nodesAt + (left + 1) * NODE_BYTES;
      }
      const entry = (t * TREE_BYTES) >> 2;
      ints[entry] = nodesAt + first * NODE_BYTES;
      ints[entry + 1] = depth;
      ints[entry + 2] = (treeGroup[t] as number) * 4;
    }
  }

  /**
   * Adds every tree's leaf for each of `numRows` rows of `numFeatures` values (row-major, NaN =
   * missing; columns past `numFeatures` are missing) to `margins` (`numRows × numGroups`).
   */
  addTrees(features: Float32Array, numRows: number, numFeatures: number, margins: Float32Array): void {
    if (this.treeEnd === 0) return; // no trees
    const { numFeature, numGroups, rowFloats } = this;
    const floats = new Float32Array(this.memory.buffer);
    const marginsFloat = this.marginsAt >> 2;
    for (let start = 0; start < numRows; start += BLOCK_ROWS) {
      const count = Math.min(BLOCK_ROWS, numRows - start);
      const padded = Math.ceil(count / LANES) * LANES;
      const staging = this.stagingAt >> 2;
      if (numFeatures === numFeature) {
        floats.set(features.subarray(start * numFeature, (start + count) * numFeature), staging);
        floats.fill(Number.NaN, staging + count * numFeature, staging + padded * numFeature);
      } else {
        // Columns the rows lack are missing, as in a narrower DMatrix.
        floats.fill(Number.NaN, staging, staging + padded * numFeature);
        for (let i = 0; i < count; i++) {
          const from = (start + i) * numFeatures;
          floats.set(features.subarray(from, from + numFeatures), staging + i * numFeature);
        }
      }
      // (Trees of a model with no features are single leaves: nothing to copy, and expand needs a column.)
      if (numFeature > 0) this.expand(this.stagingAt, this.rowsAt, padded, numFeature);
      floats.set(margins.subarray(start * numGroups, (start + count) * numGroups), marginsFloat);
      this.run(0, this.treeEnd, this.rowsAt, rowFloats * 4, padded, this.marginsAt, numGroups * 4);
      margins.set(floats.subarray(marginsFloat, marginsFloat + count * numGroups), start * numGroups);
    }
  }
}
