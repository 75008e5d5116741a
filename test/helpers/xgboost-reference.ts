/**
 * XGBoost's own predictions, written by XGBoost 1.7.4's Python `predict()` (scripts/train_sample_model.py)
 * and committed beside the data: the reference the product's scores are checked against, instead of
 * the product's own parser and predictor.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';

/** examples/sample/expected-predictions.csv: one score per sample row, in sampleLines order. */
export const SAMPLE_EXPECTED_PREDICTIONS = new URL(
  '../../examples/sample/expected-predictions.csv',
  import.meta.url,
).pathname;

/** XGBoost's scores for the first `n` rows of the sample (examples/sample/input, files in name order). */
export async function samplePredictions(n: number): Promise<number[]> {
  const text = await readFile(SAMPLE_EXPECTED_PREDICTIONS, 'utf8');
  const all = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(Number);
  if (n > all.length) throw new Error(`the sample has ${all.length} predictions, ${n} asked for`);
  return all.slice(0, n);
}

/** Each score equals XGBoost's to 1e-6 (the predictor sums float32 leaves), in the same order. */
export function expectScores(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  const off = actual
    .map((value, i) => ({ record: i + 1, value, expected: expected[i] as number }))
    .filter(({ value, expected }) => !(Math.abs(value - expected) <= 1e-6));
  expect(off).toEqual([]);
}
