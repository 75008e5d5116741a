import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchemaValidationError } from '../../src/errors.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { createBuildManifestHandler } from '../../src/steps/build-manifest.js';
import { createRecordFailureHandler } from '../../src/steps/record-failure.js';
import { listFilesUnder } from '../helpers/records.js';

/**
 * The Lambda handlers called directly, as Lambda calls them (event, context), middleware included,
 * over a local store: what a state gets back, and what it leaves on disk.
 */
const context = {} as Context;

describe('Lambda handlers called directly', () => {
  let root: string;
  let store: FileObjectStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'handlers-'));
    store = new FileObjectStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('BuildManifest', () => {
    const handler = () =>
      createBuildManifestHandler(() => ({
        store,
        settings: {
          bucket: 'out-bucket',
          database: 'db',
          sagemakerRoleArn: 'arn:aws:iam::123456789012:role/sm',
        },
        modelExists: async () => true,
      }));

    it('refuses an event whose request fails the run-request schema, writing nothing', async () => {
      await store.put('s3://in-bucket/incoming/a.csv', '1,2\n');
      const error = await handler()(
        {
          request: {
            input: 's3://in-bucket/incoming/a.csv',
            models: [{ variant: 'Bad Variant', modelName: 'm' }],
          },
          executionName: 'exec-1',
          executionStartTime: '2026-11-21T10:00:00.000Z',
        },
        context,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaValidationError);
      expect((error as Error).message).toMatch(
        /^Invalid BuildManifest event: \/request\/models\/0\/variant /,
      );
      expect(await listFilesUnder(join(root, 'out-bucket'))).toEqual([]);
    });

    it("plans a model to create as SageMaker's CreateModel request, and refuses to return one SageMaker would refuse", async () => {
      await store.put('s3://in-bucket/incoming/a.csv', '1,2\n');
      const event = {
        request: {
          runId: 'r1',
          input: 's3://in-bucket/incoming/a.csv',
          models: [{ variant: 'a', image: 'img:1', modelDataUrl: 's3://models/a/model.tar.gz' }],
        },
        executionName: 'exec-1',
        executionStartTime: '2026-11-21T10:00:00.000Z',
      };
      const planWith = (sagemakerRoleArn: string) =>
        createBuildManifestHandler(() => ({
          store,
          settings: { bucket: 'out-bucket', database: 'db', sagemakerRoleArn },
          modelExists: async () => false,
        }))(event, context);
      const plan = await planWith('arn:aws:iam::123456789012:role/sm');
      // Written by hand from the CreateModel API reference: the fields this product sends.
      expect(plan.modelsToCreate).toEqual([
        {
          ModelName: expect.stringMatching(/^bt-a-[0-9a-f]{16}$/),
          ExecutionRoleArn: 'arn:aws:iam::123456789012:role/sm',
          PrimaryContainer: { Image: 'img:1', ModelDataUrl: 's3://models/a/model.tar.gz', Environment: {} },
          EnableNetworkIsolation: true,
          Tags: [
            { Key: 'pipeline-created-by-run', Value: 'r1' },
            { Key: 'pipeline-variant', Value: 'a' },
          ],
        },
      ]);
      // A role SageMaker's RoleArn pattern refuses: the plan fails BuildManifest's output validation.
      await expect(planWith('sm-role')).rejects.toThrow(
        /^Invalid run plan: \/modelsToCreate\/0\/ExecutionRoleArn must NOT have fewer than 20 characters; \/modelsToCreate\/0\/ExecutionRoleArn must match pattern/,
      );
    });

    it('plans a valid request and returns a plan that the run-plan schema accepts', async () => {
      await store.put('s3://in-bucket/incoming/a.csv', '1,2\n3,4\n');
      const plan = await handler()(
        {
          request: {
            runId: 'r1',
            input: 's3://in-bucket/incoming/a.csv',
            models: [{ variant: 'a', modelName: 'm' }],
          },
          executionName: 'exec-1',
          executionStartTime: '2026-11-21T10:00:00.000Z',
        },
        context,
      );
      expect(plan.runId).toBe('r1');
      expect(plan.runDate).toBe('2026-11-21');
      // The jobs are in S3 (the plan in the state is a pointer): one job, for model m.
      expect(plan.jobList.jobs).toBe(1);
      const jobs = JSON.parse(
        Buffer.from(await store.getBytes(`s3://${plan.jobList.bucket}/${plan.jobList.key}`)).toString('utf8'),
      ) as { transformRequest: { ModelName: string } }[];
      expect(jobs).toHaveLength(1);
      expect(jobs[0]?.transformRequest.ModelName).toBe('m');
    });
  });

  describe('RecordFailure', () => {
    const handler = () =>
      createRecordFailureHandler(() => ({
        store,
        bucket: 'out-bucket',
        now: () => new Date('2026-11-21T10:05:00.000Z'),
      }));

    it("writes runs/<runId>/failure.json with the Lambda error's own message", async () => {
      const cause = JSON.stringify({
        errorType: 'InvalidInputError',
        errorMessage: 's3://in-bucket/incoming/a.csv line 3: not a number',
        trace: [],
      });
      const record = await handler()(
        {
          executionName: 'exec-9',
          state: {
            runId: 'nightly',
            failedState: 'RunTransforms',
            failure: { Error: 'InvalidInputError', Cause: cause },
          },
        },
        context,
      );
      const written = JSON.parse(
        Buffer.from(await store.getBytes('s3://out-bucket/runs/nightly/failure.json')).toString('utf8'),
      );
      expect(written).toEqual({
        runId: 'nightly',
        executionName: 'exec-9',
        failedState: 'RunTransforms',
        error: 'InvalidInputError',
        message: 's3://in-bucket/incoming/a.csv line 3: not a number',
        cause,
        recordedAt: '2026-11-21T10:05:00.000Z',
        uri: 's3://out-bucket/runs/nightly/failure.json',
        // Nothing of the run id was published before: the failure report is the run's report.
        reportUri: 's3://out-bucket/runs/nightly/report.html',
        // The failed attempt (first 12 hex digits of SHA-256 of "exec-9") had no files: nothing to delete.
        attempt: { attemptId: '80281c3aa391', files: 'cleaned', deletedObjects: 0 },
      });
      expect(record).toEqual(written);
    });

    it("writes failure-report.html beside a published run's report.html and summary.json, leaving them as they were", async () => {
      const location = 's3://out-bucket/results/predictions/run_date=2026-11-20/run_id=nightly/variant=a/';
      const summary = JSON.stringify({
        runId: 'nightly',
        partitions: [{ location: `${location}attempt=0123456789ab/` }],
      });
      await store.put('s3://out-bucket/runs/nightly/summary.json', summary);
      await store.put('s3://out-bucket/runs/nightly/report.html', '<p>the published report</p>');
      const record = await handler()(
        {
          executionName: 'exec-10',
          state: {
            runId: 'nightly',
            failedState: 'RunTransforms',
            failure: { Error: 'E', Cause: 'bad row' },
          },
        },
        context,
      );
      expect(record).toMatchObject({
        reportUri: 's3://out-bucket/runs/nightly/failure-report.html',
        publishedReportUri: 's3://out-bucket/runs/nightly/report.html',
      });
      const text = async (uri: string) => Buffer.from(await store.getBytes(uri)).toString('utf8');
      expect(await text('s3://out-bucket/runs/nightly/report.html')).toBe('<p>the published report</p>');
      expect(await text('s3://out-bucket/runs/nightly/summary.json')).toBe(summary);
      expect(await text('s3://out-bucket/runs/nightly/failure-report.html')).toContain('bad row');
    });

    it('refuses an event without the failure the Catch puts there', async () => {
      // @ts-expect-error the event's type (generated from its schema) requires state.failure too
      await expect(handler()({ executionName: 'exec-9', state: {} }, context)).rejects.toThrow(
        "Invalid RecordFailure event: /state must have required property 'failure'",
      );
      expect(await listFilesUnder(join(root, 'out-bucket'))).toEqual([]);
    });
  });
});
