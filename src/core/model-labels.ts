/**
 * What a model's own file says about its labels: how many classes it scores (binary:*, multi:* with
 * num_class, or none), whether the labels a run gives fit them, and where its binary threshold lies on
 * the scale of its scores. Used wherever the model file can be read before a run (the CLI, and
 * BuildManifest locally); a model nobody can read here (an external container, SageMaker's own model) is
 * not checked, and its labels apply as the results table documents.
 */

/** The part of a model file that decides its labels: XGBoost's objective and `num_class`. */
export interface ModelKind {
  /** e.g. `binary:logistic`, `multi:softprob`, `reg:squarederror`. */
  objective: string;
  /** `learner_model_param.num_class`: 0 unless multi:*. */
  numClass: number;
}

/** The number of classes a model scores: 2 for binary:*, num_class for multi:*, 0 for anything else. */
export function classCountOf(kind: ModelKind): number {
  if (kind.objective.startsWith('binary:')) return 2;
  if (kind.objective.startsWith('multi:')) return kind.numClass;
  return 0;
}

/**
 * Why `labels` do not fit the model, or undefined when they do. A model without classes (regression,
 * count, survival, ranking) has scores no label can name; a classifier needs one label per class, since
 * a binary score is cut at the threshold and a multiclass one names its class by index.
 *
 * @param names - how the user named the model (their file, or the request's modelDataUrl) and the labels
 *   (`--labels`, or `results.labels of req.json`).
 * @example
 * ```ts
 * labelsMismatch(['a', 'b'], { objective: 'multi:softprob', numClass: 3 }, { model: 'iris.json', labels: '--labels' });
 * // '--labels a,b: iris.json is a 3-class model (multi:softprob): give 3 labels, got 2'
 * ```
 */
export function labelsMismatch(
  labels: readonly string[],
  kind: ModelKind,
  names: { model: string; labels: string },
): string | undefined {
  const classes = classCountOf(kind);
  const given = `${names.labels} ${labels.join(',')}`;
  if (classes === 0) {
    return (
      `${given}: ${names.model} is a regression model (${kind.objective}), not a classifier: ` +
      `its scores get no labels; drop ${names.labels}`
    );
  }
  if (labels.length === classes) return undefined;
  const what = classes === 2 ? 'a binary model' : `a ${classes}-class model`;
  return `${given}: ${names.model} is ${what} (${kind.objective}): give ${classes} labels, got ${labels.length}`;
}

/**
 * The threshold on the model's own score scale. The threshold is a probability; binary:logitraw scores
 * are raw margins (SageMaker's XGBoost container returns Booster.predict's output, which logitraw leaves
 * untransformed), so its probability threshold t becomes the margin logit(t) = ln(t / (1 - t)): 0.5 is a
 * margin of 0, as the container's own predicted_label (margin > 0) and XGBoost's sigmoid agree. Every
 * other model's score is cut at t itself. t = 0 and 1 become the largest finite margins (JSON has no
 * infinity): every record, or none short of an infinite margin, is positive.
 */
export function scoreThreshold(threshold: number, objective: string | undefined): number {
  if (objective !== 'binary:logitraw') return threshold;
  if (threshold <= 0) return -Number.MAX_VALUE;
  if (threshold >= 1) return Number.MAX_VALUE;
  return Math.log(threshold / (1 - threshold));
}

/**
 * What a model's `score` is, by its objective (XGBoost 1.7's, as its container returns them):
 * - `probability`: binary:logistic, the probability of class 1;
 * - `margin`: binary:logitraw, the raw margin (log-odds of class 1, any real number);
 * - `class`: binary:hinge, the predicted class 0 or 1;
 * - `top-probability`: multi:softprob, the probability of the most likely class;
 * - `class-index`: multi:softmax, the index of the predicted class;
 * - `regression`: reg:*, a prediction of the target in its own units;
 * - `count`: count:poisson, the expected count;
 * - `hazard-ratio`: survival:cox, the hazard ratio (relative risk);
 * - `survival-time`: survival:aft, the predicted survival time;
 * - `ranking`: rank:*, a relevance score that only orders records;
 * - `unknown`: no objective known (a container nobody could read, an objective this table lacks).
 */
export type ScoreKind =
  | 'probability'
  | 'margin'
  | 'class'
  | 'top-probability'
  | 'class-index'
  | 'regression'
  | 'count'
  | 'hazard-ratio'
  | 'survival-time'
  | 'ranking'
  | 'unknown';

/** Objectives named in full; the rest go by their family (the part before the colon). */
const SCORE_KINDS: Readonly<Record<string, ScoreKind>> = {
  'binary:logistic': 'probability',
  'binary:logitraw': 'margin',
  'binary:hinge': 'class',
  'multi:softprob': 'top-probability',
  'multi:softmax': 'class-index',
  'survival:cox': 'hazard-ratio',
  'survival:aft': 'survival-time',
};

const FAMILY_SCORE_KINDS: Readonly<Record<string, ScoreKind>> = {
  reg: 'regression',
  count: 'count',
  rank: 'ranking',
};

/**
 * What `score` is for a model of this objective; `unknown` when the objective is not known, so nothing
 * that reads it (the report) calls a margin or a regression value a probability by guessing.
 *
 * @example scoreKindOf('binary:logitraw') // 'margin'
 */
export function scoreKindOf(objective: string | undefined): ScoreKind {
  if (objective === undefined) return 'unknown';
  return SCORE_KINDS[objective] ?? FAMILY_SCORE_KINDS[objective.split(':')[0] as string] ?? 'unknown';
}
