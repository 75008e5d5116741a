import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import createModelSchema from '../../schemas/create-model-request.schema.json' with { type: 'json' };
import failureRecordSchema from '../../schemas/failure-record.schema.json' with { type: 'json' };
import runRequestSchema from '../../schemas/run-request.schema.json' with { type: 'json' };
import runSummarySchema from '../../schemas/run-summary.schema.json' with { type: 'json' };
import { generateSchemaTypes, SCHEMA_TYPES_FILE } from '../../scripts/schema-types.mjs';
import type { BuildManifestEvent, ResultsTableRef, RunPlan } from '../../src/core/build-manifest.js';
import type { CreateModelRequest } from '../../src/core/build-manifest-models.js';
import type { JobListPointer, ParseJobEvent } from '../../src/core/job-results.js';
import type { FailureRecord, RecordFailureEvent } from '../../src/core/record-failure.js';
import type { RegisterTableEvent } from '../../src/core/register-table.js';
import type { ResolvedRunRequest } from '../../src/core/run-defaults.js';
import type { ModelVariant, RunRequest, TransformSettings } from '../../src/core/run-request.js';
import type { JobResult, MapJobResult, RunSummary, SummarizeRunEvent } from '../../src/core/summarize-run.js';
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
    expectTypeOf<FailureRecord['publishedReportUri']>().toEqualTypeOf<string | undefined>();
    const record: FailureRecord = {
      runId: 'r1',
      executionName: 'r1-a',
      failedState: 'RunTransforms',
      error: 'TransformJobFailedError',
      message: 'm',
      cause: 'c',
      recordedAt: '2026-01-01T00:00:00.000Z',
      uri: 's3://b/runs/r1/failure.json',
      reportUri: 's3://b/runs/r1/report.html',
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

  it("types a CreateModel request as SageMaker's CreateModel API takes it, and the plan's modelsToCreate as a list of them", () => {
    // Written by hand from the CreateModel API reference (the fields this product sends).
    expectTypeOf<CreateModelRequest>().toEqualTypeOf<{
      ModelName: string;
      ExecutionRoleArn: string;
      PrimaryContainer: { Image: string; ModelDataUrl: string; Environment: { [k: string]: string } };
      VpcConfig?: { SecurityGroupIds: string[]; Subnets: string[] };
      EnableNetworkIsolation: boolean;
      Tags: { Key: string; Value: string }[];
    }>();
    expectTypeOf<RunPlan['modelsToCreate']>().toEqualTypeOf<CreateModelRequest[]>();
    expectTypeOf<RunPlan['jobList']>().toEqualTypeOf<JobListPointer>();
    expectTypeOf<RunPlan['table']>().toEqualTypeOf<ResultsTableRef>();
    expectTypeOf<BuildManifestEvent['request']>().toEqualTypeOf<RunRequest>();
    expect(createModelSchema.required.sort()).toEqual(
      ['EnableNetworkIsolation', 'ExecutionRoleArn', 'ModelName', 'PrimaryContainer', 'Tags'].sort(),
    );
  });

  it('types the Lambda events as their schemas (and the ASL) shape them', () => {
    expectTypeOf<ParseJobEvent['transformJob']>().toEqualTypeOf<{
      TransformJobName: string;
      TransformJobStatus: 'Completed';
      TransformStartTime?: string | number;
      TransformEndTime?: string | number;
    }>();
    expectTypeOf<RegisterTableEvent>().toEqualTypeOf<{
      table: ResultsTableRef;
      runId: string;
      runDate: string;
      runPrefix: string;
      attemptId: string;
      jobList: JobListPointer;
    }>();
    expectTypeOf<SummarizeRunEvent['jobList']>().toEqualTypeOf<JobListPointer>();
    expectTypeOf<SummarizeRunEvent['registered']>().toEqualTypeOf<unknown>();
    // Only the fields RecordFailure reads: reading any other one does not compile.
    expectTypeOf<keyof RecordFailureEvent['state']>().toEqualTypeOf<
      'runId' | 'request' | 'failedState' | 'failure' | 'jobList'
    >();
    expectTypeOf<RecordFailureEvent['state']['failure']>().toEqualTypeOf<{
      Error?: string;
      Cause?: string;
    }>();
  });

  it('types what each Map job leaves (MapJobResult) as its job result plus the variant, shard and transform job', () => {
    expectTypeOf<MapJobResult>().toMatchTypeOf<JobResult>();
    expectTypeOf<Omit<MapJobResult, keyof JobResult>>().toEqualTypeOf<{
      variant: string;
      shardId: string;
      transformJob: {
        TransformJobName: string;
        TransformStartTime?: string | number;
        TransformEndTime?: string | number;
      };
    }>();
  });

  it('declares ResolvedRunRequest with exactly the properties that have a default in run-request.schema.json required', () => {
    const text = readFileSync(SCHEMA_TYPES_FILE, 'utf8');
    const start = text.indexOf('export interface ResolvedRunRequest {');
    const block = text.slice(start, text.indexOf('\n}\n', start));
    expect(start).toBeGreaterThan(0);
    const transform = runRequestSchema.properties.transform;
    const objects: Array<{ properties: Record<string, unknown>; required?: string[] }> = [
      runRequestSchema,
      runRequestSchema.properties.models.items,
      transform,
      transform.properties.DataProcessing,
      transform.properties.ModelClientConfig,
      runRequestSchema.properties.results,
    ];
    let defaulted = 0;
    for (const object of objects) {
      for (const [name, property] of Object.entries(object.properties)) {
        const hasDefault = typeof property === 'object' && property !== null && 'default' in property;
        if (hasDefault) defaulted += 1;
        const required = hasDefault || object.required?.includes(name) === true;
        expect(block, name).toMatch(new RegExp(`\\n\\s+${name}${required ? '' : '\\?'}: `));
      }
    }
    // Counted by hand: objectsPerShard, maxConcurrentJobs, transform, results, queries; networkIsolation;
    // 13 of transform's own fields (every one); DataProcessing's OutputFilter and
    // JoinSource; ModelClientConfig's two; results' table, threshold, storeFeatures.
    expect(defaulted).toBe(5 + 1 + 13 + 2 + 2 + 3);
  });

  it('types a resolved run request with every property that has a default in the schema set, and only those', () => {
    expectTypeOf<ResolvedRunRequest['objectsPerShard']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedRunRequest['queries']>().toEqualTypeOf<string[]>();
    expectTypeOf<ResolvedRunRequest['runId']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ResolvedRunRequest['models'][number]['networkIsolation']>().toEqualTypeOf<boolean>();
    expectTypeOf<ResolvedRunRequest['models'][number]['modelName']>().toEqualTypeOf<string | undefined>();
    type Transform = ResolvedRunRequest['transform'];
    expectTypeOf<Transform['MaxPayloadInMB']>().toEqualTypeOf<number>();
    expectTypeOf<Transform['SplitType']>().toEqualTypeOf<'None' | 'Line' | 'RecordIO' | 'TFRecord'>();
    expectTypeOf<Transform['ModelClientConfig']>().toEqualTypeOf<{
      InvocationsTimeoutInSeconds: number;
      InvocationsMaxRetries: number;
    }>();
    expectTypeOf<Transform['DataProcessing']>().toEqualTypeOf<{
      InputFilter?: string;
      OutputFilter: string;
      JoinSource: 'Input' | 'None';
    }>();
    expectTypeOf<ResolvedRunRequest['results']['threshold']>().toEqualTypeOf<number>();
    expectTypeOf<ResolvedRunRequest['results']['labels']>().toEqualTypeOf<string[] | undefined>();
    // The same property list as the request's: nothing added, nothing lost.
    expectTypeOf<keyof ResolvedRunRequest>().toEqualTypeOf<keyof RunRequest>();
    expectTypeOf<keyof Transform>().toEqualTypeOf<keyof NonNullable<RunRequest['transform']>>();
  });

  it('is where every type of a schema comes from: no hand-kept copy of one is declared in src/ or handlers/', () => {
    const generated = [
      ...readFileSync(SCHEMA_TYPES_FILE, 'utf8').matchAll(/^export (?:interface|type) (\w+)/gm),
    ].map((m) => m[1] ?? '');
    expect(generated).toEqual(
      expect.arrayContaining([
        'RunPlan',
        'CreateModelRequest',
        'ParseJobEvent',
        'MapJobResult',
        'RecordFailureEvent',
      ]),
    );
    const sources = (dir: string): string[] =>
      readdirSync(join(import.meta.dirname, '../..', dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts') && !file.startsWith('generated'))
        .map((file) => join(import.meta.dirname, '../..', dir, file));
    const names = generated.join('|');
    const declared = new RegExp(
      `^\\s*(?:export\\s+)?(?:interface\\s+(?:${names})\\b|type\\s+(?:${names})\\s*=(?!\\s*Generated))`,
      'gm',
    );
    const copies: string[] = [];
    for (const file of [...sources('src'), ...sources('handlers')]) {
      for (const match of readFileSync(file, 'utf8').matchAll(declared)) copies.push(`${file}: ${match[0]}`);
    }
    expect(copies).toEqual([]);
  });
});
