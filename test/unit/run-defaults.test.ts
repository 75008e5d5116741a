import { describe, expect, it } from 'vitest';
import { checkRunRequest } from '../../src/core/run-checks.js';
import { applyRunDefaults } from '../../src/core/run-defaults.js';
import type { RunRequest } from '../../src/core/run-request.js';
import { effectiveSettings, makePlan } from '../../src/local/transform-settings.js';
import { validateTransformJobRequest } from '../../src/local/transform-validation.js';
import { csvTransformRequest } from '../helpers/transform-request.js';

const minimal: RunRequest = {
  input: 's3://in-bucket/incoming/',
  models: [{ variant: 'a', modelName: 'model-a' }],
};

describe('applyRunDefaults', () => {
  it('fills every default a run relies on, with the values SageMaker documents for CreateTransformJob', () => {
    // Written by hand: MaxPayloadInMB 6, InvocationsTimeoutInSeconds 600 and InvocationsMaxRetries 3 are
    // SageMaker's documented defaults (CreateTransformJob, ModelClientConfig); the rest is the README's.
    expect(applyRunDefaults(minimal)).toEqual({
      input: 's3://in-bucket/incoming/',
      models: [{ variant: 'a', modelName: 'model-a', networkIsolation: true }],
      objectsPerShard: 500,
      maxConcurrentJobs: 10,
      queries: ['summary'],
      transform: {
        ContentType: 'text/csv',
        CompressionType: 'None',
        SplitType: 'Line',
        BatchStrategy: 'MultiRecord',
        MaxPayloadInMB: 6,
        MaxConcurrentTransforms: 0,
        Accept: 'text/csv',
        AssembleWith: 'Line',
        DataProcessing: { OutputFilter: '$', JoinSource: 'None' },
        ModelClientConfig: { InvocationsTimeoutInSeconds: 600, InvocationsMaxRetries: 3 },
        Environment: {},
        InstanceType: 'ml.m5.xlarge',
        InstanceCount: 1,
      },
      results: { table: 'predictions', threshold: 0.5, storeFeatures: true },
    });
  });

  it('keeps every value the request gives, leaves the request as it was, and gives the same result twice', () => {
    const request: RunRequest = {
      ...minimal,
      transform: { MaxPayloadInMB: 0, SplitType: 'None', ModelClientConfig: { InvocationsMaxRetries: 0 } },
      results: { threshold: 0.25, storeFeatures: false },
    };
    const copy = structuredClone(request);
    const resolved = applyRunDefaults(request);
    expect(resolved.transform).toMatchObject({
      MaxPayloadInMB: 0,
      SplitType: 'None',
      ModelClientConfig: { InvocationsTimeoutInSeconds: 600, InvocationsMaxRetries: 0 },
    });
    expect(resolved.results).toEqual({ table: 'predictions', threshold: 0.25, storeFeatures: false });
    expect(request).toEqual(copy);
    expect(applyRunDefaults(resolved)).toEqual(resolved);
  });
});

describe('the local engine on a request that leaves SageMaker defaults out', () => {
  it('sends at most 6 MB, waits 600 s per invocation and retries 3 times, as SageMaker does', () => {
    const request = csvTransformRequest();
    const settings = effectiveSettings(request, undefined);
    expect(settings).toMatchObject({ maxPayloadInMB: 6, batchStrategy: 'MultiRecord' });
    expect(settings.source).toMatchObject({ maxPayloadInMB: 'default', batchStrategy: 'default' });
    const plan = makePlan(request, settings);
    expect(plan).toMatchObject({ maxPayloadBytes: 6 * 1024 * 1024, timeoutMs: 600_000, maxRetries: 3 });
  });
});

describe('MaxPayloadInMB 0 needs SplitType None (one rule, three callers)', () => {
  it('is refused at plan time, naming the field and the fix', () => {
    expect(() => checkRunRequest(applyRunDefaults({ ...minimal, transform: { MaxPayloadInMB: 0 } }))).toThrow(
      /MaxPayloadInMB 0 \(from transform\.MaxPayloadInMB: .*\) requires SplitType None, but the job uses SplitType Line.*set transform\.MaxPayloadInMB from 1 to 100/,
    );
  });

  it('is refused in a CreateTransformJob request, and allowed with SplitType None', () => {
    const zero = csvTransformRequest({ MaxPayloadInMB: 0 });
    expect(() => validateTransformJobRequest(zero)).toThrow(
      /MaxPayloadInMB 0 \(from the request: .*\) requires SplitType None, but the job uses SplitType Line/,
    );
    const none = { ...zero, TransformInput: { ...zero.TransformInput, SplitType: 'None' as const } };
    expect(() => validateTransformJobRequest(none)).not.toThrow();
  });

  it('fails the job when the container offers 0 for a Line job', () => {
    expect(() => effectiveSettings(csvTransformRequest(), { MaxPayloadInMB: 0 })).toThrow(
      /MaxPayloadInMB 0 \(from the container: .*\) requires SplitType None, but the job uses SplitType Line/,
    );
  });

  it('refuses MaxConcurrentTransforms × MaxPayloadInMB over 100 at plan time, but not 0 (the container decides)', () => {
    const over = { ...minimal, transform: { MaxConcurrentTransforms: 11, MaxPayloadInMB: 10 } };
    expect(() => checkRunRequest(applyRunDefaults(over))).toThrow(
      /MaxConcurrentTransforms 11 × transform\.MaxPayloadInMB 10 = 110 MB, over SageMaker's limit of 100 MB/,
    );
    const exactly = { ...minimal, transform: { MaxConcurrentTransforms: 10, MaxPayloadInMB: 10 } };
    expect(checkRunRequest(applyRunDefaults(exactly))).toEqual({ warnings: [] });
    const containerDecides = { ...minimal, transform: { MaxConcurrentTransforms: 0, MaxPayloadInMB: 100 } };
    expect(checkRunRequest(applyRunDefaults(containerDecides))).toEqual({ warnings: [] });
  });
});
