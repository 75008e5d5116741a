import { describe, expect, it } from 'vitest';
import { validateAgainstSchema } from '../../src/schemas.js';

const valid = { input: 's3://my-bucket/incoming/', models: [{ variant: 'xgb', modelName: 'my-model' }] };

describe('validateAgainstSchema', () => {
  it('accepts a minimal run request', () => {
    expect(validateAgainstSchema('run-request', valid, 'run request')).toBe(valid);
  });

  it('names every bad field of a run request', () => {
    const bad = {
      input: 'https://not-s3/x',
      models: [{ variant: 'Bad Variant' }],
      transform: { SplitType: 'Lines', MaxPayloadInMB: 101 },
      extra: true,
    };
    expect(() => validateAgainstSchema('run-request', bad, 'run request')).toThrowError(
      expect.objectContaining({
        name: 'SchemaValidationError',
        message: expect.stringMatching(/^Invalid run request: /),
      }),
    );
    try {
      validateAgainstSchema('run-request', bad, 'run request');
    } catch (error) {
      const problems = (error as { errors: string[] }).errors;
      expect(problems).toEqual(
        expect.arrayContaining([
          '(root) has unknown property "extra"',
          '/input must match pattern "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/"',
          '/models/0/variant must match pattern "^[a-z0-9][a-z0-9-]{0,15}$"',
          '/transform/SplitType must be one of None, Line, RecordIO, TFRecord',
          '/transform/MaxPayloadInMB must be <= 100',
        ]),
      );
    }
  });

  it('refuses a model variant with neither a model name nor an image and artifact', () => {
    expect(() =>
      validateAgainstSchema(
        'run-request',
        { ...valid, models: [{ variant: 'a', image: 'x' }] },
        'run request',
      ),
    ).toThrow(/must match exactly one schema in oneOf/);
  });

  it('does not coerce types in Step Functions payloads', () => {
    expect(() =>
      validateAgainstSchema('run-request', { ...valid, transform: { MaxPayloadInMB: '6' } }, 'run request'),
    ).toThrow('/transform/MaxPayloadInMB must be integer');
  });
});
