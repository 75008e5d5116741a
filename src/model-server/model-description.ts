/**
 * What every XGBoost model format says about a model, in one shape: the format readers (JSON, UBJSON,
 * legacy binary) produce it and the predictor compiles it. Nothing here predicts or reads bytes.
 */

/** One regression tree as XGBoost stores it: node arrays indexed by node id, root at 0. */
export interface TreeDescription {
  /** Left child per node, -1 at a leaf. */
  left: Int32Array;
  right: Int32Array;
  /** Feature index each split tests. */
  splitIndex: Int32Array;
  /** Split threshold (go left when `value < condition`), or the leaf value at a leaf. */
  splitCondition: Float32Array;
  /** 1 when a missing value goes left. */
  defaultLeft: Uint8Array;
  /** True when any split is categorical (XGBoost 1.7's experimental categorical support). */
  hasCategoricalSplit: boolean;
}

/** The booster's own part of a model. */
export type BoosterDescription =
  | { kind: 'gbtree'; trees: TreeDescription[]; treeInfo: Int32Array }
  | { kind: 'dart'; trees: TreeDescription[]; treeInfo: Int32Array; weightDrop: Float32Array }
  | {
      kind: 'gblinear';
      /** `(numFeature + 1) × numOutputGroup`: weight of feature f for group g at `f * groups + g`, biases last. */
      weights: Float32Array;
    };

/** A model as read from any format, before compilation. */
export interface ModelDescription {
  /** The objective's name, e.g. `binary:logistic`. */
  objective: string;
  /** `learner_model_param.num_feature`. */
  numFeature: number;
  /** `learner_model_param.num_class`: 0 unless multi:*. */
  numClass: number;
  /** `learner_model_param.base_score` as saved: in output space (XGBoost 1.x maps it to a margin at load). */
  baseScore: number;
  /** Feature names saved with the model (JSON/UBJ only; empty otherwise). */
  featureNames: string[];
  booster: BoosterDescription;
  /** The format it was read from, for messages and the start-up line. */
  format: 'json' | 'ubj' | 'binary';
}
