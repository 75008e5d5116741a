import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import failureRecordSchema from '../../schemas/failure-record.schema.json' with { type: 'json' };
import runRequestSchema from '../../schemas/run-request.schema.json' with { type: 'json' };
import runSummarySchema from '../../schemas/run-summary.schema.json' with { type: 'json' };
import { generateSchemaTypes, SCHEMA_TYPES_FILE } from '../../scripts/schema-types.mjs';
import type { FailureRecord } from '../../src/core/record-failure.js';
import type { ModelVariant, RunRequest, TransformSettings } from '../../src/core/run-request.js';
import type { JobResult, RunSummary } from '../../src/core/summarize-run.js';
import type { S3DataType, SplitType, TransformJobRequest } from '../../src/core/transform-job.js';

describe('src/generated/schema-types.ts (the TypeScript types of schemas/)', () => {
  it('is what `npm run schema-types` generates from the schemas as they are (run it after changing a schema)', async () => {
    expect(readFileSync(SCHEMA_TYPES_FILE, 'utf8')).toBe(await generateSchemaTypes());
  }, 60_000);

  it('declares every property of the run-request, failure-record and run-summary schemas, required exactly where the schema says so', () => {
    const text = readFileSync(SCHEMA_TYPES_FILE, 'utf8');
    const objects: Array<{ properties: Record<string, unknown>; required?: string[] }> = [
      runRequestSchema,
      runRequestSchema.properties.models.items,
      runRequestSchema.properties.transform,
      runRequestSchema.properties.results,
      failureRecordSchema,
      failureRecordSchema.properties.attempt,
      failureRecordSchema.properties.mapRun,
      runSummarySchema,
      runSummarySchema.properties.completion,
      runSummarySchema.properties.earlierAttempts,
      runSummarySchema.properties.queries.additionalProperties,
    ];
    for (const object of objects) {
      for (const name of Object.keys(object.properties)) {
        const required = object.required?.includes(name) === true;
        expect(text, name).toMatch(new RegExp(`\\n\\s+${name}${required ? '' : '\\?'}: `));
      }
    }
  });

  it('types a run request as the schema shapes it (enums, required fields, nested settings)', () => {
    expectTypeOf<RunRequest['input']>().toEqualTypeOf<string>();
    expectTypeOf<ModelVariant['variant']>().toEqualTypeOf<string>();
    expectTypeOf<ModelVariant['networkIsolation']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<TransformSettings['SplitType']>().toEqualTypeOf<
      'None' | 'Line' | 'RecordIO' | 'TFRecord' | undefined
    >();
    expectTypeOf<NonNullable<TransformSettings['DataProcessing']>['JoinSource']>().toEqualTypeOf<
      'Input' | 'None' | undefined
    >();
    expectTypeOf<TransformJobRequest['TransformJobName']>().toEqualTypeOf<string>();
    expectTypeOf<TransformJobRequest['TransformResources']['InstanceCount']>().toEqualTypeOf<number>();
    expectTypeOf<S3DataType>().toEqualTypeOf<'S3Prefix' | 'ManifestFile'>();
    expectTypeOf<SplitType>().toEqualTypeOf<'None' | 'Line' | 'RecordIO' | 'TFRecord'>();
    // A request the schema accepts is a RunRequest; one with an unknown property is not.
    const request: RunRequest = { input: 's3://bucket/in/', models: [{ variant: 'a', modelName: 'm' }] };
    expect(request.models).toHaveLength(1);
    // @ts-expect-error the schema has additionalProperties false
    const unknown: RunRequest = { input: 's3://b/in/', models: [], inputs: 'x' };
    expect(unknown).toBeDefined();
  });

  it('types failure.json as the failure-record schema shapes it (RecordFailure validates its result against it)', () => {
    expectTypeOf<FailureRecord['runId']>().toEqualTypeOf<string>();
    expectTypeOf<FailureRecord['attempt']['deletedObjects']>().toEqualTypeOf<number>();
    expectTypeOf<FailureRecord['attempt']['catalog']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<NonNullable<FailureRecord['mapRun']>['shardId']>().toEqualTypeOf<string | undefined>();
    const record: FailureRecord = {
      runId: 'r1',
      executionName: 'r1-a',
      failedState: 'RunTransforms',
      error: 'TransformJobFailedError',
      message: 'm',
      cause: 'c',
      recordedAt: '2026-01-01T00:00:00.000Z',
      uri: 's3://b/runs/r1/failure.json',
      attempt: { attemptId: 'a', files: 'cleaned', deletedObjects: 0 },
    };
    expect(record.attempt.files).toBe('cleaned');
    // @ts-expect-error the schema requires attempt
    const withoutAttempt: FailureRecord = { ...record, attempt: undefined };
    expect(withoutAttempt).toBeDefined();
  });

  it('types the run summary as the run-summary schema shapes it (RunQueries validates its result against it)', () => {
    expectTypeOf<RunSummary['status']>().toEqualTypeOf<'SUCCEEDED'>();
    expectTypeOf<RunSummary['completion']['billableSeconds']>().toEqualTypeOf<number>();
    expectTypeOf<RunSummary['resultFiles']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<RunSummary['queries'][string]['rows'][number][string]>().toEqualTypeOf<
      string | number | boolean | null
    >();
    expectTypeOf<NonNullable<RunSummary['earlierAttempts']>['notDeleted']>().toEqualTypeOf<string[]>();
  });

  it('types a job result by the definition parse-results-result.schema.json refers to in register-table-event.schema.json', () => {
    expectTypeOf<JobResult>().toEqualTypeOf<{
      recordsIn: number;
      recordsOut: number;
      partition: { values: string[]; location: string };
      files: string[];
    }>();
  });
});
