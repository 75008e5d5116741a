import type { QueryRow } from '../ports.js';
import { type ScoreKind, scoreKindOf, scoreThreshold } from './model-labels.js';
import { DEFAULT_THRESHOLD, type ResolvedRunRequest } from './run-defaults.js';
import { esc, readable } from './run-report-html.js';

/**
 * What the run report says about each variant's scores: what `score` is (by the model's objective, the
 * one table of src/core/model-labels.ts), how its label was cut, and where its threshold lies on the
 * score's own scale. The objective comes from request.json, where BuildManifest wrote the one it read
 * from the model file (or the one the request gave, on AWS): a variant without one gets neutral words,
 * never a guessed "probability".
 */

/** How a variant's labels were given: cut at a threshold, the class picked by the model, or none. */
export type Kind = 'binary' | 'multiclass' | 'regression';

/** One variant's scores, as the report describes them. */
export interface VariantScores {
  variant: string;
  /** The model's objective as BuildManifest saved it with the request; undefined when nobody could tell. */
  objective: string | undefined;
  scoreKind: ScoreKind;
  kind: Kind;
  /** Binary: the threshold on the score's own scale, as ParseResults cut it (logit(t) for a margin). */
  threshold: number | undefined;
}

/** What the report reads to describe a variant's scores. */
export interface ScoreSources {
  request: ResolvedRunRequest | undefined;
  /** The report's query answers by name (`evaluation` and `summary` tell the kind when nothing else does). */
  queries: Record<string, { rows: QueryRow[] } | undefined>;
}

/** Describes a variant's scores from its objective, the run's labels and, failing both, its answers. */
export function variantScores(variant: string, sources: ScoreSources): VariantScores {
  const objective = sources.request?.models.find((m) => m.variant === variant)?.objective;
  const kind = modelKind(variant, objective, sources);
  return {
    variant,
    objective,
    scoreKind: scoreKindOf(objective),
    kind,
    threshold: kind === 'binary' ? scoreThreshold(thresholdOf(sources.request), objective) : undefined,
  };
}

/** The run's threshold (a probability): BuildManifest saved it with the request; else the default. */
export function thresholdOf(request: ResolvedRunRequest | undefined): number {
  return request?.results.threshold ?? DEFAULT_THRESHOLD;
}

/**
 * The kind of labels a variant got: from its objective when known (a classifier's own, or a model
 * without classes unless the request gave labels), else from the evaluation, the labels and the scores.
 */
function modelKind(variant: string, objective: string | undefined, sources: ScoreSources): Kind {
  const labels = sources.request?.results?.labels;
  if (objective?.startsWith('multi:')) return 'multiclass';
  if (objective?.startsWith('binary:')) return 'binary';
  if (objective !== undefined && !labels) return 'regression';
  const evaluated = sources.queries.evaluation?.rows.find((r) => r.variant === variant)?.model_kind;
  if (evaluated === 'binary' || evaluated === 'multiclass' || evaluated === 'regression') return evaluated;
  if (labels && labels.length > 2) return 'multiclass';
  if (labels && labels.length === 2) return 'binary';
  const summary = sources.queries.summary?.rows.find((r) => r.variant === variant);
  const min = Number(summary?.min_score);
  const max = Number(summary?.max_score);
  return Number.isFinite(min) && Number.isFinite(max) && (min < 0 || max > 1) ? 'regression' : 'binary';
}

/** The classes a binary label names: labels[1] is class 1, the one the score is for. */
function binaryLabels(request: ResolvedRunRequest | undefined): { positive: string; negative: string } {
  const labels = request?.results?.labels;
  return { positive: labels?.[1] ?? '1', negative: labels?.[0] ?? '0' };
}

/** A few words naming what the score is, for the histogram's caption ("probability of benign"). */
export function scoreName(scores: VariantScores, request: ResolvedRunRequest | undefined): string {
  const { positive } = binaryLabels(request);
  switch (scores.scoreKind) {
    case 'probability':
      return `probability of ${positive}`;
    case 'margin':
      return `raw margin (log-odds) of ${positive}`;
    case 'class':
      return 'predicted class (0 or 1)';
    case 'top-probability':
      return 'probability of the most likely class';
    case 'class-index':
      return 'predicted class index';
    case 'regression':
      return 'predicted value';
    case 'count':
      return 'predicted count';
    case 'hazard-ratio':
      return 'hazard ratio';
    case 'survival-time':
      return 'predicted survival time';
    case 'ranking':
      return 'ranking score';
    default:
      return 'model score (objective unknown)';
  }
}

/** The HTML sentences saying what `score` (and `label`) mean for one variant. */
export function scoreMeaning(scores: VariantScores, request: ResolvedRunRequest | undefined): string {
  return [scoreSentence(scores, request), labelSentence(scores, request)].filter(Boolean).join(' ');
}

function scoreSentence(scores: VariantScores, request: ResolvedRunRequest | undefined): string {
  const { positive } = binaryLabels(request);
  const labels = request?.results?.labels;
  const oneOf = labels ? ` (one of ${esc(labels.join(', '))})` : '';
  const objective = `<code>${esc(scores.objective ?? '')}</code>`;
  const score = '<code>score</code>';
  switch (scores.scoreKind) {
    case 'probability':
      return `${score} is the probability that the record is <b>${esc(positive)}</b> (class 1).`;
    case 'margin':
      return `${score} is the raw margin (log-odds) of <b>${esc(positive)}</b> (class 1), any real number (the model's objective is ${objective}; its sigmoid, 1 / (1 + e<sup>−score</sup>), is what <code>binary:logistic</code> would give).`;
    case 'class':
      return `${score} is the predicted class, 0 or 1 (1 is <b>${esc(positive)}</b>), as the model's objective ${objective} gives it.`;
    case 'top-probability':
      return `${score} is the probability of the most likely class, and <code>label</code> that class${oneOf}; <code>scores</code> holds the probability of every class in label order.`;
    case 'class-index':
      return `${score} is the index of the predicted class (0, 1, …), and <code>label</code> that class${oneOf}, as the model's objective ${objective} gives it.`;
    case 'regression': {
      const target = request?.results?.actualColumn;
      return `${score} is the model's prediction of the regression target${target ? ` (the column <b>${esc(target)}</b>)` : ''}, in the target's own units (the model's objective is ${objective}).`;
    }
    case 'count':
      return `${score} is the count the model expects (its objective is ${objective}): a number of events, zero or more.`;
    case 'hazard-ratio':
      return `${score} is the hazard ratio the model predicts (its objective is ${objective}): the record's risk relative to the baseline hazard, zero or more.`;
    case 'survival-time':
      return `${score} is the survival time the model predicts (its objective is ${objective}), in the units of its training target.`;
    case 'ranking':
      return `${score} is a ranking score (the model's objective is ${objective}): only the order it puts records in means anything, not its value.`;
    default:
      return scores.objective === undefined
        ? `${score} is the model's own output: this pipeline could not read the model's objective, so the report does not say what its scale is (name it with the model's <code>objective</code> in the run request).`
        : `${score} is the model's own output for its objective ${objective}, on that objective's scale.`;
  }
}

function labelSentence(scores: VariantScores, request: ResolvedRunRequest | undefined): string {
  const labels = request?.results?.labels;
  if (scores.kind === 'binary') {
    const { positive, negative } = binaryLabels(request);
    const threshold = thresholdOf(request);
    const cut =
      scores.scoreKind === 'margin'
        ? `the margin is at least ${esc(readable(scores.threshold))} (the logit of the threshold ${esc(readable(threshold))})`
        : `the score is at least the threshold ${esc(readable(threshold))}`;
    return `<code>label</code> is ${esc(positive)} when ${cut}, else ${esc(negative)}.`;
  }
  if (scores.kind === 'multiclass') {
    // These two name the label in their score sentence already.
    if (scores.scoreKind === 'top-probability' || scores.scoreKind === 'class-index') {
      return 'No threshold applies.';
    }
    return `<code>label</code> is the predicted class${labels ? ` (one of ${esc(labels.join(', '))})` : ''}. No threshold applies.`;
  }
  return 'No label or threshold applies.';
}

/** Where the histogram's threshold line goes, and the caption's words for it. */
export interface ThresholdMarker {
  /** On the scores' own scale; undefined when there is no binary variant or their scales differ. */
  at: number | undefined;
  caption: string;
}

/**
 * The one threshold line the overlaid histogram can draw: the binary variants' threshold on their
 * scores' scale, when they agree (a probability's 0.5 and a margin's 0 do not, and no line is drawn).
 */
export function thresholdMarker(
  all: readonly VariantScores[],
  request: ResolvedRunRequest | undefined,
): ThresholdMarker {
  const binary = all.filter((s) => s.kind === 'binary');
  if (binary.length === 0) return { at: undefined, caption: '' };
  const threshold = thresholdOf(request);
  const at = [...new Set(binary.map((s) => s.threshold))];
  const margins = binary.every((s) => s.scoreKind === 'margin');
  if (at.length === 1 && (margins || binary.every((s) => s.scoreKind !== 'margin'))) {
    return {
      at: at[0],
      caption: margins
        ? `; the dashed line is the threshold on the margin, ${esc(readable(at[0]))} (the logit of ${esc(readable(threshold))})`
        : `; the dashed line is the threshold ${esc(readable(threshold))}`,
    };
  }
  const each = binary.map((s) => `${esc(s.variant)} at ${esc(readable(s.threshold))}`).join(', ');
  return {
    at: undefined,
    caption: `; no threshold line: the variants' scores are on different scales, so each is cut at its own (${each})`,
  };
}
