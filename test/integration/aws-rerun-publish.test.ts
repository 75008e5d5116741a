/**
 * "Nothing already published is lost", on AWS: run `nightly` is published through the steps the
 * Lambdas run (src/steps, over S3ObjectStore, GlueCatalog and AthenaQueryEngine on the real SDK clients,
 * against moto_server), then the same run id is run again and fails where the state machine's Catch can
 * send it to RecordFailure: in RunTransforms (one job parsed, the other failed), in RunQueries before
 * it wrote anything (Athena refusing), in RunQueries after it wrote the report (the summary's write
 * refused), and in RunQueries after it wrote both (the Lambda timed out before the commit). After each,
 * read back through moto with the test's own clients: Glue's partitions of the run (both tables) are
 * the published ones, every published S3 object is there byte for byte (report.html and summary.json
 * too), the failure is recorded beside them (failure.json, failure-report.html), and nothing of the
 * failed attempt lies in the partitions' locations. And a first run of another id (nothing published
 * before) timing out in RunQueries after it wrote its report and summary leaves neither: only its
 * failure, as report.html and failure.json, with no partition and no result object.
 *
 * The handlers' AWS wiring itself (bundles, env, endpoint override) is covered by lambda-bundles.test.ts;
 * this file is about what a failed re-run leaves, and stays fast (no packaging).
 */
import { fileURLToPath } from 'node:url';
import { AthenaClient, CreateWorkGroupCommand } from '@aws-sdk/client-athena';
import { CreateDatabaseCommand, GetPartitionsCommand, GlueClient } from '@aws-sdk/client-glue';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AthenaQueryEngine } from '../../src/aws/athena-query-engine.js';
import { GlueCatalog } from '../../src/aws/glue-catalog.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import type { FailureRecord } from '../../src/core/record-failure.js';
import { attemptIdFor } from '../../src/core/run-attempt.js';
import { summarizeRun } from '../../src/core/summarize-run.js';
import type { ObjectStore } from '../../src/ports.js';
import { createQueryLoader } from '../../src/query-files.js';
import { createBuildManifestHandler } from '../../src/steps/build-manifest.js';
import { createParseResultsHandler } from '../../src/steps/parse-results.js';
import { createRecordFailureHandler } from '../../src/steps/record-failure.js';
import { createRegisterTableHandler } from '../../src/steps/register-table.js';
import { createRunQueriesHandler } from '../../src/steps/run-queries.js';
import { MOTO_CREDENTIALS, type Moto, startMoto, uniqueName } from '../helpers/moto.js';

// A region of its own: moto keeps one Athena result queue per region (aws-athena.test.ts fills
// another's), and answers every query here with an empty result.
const REGION = 'eu-west-3';
const RUN_ID = 'nightly';
const context = {} as Context;

let moto: Moto;
let s3: S3Client;
let glue: GlueClient;
let athena: AthenaClient;
let bucket: string;
let database: string;
let workGroup: string;

beforeAll(async () => {
  moto = await startMoto();
  const config = { endpoint: moto.endpoint, region: REGION, credentials: MOTO_CREDENTIALS };
  s3 = new S3Client({ ...config, forcePathStyle: true });
  glue = new GlueClient(config);
  athena = new AthenaClient(config);
  bucket = uniqueName('rerun');
  database = uniqueName('rerun_db').replaceAll('-', '_');
  workGroup = uniqueName('rerun-wg');
  await s3.send(
    new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
  await athena.send(
    new CreateWorkGroupCommand({
      Name: workGroup,
      Configuration: { ResultConfiguration: { OutputLocation: `s3://${bucket}/athena-results/` } },
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const client of [s3, glue, athena]) client?.destroy();
  await moto?.stop();
});

/** What the SDK's middleware stack is given, reduced to what {@link refusing} reads. */
type Middleware = (
  next: (args: { input: unknown }) => Promise<unknown>,
  context: { commandName?: string },
) => (args: { input: unknown }) => Promise<unknown>;

/** A client of the same service, refusing the calls `refuse` picks as AWS would (name, HTTP status). */
function refusing<T extends S3Client | AthenaClient>(
  client: T,
  refuse: (command: string, input: Record<string, unknown>) => { name: string; status: number } | undefined,
): T {
  const middleware: Middleware = (next, context) => async (args) => {
    const refusal = refuse(String(context.commandName), args.input as Record<string, unknown>);
    if (refusal) {
      throw Object.assign(new Error(`${refusal.name} from the test on ${String(context.commandName)}`), {
        name: refusal.name,
        $fault: 'client',
        $metadata: { httpStatusCode: refusal.status },
      });
    }
    return next(args);
  };
  (
    client.middlewareStack as unknown as {
      add(middleware: Middleware, options: { step: 'initialize'; name: string }): void;
    }
  ).add(middleware, { step: 'initialize', name: 'refuseSomeCalls' });
  return client;
}

/** Athena as the RunQueries Lambda has it, polling moto (which answers at once) every 10 ms. */
const athenaEngine = (client: AthenaClient) =>
  new AthenaQueryEngine(client, { workGroup, database, initialPollIntervalMs: 10, maxPollIntervalMs: 10 });

const clientConfig = () => ({ endpoint: moto.endpoint, region: REGION, credentials: MOTO_CREDENTIALS });

/** The step handlers as the Lambdas wire them (handlers/*.ts), over the given store and Athena client. */
function steps(options: { store?: ObjectStore; athena?: AthenaClient } = {}) {
  const store = options.store ?? new S3ObjectStore(s3);
  const catalog = new GlueCatalog(glue);
  return {
    buildManifest: createBuildManifestHandler(() => ({
      store,
      settings: {
        bucket,
        database,
        sagemakerRoleArn: 'arn:aws:iam::123456789012:role/sagemaker-execution',
        inputPrefixUri: `s3://${bucket}/incoming/`,
        imageRepositories: [],
      },
      modelExists: async () => true,
    })),
    parseResults: createParseResultsHandler(() => ({ store })),
    registerTable: createRegisterTableHandler(() => ({ catalog, store })),
    runQueries: createRunQueriesHandler(() => ({
      store,
      queryEngine: athenaEngine(options.athena ?? athena),
      loadQuery: createQueryLoader(fileURLToPath(new URL('../../queries/', import.meta.url))),
    })),
    recordFailure: createRecordFailureHandler(() => ({
      store,
      bucket,
      catalog,
      now: () => new Date('2026-12-01T03:00:00.000Z'),
    })),
  };
}

interface Job {
  variant: string;
  shardId: string;
  jobResultUri: string;
  parseRequest: unknown;
  transformRequest: { TransformJobName: string; TransformOutput: { S3OutputPath: string } };
}

type Plan = Awaited<ReturnType<ReturnType<typeof steps>['buildManifest']>>;

/** What each variant's model answers for a.csv's two rows and b.csv's one (CSV out, one score a line). */
const SCORES: Record<string, Record<string, string>> = {
  a: { 'a.csv': '0.25\n0.75\n', 'b.csv': '0.5\n' },
  b: { 'a.csv': '0.125\n0.875\n', 'b.csv': '0.625\n' },
};

async function text(key: string): Promise<string> {
  const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await output.Body?.transformToString()) ?? '';
}

async function bytesOf(key: string): Promise<Buffer> {
  const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await output.Body?.transformToByteArray()) ?? new Uint8Array());
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** The run's partitions as Glue lists them: values and the whole storage descriptor, in value order. */
async function partitionsOf(table: string, runId = RUN_ID) {
  const output = await glue.send(new GetPartitionsCommand({ DatabaseName: database, TableName: table }));
  return (output.Partitions ?? [])
    .filter((p) => p.Values?.[1] === runId)
    .map((p) => ({ values: p.Values, storage: p.StorageDescriptor }))
    .sort((x, y) => String(x.values).localeCompare(String(y.values)));
}

/** BuildManifest, then for each planned job the transform's `.out` objects (as SageMaker writes them). */
async function plan(
  executionName: string,
  run = steps(),
  runId = RUN_ID,
): Promise<{ plan: Plan; jobs: Job[] }> {
  const planned = await run.buildManifest(
    {
      request: {
        runId,
        input: `s3://${bucket}/incoming/nightly/`,
        models: [
          { variant: 'a', modelName: 'churn-a' },
          { variant: 'b', modelName: 'churn-b' },
        ],
        results: { table: 'predictions', threshold: 0.5 },
      },
      executionName,
      executionStartTime: '2026-12-01T02:00:00.000Z',
    },
    context,
  );
  const jobs = JSON.parse(await text(planned.jobList.key)) as Job[];
  expect(jobs.map((j) => j.variant).sort()).toEqual(['a', 'b']);
  return { plan: planned, jobs };
}

/** SageMaker's output for one job, then ParseResults with the `.sync` task's result (as the Map runs it). */
async function transformAndParse(job: Job, run = steps()): Promise<void> {
  const output = job.transformRequest.TransformOutput.S3OutputPath.replace(`s3://${bucket}/`, '');
  for (const [name, body] of Object.entries(SCORES[job.variant] ?? {})) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${output}${name}.out`, Body: body }));
  }
  await run.parseResults(
    {
      request: job.parseRequest,
      transformJob: {
        TransformJobName: job.transformRequest.TransformJobName,
        TransformJobStatus: 'Completed',
        TransformStartTime: 1_796_090_400_000,
        TransformEndTime: 1_796_090_700_000,
      },
      variant: job.variant,
      shardId: job.shardId,
      jobResultUri: job.jobResultUri,
    } as Parameters<ReturnType<typeof steps>['parseResults']>[0],
    context,
  );
}

/** RegisterTable with the plan's fields, as the ASL's Parameters pass them. */
async function register(planned: Plan, run = steps()) {
  return run.registerTable(
    {
      table: planned.table,
      runId: planned.runId,
      runDate: planned.runDate,
      runPrefix: planned.runPrefix,
      attemptId: planned.attemptId,
      jobList: planned.jobList,
    },
    context,
  );
}

/** RunQueries' event, as the ASL builds it after RegisterTable. */
function runQueriesEvent(planned: Plan, executionName: string, registered: unknown) {
  return {
    runId: planned.runId,
    runDate: planned.runDate,
    runPrefix: planned.runPrefix,
    executionName,
    executionStartTime: '2026-12-01T02:00:00.000Z',
    table: planned.table,
    queries: ['summary'],
    jobList: planned.jobList,
    registered,
  } as Parameters<ReturnType<typeof steps>['runQueries']>[0];
}

/**
 * Runs RunQueries on a store whose write of the commit marker never ends, and resolves once it got
 * there: its report and summary are written, and the Lambda is stopped at its timeout (Step Functions'
 * Catch, States.ALL, takes Sandbox.Timedout and runs RecordFailure).
 */
async function runQueriesUntilTimeout(planned: Plan, executionName: string, registered: unknown) {
  const real = new S3ObjectStore(s3);
  let reachedCommit: () => void = () => undefined;
  const atCommit = new Promise<void>((resolve) => {
    reachedCommit = resolve;
  });
  const hanging: ObjectStore = Object.assign(Object.create(real) as ObjectStore, {
    put: (uri: string, body: string | Uint8Array, options?: Parameters<ObjectStore['put']>[2]) => {
      if (uri.endsWith('/published.json')) {
        reachedCommit();
        return new Promise<void>(() => undefined);
      }
      return real.put(uri, body, options);
    },
  });
  void summarizeRun(runQueriesEvent(planned, executionName, registered), {
    store: hanging,
    queryEngine: athenaEngine(athena),
    loadQuery: createQueryLoader(fileURLToPath(new URL('../../queries/', import.meta.url))),
  });
  await atCommit;
}

/** RecordFailure with the state at the Catch: the plan's fields, what the steps added, failedState, failure. */
async function recordFailure(
  executionName: string,
  state: object,
  failedState: string,
  failure: { Error: string; Cause: string },
): Promise<FailureRecord> {
  return steps().recordFailure({ executionName, state: { ...state, failedState, failure } }, context);
}

/** Everything of the published run a reader sees or a later step needs, read back from moto. */
interface Published {
  predictions: Awaited<ReturnType<typeof partitionsOf>>;
  stats: Awaited<ReturnType<typeof partitionsOf>>;
  /** Every object under results/ (both tables), key → bytes. */
  results: Map<string, Buffer>;
  report: Buffer;
  summary: Buffer;
}

async function readPublished(): Promise<Published> {
  const results = new Map<string, Buffer>();
  for (const key of await keysUnder('results/')) results.set(key, await bytesOf(key));
  return {
    predictions: await partitionsOf('predictions'),
    stats: await partitionsOf('predictions_stats'),
    results,
    report: await bytesOf(`runs/${RUN_ID}/report.html`),
    summary: await bytesOf(`runs/${RUN_ID}/summary.json`),
  };
}

/**
 * The published run is as it was: same partitions (values and storage descriptor) in both tables, every
 * result object byte for byte, the same report.html and summary.json; and each partition location holds
 * exactly the published objects (no row of the failed attempt is read by a query), nor is any object of
 * the failed attempt left under results/.
 */
async function expectPublishedIntact(published: Published, failedAttempt: string): Promise<void> {
  expect(await partitionsOf('predictions')).toEqual(published.predictions);
  expect(await partitionsOf('predictions_stats')).toEqual(published.stats);
  for (const [key, body] of published.results) expect(await bytesOf(key), key).toEqual(body);
  expect((await bytesOf(`runs/${RUN_ID}/report.html`)).toString()).toBe(published.report.toString());
  expect((await bytesOf(`runs/${RUN_ID}/summary.json`)).toString()).toBe(published.summary.toString());
  for (const partition of [...published.predictions, ...published.stats]) {
    const location = partition.storage?.Location ?? '';
    const prefix = location.replace(`s3://${bucket}/`, '');
    expect(await keysUnder(prefix)).toEqual(
      [...published.results.keys()].filter((k) => k.startsWith(prefix)),
    );
  }
  expect((await keysUnder('results/')).filter((k) => k.includes(`attempt=${failedAttempt}/`))).toEqual([]);
  expect(await keysUnder(`runs/${RUN_ID}/attempts/${failedAttempt}/`)).toEqual([]);
}

/** failure.json and failure-report.html beside the published report, naming it. */
async function expectFailureBeside(record: FailureRecord, executionName: string, message: string) {
  expect(record).toMatchObject({
    runId: RUN_ID,
    executionName,
    message: expect.stringContaining(message),
    uri: `s3://${bucket}/runs/${RUN_ID}/failure.json`,
    reportUri: `s3://${bucket}/runs/${RUN_ID}/failure-report.html`,
    publishedReportUri: `s3://${bucket}/runs/${RUN_ID}/report.html`,
    attempt: { attemptId: attemptIdFor(executionName), files: 'cleaned' },
  });
  expect(JSON.parse(await text(`runs/${RUN_ID}/failure.json`))).toEqual(record);
  const failureReport = await text(`runs/${RUN_ID}/failure-report.html`);
  expect(failureReport).toContain(executionName);
  expect(failureReport).toContain(message);
}

describe('a failed re-run of a published run on AWS (S3, Glue, Athena on moto)', () => {
  let published: Published;
  let publishedAttempt: string;

  beforeAll(async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'incoming/nightly/a.csv', Body: '1,2\n3,4\n' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'incoming/nightly/b.csv', Body: '5,6\n' }));
    const run = steps();
    const { plan: planned, jobs } = await plan('nightly-1', run);
    for (const job of jobs) await transformAndParse(job, run);
    const registered = await register(planned, run);
    const summary = await run.runQueries(runQueriesEvent(planned, 'nightly-1', registered), context);
    expect(summary).toMatchObject({ status: 'SUCCEEDED', recordsIn: 6, recordsOut: 6 });
    publishedAttempt = planned.attemptId;
    published = await readPublished();
  }, 60_000);

  it('publishes the first run: both variants in both tables at its attempt, with its report and summary', () => {
    expect(published.predictions.map((p) => [p.values, p.storage?.Location])).toEqual(
      ['a', 'b'].map((variant) => [
        ['2026-12-01', RUN_ID, variant],
        `s3://${bucket}/results/predictions/run_date=2026-12-01/run_id=${RUN_ID}/variant=${variant}/attempt=${publishedAttempt}/`,
      ]),
    );
    expect(published.stats).toHaveLength(2);
    expect([...published.results.keys()].length).toBeGreaterThanOrEqual(4);
    expect(JSON.parse(published.summary.toString())).toMatchObject({ runId: RUN_ID, recordsOut: 6 });
    expect(published.report.toString()).toContain(RUN_ID);
  });

  it("fails in RunTransforms (variant a parsed, variant b failed): nothing published changes, a's partial rows are gone", async () => {
    const executionName = 'nightly-2';
    const { plan: planned, jobs } = await plan(executionName);
    const [parsed, failed] = [jobs.find((j) => j.variant === 'a'), jobs.find((j) => j.variant === 'b')];
    if (!parsed || !failed) throw new Error('expected jobs for variants a and b');
    await transformAndParse(parsed);
    // The failed attempt's rows exist, in its own folder, before RecordFailure.
    expect(
      (await keysUnder('results/predictions/')).filter((k) => k.includes(`attempt=${planned.attemptId}/`)),
    ).not.toEqual([]);
    // The Distributed Map's ResultWriter files, as Step Functions writes them for a failed child.
    const mapRun = `${planned.jobList.mapRunsKeyPrefix}0f1e2d3c-map-run/`;
    const cause = 'ClientError: See job logs for more information';
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${mapRun}FAILED_0.json`,
        Body: JSON.stringify([
          {
            Status: 'FAILED',
            Error: 'SageMaker.TransformJobFailed',
            Cause: cause,
            Input: JSON.stringify(failed),
          },
        ]),
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${mapRun}manifest.json`,
        Body: JSON.stringify({ ResultFiles: { FAILED: [{ Key: `${mapRun}FAILED_0.json` }] } }),
      }),
    );

    const record = await recordFailure(executionName, planned, 'RunTransforms', {
      Error: 'States.ExceedToleratedFailureThreshold',
      Cause: 'The specified tolerated failure threshold was exceeded',
    });

    await expectFailureBeside(record, executionName, cause);
    expect(record.mapRun).toMatchObject({ variant: 'b' });
    await expectPublishedIntact(published, planned.attemptId);
  });

  it('fails in RunQueries after the switch (Athena refuses the queries): the switch is put back', async () => {
    const executionName = 'nightly-3';
    const { plan: planned, jobs } = await plan(executionName);
    for (const job of jobs) await transformAndParse(job);
    const registered = await register(planned);
    // Switched: the table now reads the re-run's attempt.
    expect((await partitionsOf('predictions')).map((p) => p.storage?.Location)).toEqual(
      ['a', 'b'].map(
        (v) =>
          `s3://${bucket}/results/predictions/run_date=2026-12-01/run_id=${RUN_ID}/variant=${v}/attempt=${planned.attemptId}/`,
      ),
    );
    const refusingAthena = refusing(new AthenaClient(clientConfig()), (command) =>
      command === 'StartQueryExecutionCommand' ? { name: 'InvalidRequestException', status: 400 } : undefined,
    );
    const error = await steps({ athena: refusingAthena })
      .runQueries(runQueriesEvent(planned, executionName, registered), context)
      .catch((e: unknown) => e as Error);
    refusingAthena.destroy();
    expect(error).toBeInstanceOf(Error);

    const record = await recordFailure(executionName, { ...planned, registered }, 'RunQueries', {
      Error: (error as Error).name,
      Cause: JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message }),
    });

    await expectFailureBeside(record, executionName, 'InvalidRequestException from the test');
    expect(record.attempt.catalog).toMatch(/^switched back to the partitions the run had before/);
    await expectPublishedIntact(published, planned.attemptId);
  });

  it("fails in RunQueries after writing the report (the summary's write refused): the published report stays", async () => {
    const executionName = 'nightly-4';
    const { plan: planned, jobs } = await plan(executionName);
    for (const job of jobs) await transformAndParse(job);
    const registered = await register(planned);
    const refusingS3 = refusing(
      new S3Client({ ...clientConfig(), forcePathStyle: true }),
      (command, input) =>
        command === 'PutObjectCommand' && input.Key === `runs/${RUN_ID}/summary.json`
          ? { name: 'AccessDenied', status: 403 }
          : undefined,
    );
    const error = await steps({ store: new S3ObjectStore(refusingS3) })
      .runQueries(runQueriesEvent(planned, executionName, registered), context)
      .catch((e: unknown) => e as Error);
    refusingS3.destroy();
    expect(error).toBeInstanceOf(Error);

    const record = await recordFailure(executionName, { ...planned, registered }, 'RunQueries', {
      Error: (error as Error).name,
      Cause: JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message }),
    });

    await expectFailureBeside(record, executionName, 'AccessDenied');
    expect(record.attempt.catalog).toMatch(/; the run's report.html and summary.json were put back$/);
    await expectPublishedIntact(published, planned.attemptId);
  });

  it('fails in RunQueries after writing report and summary (the Lambda timed out before the commit): both published files stay', async () => {
    const executionName = 'nightly-5';
    const { plan: planned, jobs } = await plan(executionName);
    for (const job of jobs) await transformAndParse(job);
    const registered = await register(planned);
    await runQueriesUntilTimeout(planned, executionName, registered);
    // The re-run's report and summary were written over the published ones before the commit.
    expect(await text(`runs/${RUN_ID}/summary.json`)).toContain(`attempt=${planned.attemptId}/`);

    const record = await recordFailure(executionName, { ...planned, registered }, 'RunQueries', {
      Error: 'Sandbox.Timedout',
      Cause: JSON.stringify({ errorMessage: 'Task timed out after 900.00 seconds' }),
    });

    await expectFailureBeside(record, executionName, 'Task timed out after 900.00 seconds');
    expect(record.attempt.catalog).toMatch(/; the run's report.html and summary.json were put back$/);
    await expectPublishedIntact(published, planned.attemptId);
  });

  it('after the failures, a re-run that succeeds replaces the report and summary and leaves only its own attempt', async () => {
    const executionName = 'nightly-6';
    const run = steps();
    const { plan: planned, jobs } = await plan(executionName, run);
    for (const job of jobs) await transformAndParse(job, run);
    const registered = await register(planned, run);
    await run.runQueries(runQueriesEvent(planned, executionName, registered), context);

    expect((await partitionsOf('predictions')).map((p) => p.storage?.Location)).toEqual(
      ['a', 'b'].map(
        (v) =>
          `s3://${bucket}/results/predictions/run_date=2026-12-01/run_id=${RUN_ID}/variant=${v}/attempt=${planned.attemptId}/`,
      ),
    );
    expect(await text(`runs/${RUN_ID}/summary.json`)).toContain(`attempt=${planned.attemptId}/`);
    expect(await text(`runs/${RUN_ID}/report.html`)).toContain(`attempt=${planned.attemptId}/`);
    const results = await keysUnder('results/');
    expect(results.length).toBe(published.results.size);
    expect(results.every((k) => k.includes(`attempt=${planned.attemptId}/`))).toBe(true);
    // Its scratch only, without the copies of the report and summary it replaced (now final).
    const scratch = await keysUnder(`runs/${RUN_ID}/attempts/`);
    expect(scratch.every((k) => k.startsWith(`runs/${RUN_ID}/attempts/${planned.attemptId}/`))).toBe(true);
    expect(scratch.filter((k) => k.includes('/replaced/'))).toEqual([]);
  });
});

describe('a failed first run on AWS (nothing of the run id published before)', () => {
  const runId = 'fresh';

  it('fails in RunQueries after writing report and summary (the Lambda timed out before the commit): neither stays', async () => {
    const executionName = 'fresh-1';
    const run = steps();
    const { plan: planned, jobs } = await plan(executionName, run, runId);
    for (const job of jobs) await transformAndParse(job, run);
    const registered = await register(planned, run);
    expect(await partitionsOf('predictions', runId)).toHaveLength(2);
    await runQueriesUntilTimeout(planned, executionName, registered);
    expect(await text(`runs/${runId}/summary.json`)).toContain(`attempt=${planned.attemptId}/`);

    const record = await recordFailure(executionName, { ...planned, registered }, 'RunQueries', {
      Error: 'Sandbox.Timedout',
      Cause: JSON.stringify({ errorMessage: 'Task timed out after 900.00 seconds' }),
    });

    // The failure is the run's report; no summary says the run succeeded, no report shows its rows.
    expect(record).toMatchObject({
      runId,
      reportUri: `s3://${bucket}/runs/${runId}/report.html`,
      attempt: {
        attemptId: planned.attemptId,
        files: 'cleaned',
        catalog:
          "the run had no partitions before: the partitions of this attempt were removed; this attempt's report.html and summary.json were removed",
      },
    });
    expect(record.publishedReportUri).toBeUndefined();
    expect(await keysUnder(`runs/${runId}/`)).toEqual(
      ['failure.json', 'plan.json', 'report.html', 'request.json'].map((f) => `runs/${runId}/${f}`),
    );
    const report = await text(`runs/${runId}/report.html`);
    expect(report).toContain('Task timed out after 900.00 seconds');
    expect(report).not.toContain(`attempt=${planned.attemptId}/`);
    expect(await partitionsOf('predictions', runId)).toEqual([]);
    expect(await partitionsOf('predictions_stats', runId)).toEqual([]);
    expect((await keysUnder('results/')).filter((k) => k.includes(`/run_id=${runId}/`))).toEqual([]);
  });
});
