import { describe, expect, it } from 'vitest';
import type { TransformJobRequest } from '../../src/core/transform-job.js';
import { MAX_PAYLOAD_IN_MB_LIMIT } from '../../src/core/transform-rules.js';
import { validateTransformJobRequest } from '../../src/local/transform-validation.js';
import { csvTransformRequest } from '../helpers/transform-request.js';

/** The ValidationException message for a request, or undefined when it is accepted. */
function messageFor(request: unknown): string | undefined {
  try {
    validateTransformJobRequest(request as TransformJobRequest);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// Expected messages are written by hand in SageMaker's ValidationException wording (member paths
// lower-camel-cased, "failed to satisfy constraint: Member must ...").
describe('validateTransformJobRequest (schemas/transform-job-request.schema.json, worded as SageMaker)', () => {
  it('accepts a complete request', () => {
    expect(messageFor(csvTransformRequest())).toBeUndefined();
    expect(
      messageFor(
        csvTransformRequest({
          MaxPayloadInMB: 100,
          MaxConcurrentTransforms: 1,
          ModelClientConfig: { InvocationsTimeoutInSeconds: 3600, InvocationsMaxRetries: 0 },
          Environment: { SAGEMAKER_PROGRAM: 'x' },
        }),
      ),
    ).toBeUndefined();
  });

  it('names each bad field with its value and the constraint', () => {
    expect(messageFor(csvTransformRequest({ TransformJobName: 'bad_name!' }))).toBe(
      "ValidationException: 1 validation error detected: Value 'bad_name!' at 'transformJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
    );
    expect(messageFor(csvTransformRequest({ MaxPayloadInMB: 101 }))).toContain(
      "Value '101' at 'maxPayloadInMB' failed to satisfy constraint: Member must have value less than or equal to 100",
    );
    expect(messageFor(csvTransformRequest({ MaxPayloadInMB: 1.5 }))).toContain(
      "Value '1.5' at 'maxPayloadInMB' failed to satisfy constraint: Member must be an integer",
    );
    expect(messageFor(csvTransformRequest({ ModelClientConfig: { InvocationsMaxRetries: 4 } }))).toBe(
      "ValidationException: 1 validation error detected: Value '4' at 'modelClientConfig.invocationsMaxRetries' failed to satisfy constraint: Member must have value less than or equal to 3",
    );
    expect(
      messageFor(csvTransformRequest({ ModelClientConfig: { InvocationsTimeoutInSeconds: 0 } })),
    ).toContain(
      "Value '0' at 'modelClientConfig.invocationsTimeoutInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    expect(
      messageFor(csvTransformRequest({ BatchStrategy: 'Batch' as TransformJobRequest['BatchStrategy'] })),
    ).toContain(
      "Value 'Batch' at 'batchStrategy' failed to satisfy constraint: Member must satisfy enum value set: [MultiRecord, SingleRecord]",
    );
    const base = csvTransformRequest();
    expect(
      messageFor({
        ...base,
        TransformInput: { ...base.TransformInput, SplitType: 'Lines' },
        TransformOutput: { ...base.TransformOutput, S3OutputPath: 'https://bucket/out' },
      }),
    ).toBe(
      "ValidationException: 2 validation errors detected: Value 'Lines' at 'transformInput.splitType' failed to satisfy constraint: Member must satisfy enum value set: [None, Line, RecordIO, TFRecord]; " +
        "Value 'https://bucket/out' at 'transformOutput.s3OutputPath' failed to satisfy constraint: Member must satisfy regular expression pattern: ^s3://([^/]+)/?(.*)$ (the local engine reads s3:// URIs only)",
    );
  });

  it('says which required member is missing', () => {
    const { TransformResources: _, ...withoutResources } = csvTransformRequest();
    expect(messageFor(withoutResources)).toBe(
      "ValidationException: 1 validation error detected: Value null at 'transformResources' failed to satisfy constraint: Member must not be null",
    );
    expect(
      messageFor({ ...csvTransformRequest(), TransformInput: { DataSource: {}, ContentType: 'text/csv' } }),
    ).toContain(
      "Value null at 'transformInput.dataSource.s3DataSource' failed to satisfy constraint: Member must not be null",
    );
    expect(
      messageFor({
        ...csvTransformRequest(),
        TransformInput: { DataSource: { S3DataSource: { S3Uri: 's3://bucket/in/' } } },
      }),
    ).toContain(
      "Value null at 'transformInput.dataSource.s3DataSource.s3DataType' failed to satisfy constraint: Member must not be null",
    );
    expect(messageFor({ ...csvTransformRequest(), TransformResources: { InstanceType: 'local' } })).toContain(
      "Value null at 'transformResources.instanceCount' failed to satisfy constraint: Member must not be null",
    );
  });

  it("checks the Environment map: at most 16 entries, keys as SageMaker's pattern, values up to 10240 characters", () => {
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`K${i}`, 'v']));
    expect(messageFor(csvTransformRequest({ Environment: many }))).toContain(
      "Value at 'environment' failed to satisfy constraint: Map must have at most 16 entries",
    );
    expect(messageFor(csvTransformRequest({ Environment: { '1BAD': 'v' } }))).toContain(
      "Value '1BAD' at 'environment' failed to satisfy constraint: Map keys must satisfy regular expression pattern",
    );
    expect(messageFor(csvTransformRequest({ Environment: { LONG_Value: 'x'.repeat(10241) } }))).toContain(
      "Value at 'environment.LONG_Value' failed to satisfy constraint: Member must have length less than or equal to 10240",
    );
    expect(messageFor(csvTransformRequest({ Environment: { OK: 'x'.repeat(10240) } }))).toBeUndefined();
  });

  it('adds the cross-field rules of core/transform-rules.ts after the field limits', () => {
    expect(messageFor(csvTransformRequest({ MaxPayloadInMB: 0 }))).toMatch(/requires SplitType None/);
    expect(messageFor(csvTransformRequest({ MaxPayloadInMB: 20, MaxConcurrentTransforms: 6 }))).toMatch(
      /^ValidationException: 1 validation error detected: .*100/,
    );
  });

  it("states the same MaxPayloadInMB limit as the cross-field rule's MAX_PAYLOAD_IN_MB_LIMIT", () => {
    // The field limit is schemas/definitions.schema.json's maxPayloadInMB; the rule's constant must agree.
    const request = (MaxPayloadInMB: number) =>
      csvTransformRequest({ MaxPayloadInMB, MaxConcurrentTransforms: 1 });
    expect(messageFor(request(MAX_PAYLOAD_IN_MB_LIMIT))).toBeUndefined();
    expect(messageFor(request(MAX_PAYLOAD_IN_MB_LIMIT + 1))).toContain(
      `Value '${MAX_PAYLOAD_IN_MB_LIMIT + 1}' at 'maxPayloadInMB' failed to satisfy constraint: Member must have value less than or equal to 100`,
    );
  });

  it('refuses a request that is not an object', () => {
    expect(messageFor(null)).toBe('ValidationException: the request must be an object');
  });
});
