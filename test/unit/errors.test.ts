import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';

/** Every error class src/errors.ts exports. */
const classes = (Object.values(errors) as unknown[]).filter(
  (value): value is new (...args: never[]) => Error =>
    typeof value === 'function' && value.prototype instanceof Error,
);

/** One instance of each, made with the class's own arguments, carrying a cause. */
const cause = new Error('underlying');
const made: Error[] = [
  new errors.PipelineError('m', { cause }),
  new errors.TransientError('m', { cause }),
  new errors.InvalidInputError('m', { cause }),
  new errors.SchemaValidationError('m', ['/x must be string'], { cause }),
  new errors.ConfigError('m', { cause }),
  new errors.UsageError('m', { cause }),
  new errors.ObjectNotFoundError('m', { cause }),
  new errors.InputChangedError('m', { cause }),
  new errors.RecordTooLargeError('s3://b/k', 3, 20, 10, 'line', { cause }),
  new errors.InvalidRecordError(2, 'has 29 values', { cause }),
  new errors.TransformJobFailedError('m', { cause }),
  new errors.TransformJobStoppedError(undefined, { cause }),
  new errors.InvocationTimeoutError('m', 1000, { cause }),
  new errors.SageMakerValidationError('m', { cause }),
  new errors.PredictionMismatchError('m', { cause }),
  new errors.QueryFailedError('m', { cause }),
  new errors.UnsupportedModelError('m', { cause }),
  new errors.CatalogError('m', { cause }),
  new errors.LocalStoreError('m', 's3://b/k', '/home/s3/b/k', 'ENOSPC', { cause }),
];

describe('src/errors.ts', () => {
  it('holds every error class, each made once here', () => {
    expect(made.map((e) => e.constructor).sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [...classes].sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it("names each class explicitly, ending in Error (SageMaker's own name aside), and keeps the cause", () => {
    for (const error of made) {
      expect(error.name, error.constructor.name).toBe(
        error instanceof errors.SageMakerValidationError
          ? 'SageMaker.AmazonSageMakerException'
          : error.constructor.name,
      );
      expect(error.cause, error.name).toBe(cause);
    }
    expect(new Set(made.map((e) => e.name)).size).toBe(made.length);
  });

  it('tells expected failures from bugs, and transient from terminal ones', () => {
    for (const error of made) expect(errors.isBug(error), error.name).toBe(false);
    expect(errors.isBug(new TypeError('x is undefined'))).toBe(true);
    expect(errors.isBug('a string')).toBe(true);
    expect(made.filter((e) => (e as errors.PipelineError).kind === 'transient').map((e) => e.name)).toEqual([
      'TransientError',
    ]);
  });

  it('says what a record is and how large, for RecordTooLargeError and InvalidRecordError', () => {
    expect(new errors.RecordTooLargeError('s3://b/k', 3, 20, 10, 'line').message).toBe(
      's3://b/k: line 3 is 20 bytes, larger than the MaxPayloadInMB limit of 10 bytes (0 MB)',
    );
    expect(new errors.InvalidRecordError(2, 'has 29 values').message).toBe('Record 2 has 29 values');
  });
});
