/**
 * Reads a model from XGBoost's JSON document (`save_model('m.json')`, or the same document decoded from
 * UBJSON): the learner's parameters, objective and booster, into a {@link ModelDescription}.
 */
import { InvalidInputError, UnsupportedModelError } from '../../errors.js';
import type { BoosterDescription, ModelDescription, TreeDescription } from '../model-description.js';

type NumberList = ArrayLike<number>;

/** Builds a description from a parsed JSON/UBJSON model document; `source` names the file in errors. */
export function describeJsonModel(
  document: unknown,
  format: 'json' | 'ubj',
  source: string,
): ModelDescription {
  const at = (value: unknown, key: string, where: string): unknown => {
    if (value === null || typeof value !== 'object' || !(key in value)) {
      throw new InvalidInputError(`${source} is not an XGBoost model: ${where} has no "${key}"`);
    }
    return (value as Record<string, unknown>)[key];
  };
  const learner = at(document, 'learner', 'the document');
  const params = at(learner, 'learner_model_param', 'learner');
  const objective = String(at(at(learner, 'objective', 'learner'), 'name', 'learner.objective'));
  const booster = at(learner, 'gradient_booster', 'learner');
  const numFeature = Number(at(params, 'num_feature', 'learner_model_param'));
  const numClass = Number((params as Record<string, unknown>).num_class ?? 0);
  const numTarget = Number((params as Record<string, unknown>).num_target ?? 1);
  const baseScore = Number(at(params, 'base_score', 'learner_model_param'));
  if (!Number.isInteger(numFeature) || numFeature < 0 || !Number.isInteger(numClass) || numClass < 0) {
    throw new InvalidInputError(`${source}: num_feature or num_class is not a count`);
  }
  if (!Number.isFinite(baseScore)) throw new InvalidInputError(`${source}: base_score is not a number`);
  if (numTarget !== 1) {
    throw new UnsupportedModelError(
      `${source}: multi-target models (num_target ${numTarget}) are not served`,
    );
  }
  const names = (learner as { feature_names?: unknown }).feature_names;
  return {
    objective,
    numFeature,
    numClass,
    baseScore,
    featureNames: Array.isArray(names) ? names.map(String) : [],
    booster: describeBooster(booster, at, source),
    format,
  };
}

function describeBooster(
  booster: unknown,
  at: (value: unknown, key: string, where: string) => unknown,
  source: string,
): BoosterDescription {
  const name = String(at(booster, 'name', 'gradient_booster'));
  if (name === 'gbtree')
    return { kind: 'gbtree', ...describeTrees(at(booster, 'model', 'gbtree'), at, source) };
  if (name === 'dart') {
    const gbtree = at(booster, 'gbtree', 'dart');
    const weightDrop = Float32Array.from(list(at(booster, 'weight_drop', 'dart'), 'weight_drop', source));
    const trees = describeTrees(at(gbtree, 'model', 'dart.gbtree'), at, source);
    if (weightDrop.length !== trees.trees.length) {
      throw new InvalidInputError(
        `${source}: dart model has ${trees.trees.length} trees but ${weightDrop.length} weight_drop entries`,
      );
    }
    return { kind: 'dart', ...trees, weightDrop };
  }
  if (name === 'gblinear') {
    const weights = list(
      at(at(booster, 'model', 'gblinear'), 'weights', 'gblinear.model'),
      'weights',
      source,
    );
    return { kind: 'gblinear', weights: Float32Array.from(weights) };
  }
  throw new UnsupportedModelError(
    `${source}: unknown booster "${name}" (XGBoost has gbtree, dart and gblinear)`,
  );
}

function describeTrees(
  model: unknown,
  at: (value: unknown, key: string, where: string) => unknown,
  source: string,
): { trees: TreeDescription[]; treeInfo: Int32Array } {
  const trees = at(model, 'trees', 'gbtree model');
  if (!Array.isArray(trees)) throw new InvalidInputError(`${source}: trees is not an array`);
  const treeInfo = Int32Array.from(list(at(model, 'tree_info', 'gbtree model'), 'tree_info', source));
  if (treeInfo.length !== trees.length) {
    throw new InvalidInputError(`${source}: ${trees.length} trees but ${treeInfo.length} tree_info entries`);
  }
  return {
    trees: trees.map((tree: unknown, t) => {
      const where = `tree ${t}`;
      const splitType = (tree as { split_type?: unknown }).split_type;
      const types = splitType === undefined ? [] : list(splitType, `${where} split_type`, source);
      let hasCategoricalSplit = false;
      for (let i = 0; i < types.length; i++) if (types[i] !== 0) hasCategoricalSplit = true;
      const defaults = list(at(tree, 'default_left', where), `${where} default_left`, source);
      return {
        left: Int32Array.from(list(at(tree, 'left_children', where), `${where} left_children`, source)),
        right: Int32Array.from(list(at(tree, 'right_children', where), `${where} right_children`, source)),
        splitIndex: Int32Array.from(list(at(tree, 'split_indices', where), `${where} split_indices`, source)),
        splitCondition: Float32Array.from(
          list(at(tree, 'split_conditions', where), `${where} split_conditions`, source),
        ),
        defaultLeft: Uint8Array.from(Array.from(defaults, (v) => (v ? 1 : 0))),
        hasCategoricalSplit,
      };
    }),
    treeInfo,
  };
}

/** A JSON array or a UBJSON typed array of numbers (booleans count as 0/1, as JSON's default_left). */
function list(value: unknown, name: string, source: string): NumberList {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return value as unknown as NumberList;
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === 'boolean' ? Number(v) : typeof v === 'number' ? v : Number.NaN));
  }
  throw new InvalidInputError(`${source}: ${name} is not an array of numbers`);
}
