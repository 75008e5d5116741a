import { describe, expect, it } from 'vitest';
import { checkColumnCount, checkFeatureNames, type HeaderColumns } from '../../src/cli/feature-check.js';
import { UsageError } from '../../src/errors.js';

const FEATURES = ['mean radius', 'mean texture', 'mean perimeter', 'mean area', 'mean smoothness'];
const MODEL = { file: 'model.json', featureNames: FEATURES };

function header(columns: string[], extra: Partial<HeaderColumns> = {}): HeaderColumns {
  return { file: 'test.csv', columns, numbered: false, inputFilter: undefined, ...extra };
}

function refusal(run: () => void): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('not refused');
}

describe('checkFeatureNames', () => {
  it("accepts the model's features in its order, after an index the InputFilter keeps from the model", () => {
    expect(() => checkFeatureNames(header(FEATURES), [MODEL])).not.toThrow();
    expect(() =>
      checkFeatureNames(header(['index', ...FEATURES], { inputFilter: '$[1:]' }), [MODEL]),
    ).not.toThrow();
  });

  it('refuses the same names in another order, naming the first differing columns and the fix', () => {
    const message = refusal(() => checkFeatureNames(header([...FEATURES].reverse()), [MODEL]));
    expect(message).toBe(
      "test.csv: its header has the model's feature names in another order (feature_names of model.json): " +
        'column 1 is "mean smoothness", the model\'s feature 1 is "mean radius"; ' +
        'column 2 is "mean area", the model\'s feature 2 is "mean texture"; ' +
        'column 4 is "mean texture", the model\'s feature 4 is "mean area"; and 1 more. ' +
        'Scored as it is, the model would read values as other features; XGBoost refuses such data ' +
        "(feature_names mismatch). To fix: write the columns in the model's order, e.g. in Python " +
        'df[booster.feature_names].to_csv(...)',
    );
  });

  it('counts columns in the file, the index included, and features in the model', () => {
    const columns = ['index', 'mean texture', 'mean radius', ...FEATURES.slice(2)];
    const message = refusal(() => checkFeatureNames(header(columns, { inputFilter: '$[1:]' }), [MODEL]));
    expect(message).toContain('column 2 is "mean texture", the model\'s feature 1 is "mean radius"');
  });

  it('refuses other names, saying which columns are not features and how to keep them from the model', () => {
    const message = refusal(() => checkFeatureNames(header([...FEATURES, 'target']), [MODEL]));
    expect(message).toBe(
      "test.csv: its header's column names are not the model's feature names (feature_names of model.json): " +
        'column 6 is "target", the model has only 5 features. XGBoost refuses such data (feature_names mismatch). ' +
        'To fix: keep a column that is not a feature ("target") from the model with --id-column NAME or ' +
        "--actual-column NAME; write the columns in the model's order, e.g. in Python " +
        "df[booster.feature_names].to_csv(...); or, if the columns are the model's features in its order " +
        'under other names, give --ignore-feature-names',
    );
    expect(refusal(() => checkFeatureNames(header(FEATURES.slice(0, 4)), [MODEL]))).toContain(
      'the model\'s feature 5 is "mean smoothness", the file has no column for it',
    );
  });

  it('checks nothing for a model without feature names, a numbered header or a filter it cannot apply', () => {
    const reversed = [...FEATURES].reverse();
    expect(() => checkFeatureNames(header(reversed), [{ file: 'm.bin', featureNames: [] }])).not.toThrow();
    const numbers = ['index', '0', '1', '2', '3', '4'];
    expect(() => checkFeatureNames(header(numbers, { numbered: true }), [MODEL])).not.toThrow();
    expect(() => checkFeatureNames(header(reversed, { inputFilter: '$[9' }), [MODEL])).not.toThrow();
  });

  it('names the model whose features differ when there are two', () => {
    const other = { file: 'b.json', featureNames: [...FEATURES].reverse() };
    expect(refusal(() => checkFeatureNames(header(FEATURES), [MODEL, other]))).toContain(
      '(feature_names of b.json)',
    );
  });
});

describe('checkColumnCount', () => {
  const counted = { file: 'model.json', numFeature: FEATURES.length };

  it('accepts as many columns as features, counting only what the InputFilter gives the model', () => {
    expect(() => checkColumnCount(header(FEATURES), [counted])).not.toThrow();
    expect(() =>
      checkColumnCount(header(['id', ...FEATURES], { inputFilter: '$[1:]' }), [counted]),
    ).not.toThrow();
  });

  it('refuses an extra column, naming the first column as a possible id', () => {
    expect(refusal(() => checkColumnCount(header(['patient_id', ...FEATURES]), [counted]))).toBe(
      'test.csv: the model would get 6 columns, but model.json has 5 features. If a column is not a feature, ' +
        'keep it from the model: --id-column NAME for an id (e.g. --id-column "patient_id" if "patient_id" is one), ' +
        '--actual-column NAME for the true outcome.',
    );
  });

  it('refuses too few columns, saying what the container would do with them', () => {
    expect(refusal(() => checkColumnCount(header(FEATURES.slice(0, 4)), [counted]))).toBe(
      "test.csv: the model would get 4 columns, but model.json has 5 features. The file lacks 1 of the model's " +
        "features (SageMaker's XGBoost container would score them as missing values): write every feature the model was trained on.",
    );
  });

  it('counts the columns left after an InputFilter, and says how many it kept', () => {
    const message = refusal(() =>
      checkColumnCount(header(['id', 'extra', ...FEATURES], { inputFilter: '$[1:]' }), [counted]),
    );
    expect(message).toMatch(
      /^test\.csv: the model would get 6 columns \(of 7: 1 kept from it\), but model\.json has 5 features\./,
    );
  });
});
