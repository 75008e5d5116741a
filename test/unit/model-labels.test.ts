import { describe, expect, it } from 'vitest';
import { classCountOf, labelsMismatch, scoreKindOf, scoreThreshold } from '../../src/core/model-labels.js';
import { SUPPORTED_OBJECTIVES } from '../../src/model-server/xgboost-model.js';

const names = { model: 'model.json', labels: '--labels' };

describe('labelsMismatch', () => {
  it('refuses any labels for a model without classes, saying to drop them', () => {
    for (const objective of ['reg:squarederror', 'count:poisson', 'rank:pairwise', 'survival:cox']) {
      expect(labelsMismatch(['a', 'b'], { objective, numClass: 0 }, names)).toBe(
        `--labels a,b: model.json is a regression model (${objective}), not a classifier: ` +
          'its scores get no labels; drop --labels',
      );
    }
  });

  it('asks for one label per class, naming the objective and the class count', () => {
    expect(labelsMismatch(['a', 'b'], { objective: 'multi:softprob', numClass: 3 }, names)).toBe(
      '--labels a,b: model.json is a 3-class model (multi:softprob): give 3 labels, got 2',
    );
    expect(
      labelsMismatch(
        ['a', 'b', 'c'],
        { objective: 'binary:logistic', numClass: 0 },
        {
          model: 's3://b/m.tar.gz',
          labels: 'results.labels',
        },
      ),
    ).toBe('results.labels a,b,c: s3://b/m.tar.gz is a binary model (binary:logistic): give 2 labels, got 3');
  });

  it('accepts labels that name every class', () => {
    expect(labelsMismatch(['n', 'y'], { objective: 'binary:logitraw', numClass: 0 }, names)).toBeUndefined();
    expect(
      labelsMismatch(['a', 'b', 'c'], { objective: 'multi:softmax', numClass: 3 }, names),
    ).toBeUndefined();
  });
});

describe('classCountOf', () => {
  it('counts 2 for binary, num_class for multiclass and 0 for anything else', () => {
    expect(classCountOf({ objective: 'binary:hinge', numClass: 0 })).toBe(2);
    expect(classCountOf({ objective: 'multi:softprob', numClass: 4 })).toBe(4);
    expect(classCountOf({ objective: 'reg:logistic', numClass: 0 })).toBe(0);
  });
});

describe('scoreThreshold', () => {
  it('puts a logitraw threshold on the margin scale through the logit, and leaves other models alone', () => {
    expect(scoreThreshold(0.5, 'binary:logitraw')).toBe(0);
    expect(scoreThreshold(0.7, 'binary:logitraw')).toBeCloseTo(Math.log(0.7 / 0.3), 12);
    expect(scoreThreshold(0, 'binary:logitraw')).toBe(-Number.MAX_VALUE);
    expect(scoreThreshold(1, 'binary:logitraw')).toBe(Number.MAX_VALUE);
    expect(scoreThreshold(0.7, 'binary:logistic')).toBe(0.7);
    expect(scoreThreshold(0.7, undefined)).toBe(0.7);
  });
});

describe('scoreKindOf', () => {
  it('tells what the score is for every objective the built-in server serves', () => {
    const kinds = Object.fromEntries(SUPPORTED_OBJECTIVES.map((o) => [o, scoreKindOf(o)]));
    expect(kinds).toEqual({
      'reg:squarederror': 'regression',
      'reg:linear': 'regression',
      'reg:squaredlogerror': 'regression',
      'reg:pseudohubererror': 'regression',
      'reg:absoluteerror': 'regression',
      'reg:logistic': 'regression',
      'binary:logistic': 'probability',
      'binary:logitraw': 'margin',
      'binary:hinge': 'class',
      'reg:gamma': 'regression',
      'reg:tweedie': 'regression',
      'count:poisson': 'count',
      'survival:cox': 'hazard-ratio',
      'survival:aft': 'survival-time',
      'multi:softprob': 'top-probability',
      'multi:softmax': 'class-index',
      'rank:pairwise': 'ranking',
      'rank:ndcg': 'ranking',
      'rank:map': 'ranking',
    });
  });

  it('says unknown, never probability, when the objective is not known', () => {
    expect(scoreKindOf(undefined)).toBe('unknown');
    expect(scoreKindOf('binary:newthing')).toBe('unknown');
    expect(scoreKindOf('custom:objective')).toBe('unknown');
  });
});
