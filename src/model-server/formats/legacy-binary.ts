/**
 * Reads XGBoost's legacy binary model format: what `save_model('xgboost-model')` (any name not ending in
 * .json or .ubj) writes in XGBoost 1.x, and what SageMaker's 1.x XGBoost training jobs put in
 * model.tar.gz. Little-endian C structs written field by field (learner.cc, gbtree_model.cc,
 * gblinear_model.h, tree_model.cc of XGBoost 1.7):
 *
 *   ["binf"] LearnerModelParamLegacy (136 bytes: base_score f32, num_feature u32, num_class i32, …)
 *   objective: u64 length + bytes; booster name: u64 length + bytes
 *   gbtree/dart: GBTreeModelParam (160 bytes: num_trees i32 first), then per tree
 *     TreeParam (148 bytes: num_nodes i32 at 4), nodes (20 bytes each: parent, left, right i32,
 *     sindex u32 = feature | default_left << 31, split condition or leaf value f32), node stats
 *     (16 bytes each, unused here); then tree_info i32 × num_trees; dart adds weight_drop (u64 + f32s)
 *   gblinear: DeprecatedGBLinearModelParam (136 bytes), then weights (u64 count + f32s)
 *   then attributes and eval metrics, which prediction does not need.
 */
import { InvalidInputError, UnsupportedModelError } from '../../errors.js';
import type { BoosterDescription, ModelDescription, TreeDescription } from '../model-description.js';

const LEARNER_PARAM_BYTES = 136;
const GBTREE_PARAM_BYTES = 160;
const TREE_PARAM_BYTES = 148;
const NODE_BYTES = 20;
const NODE_STAT_BYTES = 16;
const GBLINEAR_PARAM_BYTES = 136;
/** Strings and vectors longer than this are not a model's: the bytes are something else. */
const MAX_LENGTH = 1 << 30;

/** Reads a legacy binary model; `source` names the file in errors. */
export function describeLegacyBinaryModel(bytes: Uint8Array, source: string): ModelDescription {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fail = (what: string): never => {
    throw new InvalidInputError(
      `${source} is not an XGBoost model (JSON, UBJSON or XGBoost 1.x binary): ${what} at byte ${at}`,
    );
  };
  const need = (n: number) => {
    if (n < 0 || at + n > bytes.length) fail('unexpected end of file');
  };
  const u64 = (): number => {
    need(8);
    const value = view.getBigUint64(at, true);
    at += 8;
    if (value > BigInt(MAX_LENGTH)) fail(`implausible length ${value}`);
    return Number(value);
  };
  const string = (): string => {
    const length = u64();
    need(length);
    at += length;
    return Buffer.from(bytes.buffer, bytes.byteOffset + at - length, length).toString('latin1');
  };
  const floats = (count: number): Float32Array => {
    need(count * 4);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++, at += 4) out[i] = view.getFloat32(at, true);
    return out;
  };

  if (bytes.length >= 4 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'binf') at = 4;
  need(LEARNER_PARAM_BYTES);
  const baseScore = view.getFloat32(at, true);
  const numFeature = view.getUint32(at + 4, true);
  const numClass = view.getInt32(at + 8, true);
  at += LEARNER_PARAM_BYTES;
  const objective = string();
  const boosterName = string();
  if (!/^[a-z]+:[a-z]+$/.test(objective))
    fail(`objective ${JSON.stringify(objective.slice(0, 40))} is not a name`);
  if (numClass < 0) fail(`num_class ${numClass}`);
  const groups = Math.max(numClass, 1);

  let booster: BoosterDescription;
  if (boosterName === 'gbtree' || boosterName === 'dart') {
    need(GBTREE_PARAM_BYTES);
    const numTrees = view.getInt32(at, true);
    at += GBTREE_PARAM_BYTES;
    if (numTrees < 0 || numTrees > MAX_LENGTH) fail(`num_trees ${numTrees}`);
    const trees: TreeDescription[] = [];
    for (let t = 0; t < numTrees; t++) trees.push(readTree());
    const treeInfo = new Int32Array(numTrees);
    need(numTrees * 4);
    for (let t = 0; t < numTrees; t++, at += 4) treeInfo[t] = view.getInt32(at, true);
    if (boosterName === 'gbtree') booster = { kind: 'gbtree', trees, treeInfo };
    else {
      const weightDrop = numTrees === 0 ? new Float32Array(0) : floats(u64());
      if (weightDrop.length !== numTrees) fail(`${numTrees} trees but ${weightDrop.length} dart weights`);
      booster = { kind: 'dart', trees, treeInfo, weightDrop };
    }
  } else if (boosterName === 'gblinear') {
    need(GBLINEAR_PARAM_BYTES);
    at += GBLINEAR_PARAM_BYTES;
    const weights = floats(u64());
    if (weights.length !== (numFeature + 1) * groups) {
      fail(`${weights.length} linear weights for ${numFeature} features and ${groups} output groups`);
    }
    booster = { kind: 'gblinear', weights };
  } else {
    throw new UnsupportedModelError(
      `${source}: unknown booster "${boosterName.slice(0, 40)}" (XGBoost has gbtree, dart and gblinear)`,
    );
  }
  return { objective, numFeature, numClass, baseScore, featureNames: [], booster, format: 'binary' };

  function readTree(): TreeDescription {
    need(TREE_PARAM_BYTES);
    const numNodes = view.getInt32(at + 4, true);
    const sizeLeafVector = view.getInt32(at + 20, true);
    at += TREE_PARAM_BYTES;
    if (numNodes <= 0 || numNodes > MAX_LENGTH) fail(`a tree with ${numNodes} nodes`);
    if (sizeLeafVector !== 0) {
      throw new UnsupportedModelError(`${source}: trees with leaf vectors (multi-target) are not served`);
    }
    need(numNodes * (NODE_BYTES + NODE_STAT_BYTES));
    const tree: TreeDescription = {
      left: new Int32Array(numNodes),
      right: new Int32Array(numNodes),
      splitIndex: new Int32Array(numNodes),
      splitCondition: new Float32Array(numNodes),
      defaultLeft: new Uint8Array(numNodes),
      hasCategoricalSplit: false,
    };
    for (let n = 0; n < numNodes; n++, at += NODE_BYTES) {
      tree.left[n] = view.getInt32(at + 4, true);
      tree.right[n] = view.getInt32(at + 8, true);
      const sindex = view.getUint32(at + 12, true);
      tree.splitIndex[n] = sindex & 0x7fffffff;
      tree.defaultLeft[n] = sindex >>> 31;
      tree.splitCondition[n] = view.getFloat32(at + 16, true);
    }
    at += numNodes * NODE_STAT_BYTES;
    return tree;
  }
}
