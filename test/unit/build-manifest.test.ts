import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildManifest, type RunPlan, runIdFromExecutionName } from '../../src/core/build-manifest.js';
import { modelNameFor } from '../../src/core/build-manifest-models.js';
import type { JobListItem } from '../../src/core/job-results.js';
import { parseManifest } from '../../src/core/manifest.js';
import type { PipelineSettings, ResultsSettings, RunRequest } from '../../src/core/run-request.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { checkModelArtifact } from '../../src/model-server/xgboost-model.js';

/** The attempt layout's id, written out independently: the first 12 hex digits of SHA-256 of the execution name. */
const attemptOf = (executionName: string) =>
  createHash('sha256').update(executionName).digest('hex').slice(0, 12);

const settings: PipelineSettings = {
  bucket: 'results-bucket',
  database: 'analytics',
  sagemakerRoleArn: 'arn:aws:iam::123456789012:role/sm',
};

describe('buildManifest', () => {
  let root: string;
  let store: FileObjectStore;
  const deps = () => ({ store, settings, modelExists: async () => false });
  /** The planned jobs, from the job list BuildManifest wrote (the plan holds only a pointer). */
  const jobsOf = async (plan: RunPlan): Promise<JobListItem[]> =>
    JSON.parse(
      Buffer.from(await store.getBytes(`s3://${plan.jobList.bucket}/${plan.jobList.key}`)).toString(),
    ) as JobListItem[];
  const event = (request: RunRequest, executionName = 'exec-1') => ({
    request,
    executionName,
    executionStartTime: '2026-11-21T10:00:00.000Z',
  });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'manifest-'));
    store = new FileObjectStore(root);
    for (const name of ['a.csv', 'b.csv', 'c.csv', '_SUCCESS', 'sub/d.csv']) {
      await store.put(`s3://in-bucket/incoming/day1/${name}`, name === '_SUCCESS' ? '' : '1,2\n');
    }
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes one manifest per shard listing every data object under the prefix, skipping markers', async () => {
    const plan = await buildManifest(
      event({
        input: 's3://in-bucket/incoming/day1/',
        objectsPerShard: 3,
        models: [{ variant: 'a', modelName: 'm1' }],
      }),
      deps(),
    );
    expect(plan.inputs).toEqual({ objects: 4, bytes: 16, shards: 2 });
    const manifests = await Promise.all(
      (await jobsOf(plan)).map(async (job) => {
        const uri = job.transformRequest.TransformInput.DataSource.S3DataSource.S3Uri;
        return parseManifest(Buffer.from(await store.getBytes(uri)).toString(), uri);
      }),
    );
    expect(manifests.map((m) => m.objects.map((o) => o.relativeKey))).toEqual([
      ['a.csv', 'b.csv', 'c.csv'],
      ['sub/d.csv'],
    ]);
    expect(manifests[0]?.prefix).toBe('s3://in-bucket/incoming/day1/');
  });

  it('plans one complete transform request per shard and variant, with SageMaker defaults filled in', async () => {
    const plan = await buildManifest(
      event(
        {
          runId: 'nightly-1',
          input: 's3://in-bucket/incoming/day1/a.csv',
          models: [
            { variant: 'champion', modelName: 'xgb-v1' },
            { variant: 'challenger', image: 'img:1', modelDataUrl: 's3://m/model.tar.gz' },
          ],
          transform: { MaxPayloadInMB: 2, SplitType: 'Line' },
        },
        'exec-xyz',
      ),
      deps(),
    );
    expect(await jobsOf(plan)).toHaveLength(2);
    const [champion] = await jobsOf(plan);
    expect(champion?.transformRequest).toMatchObject({
      ModelName: 'xgb-v1',
      BatchStrategy: 'MultiRecord',
      MaxPayloadInMB: 2,
      MaxConcurrentTransforms: 0,
      ModelClientConfig: { InvocationsTimeoutInSeconds: 600, InvocationsMaxRetries: 3 },
      TransformInput: { ContentType: 'text/csv', CompressionType: 'None', SplitType: 'Line' },
      TransformOutput: {
        S3OutputPath: `s3://results-bucket/runs/nightly-1/attempts/${attemptOf('exec-xyz')}/transform/champion/shard-0000/`,
        Accept: 'text/csv',
        AssembleWith: 'Line',
      },
      DataProcessing: { InputFilter: '$', OutputFilter: '$', JoinSource: 'None' },
    });
    expect(champion?.transformRequest.TransformJobName).toBe(
      `nightly-1-champion-0000-${attemptOf('exec-xyz').slice(0, 6)}`,
    );
    expect(champion?.transformRequest.TransformInput.DataSource.S3DataSource.S3Uri).toBe(
      `s3://results-bucket/runs/nightly-1/attempts/${attemptOf('exec-xyz')}/manifests/shard-0000.manifest`,
    );
    expect(plan.modelsToCreate).toEqual([
      expect.objectContaining({
        // sha256 of the model's identity ["img:1","s3://m/model.tar.gz",[]] (image, artifact, sorted
        // environment), first 16 hex digits, computed outside the product with Python's hashlib.
        ModelName: 'bt-challenger-7193ec0fb4d716d2',
        ExecutionRoleArn: settings.sagemakerRoleArn,
        PrimaryContainer: { Image: 'img:1', ModelDataUrl: 's3://m/model.tar.gz', Environment: {} },
      }),
    ]);
    expect((await jobsOf(plan))[1]?.parseRequest).toMatchObject({
      runId: 'nightly-1',
      runDate: '2026-11-21',
      attemptId: attemptOf('exec-xyz'),
      variant: 'challenger',
      results: { table: 'predictions', resultsPrefix: 's3://results-bucket/results/', threshold: 0.5 },
    });
  });

  describe('with model files it can read', () => {
    const XGB = join(import.meta.dirname, '../fixtures/xgboost');
    /** The local pipeline's check: the built-in server's readers on the fixture named by the URL's last folder. */
    const readingDeps = () => ({
      ...deps(),
      checkModelArtifact: (uri: string) =>
        checkModelArtifact(join(XGB, uri.split('/').at(-2) as string, 'model.tar.gz'), uri),
    });
    const request = (model: string, results: Partial<RunRequest['results']> = {}): RunRequest => ({
      input: 's3://in-bucket/incoming/day1/a.csv',
      models: [{ variant: 'v', image: 'builtin:xgboost', modelDataUrl: `s3://m/${model}/model.tar.gz` }],
      ...(Object.keys(results).length > 0 ? { results: results as RunRequest['results'] } : {}),
    });

    it("refuses the request's labels when they do not fit the model file, naming both", async () => {
      await expect(
        buildManifest(event(request('gbtree-multi-softprob', { labels: ['a', 'b'] })), readingDeps()),
      ).rejects.toThrow(
        'results.labels a,b: s3://m/gbtree-multi-softprob/model.tar.gz is a 3-class model (multi:softprob): give 3 labels, got 2',
      );
      await expect(
        buildManifest(event(request('gbtree-reg-squarederror', { labels: ['a', 'b'] })), readingDeps()),
      ).rejects.toThrow(
        /is a regression model \(reg:squarederror\), not a classifier: .*drop results.labels/,
      );
    });

    it("gives ParseResults a logitraw model's threshold on its margin scale, other models' as it is", async () => {
      const thresholdOf = async (model: string, threshold?: number) => {
        const plan = await buildManifest(
          event(request(model, threshold === undefined ? {} : { threshold })),
          readingDeps(),
        );
        return (await jobsOf(plan))[0]?.parseRequest.results.threshold;
      };
      expect(await thresholdOf('gbtree-binary-logitraw')).toBe(0);
      expect(await thresholdOf('gbtree-binary-logitraw', 0.7)).toBeCloseTo(Math.log(0.7 / 0.3), 12);
      expect(await thresholdOf('gbtree-binary-logistic', 0.7)).toBe(0.7);
    });

    it("saves each model's objective with the request as run, for the report to word its score by", async () => {
      const plan = await buildManifest(event(request('gbtree-binary-logitraw')), readingDeps());
      const saved = JSON.parse(
        Buffer.from(await store.getBytes(`${plan.runPrefix}request.json`)).toString(),
      ) as RunRequest;
      expect(saved.models).toEqual([expect.objectContaining({ variant: 'v', objective: 'binary:logitraw' })]);
    });

    it('refuses an objective the request gives that the model file contradicts, naming both', async () => {
      const given = request('gbtree-binary-logitraw');
      given.models = given.models.map((m) => ({ ...m, objective: 'binary:logistic' }));
      await expect(buildManifest(event(given), readingDeps())).rejects.toThrow(
        'models[0] (variant "v"): objective binary:logistic, but its model file s3://m/gbtree-binary-logitraw/model.tar.gz is binary:logitraw: correct the objective or leave it out',
      );
    });
  });

  it('takes the objective a request gives for a model it cannot read: kept for the report, a logitraw threshold on its margin scale', async () => {
    const plan = await buildManifest(
      event({
        input: 's3://in-bucket/incoming/day1/a.csv',
        models: [
          { variant: 'raw', modelName: 'm1', objective: 'binary:logitraw' },
          { variant: 'other', modelName: 'm2' },
        ],
        results: { threshold: 0.7 } as RunRequest['results'],
      }),
      deps(),
    );
    const thresholds = (await jobsOf(plan)).map((j) => [j.variant, j.parseRequest.results.threshold]);
    expect(thresholds).toEqual([
      ['raw', expect.closeTo(Math.log(0.7 / 0.3), 12)],
      ['other', 0.7],
    ]);
    const saved = JSON.parse(
      Buffer.from(await store.getBytes(`${plan.runPrefix}request.json`)).toString(),
    ) as RunRequest;
    expect(saved.models.map((m) => m.objective)).toEqual(['binary:logitraw', undefined]);
  });

  describe('modelNameFor', () => {
    const base = { variant: 'v', image: 'img:1', modelDataUrl: 's3://m/model.tar.gz' };

    it('names a created model by the hash of its image, artifact and environment', () => {
      // Expected from Python: hashlib.sha256(b'["img:1","s3://m/model.tar.gz",[["A","1"],["B","2"]]]').
      expect(modelNameFor({ ...base, environment: { B: '2', A: '1' } })).toBe('bt-v-ca9b7111f3dd3a1d');
    });

    it('gives a different name when only the environment differs, and the same one whatever its key order', () => {
      const environments: Record<string, string>[] = [
        {},
        { A: '1' },
        { A: '2' },
        { B: '1' },
        { A: '1', B: '2' },
      ];
      const names = environments.map((environment) => modelNameFor({ ...base, environment }));
      expect(new Set(names).size).toBe(names.length);
      expect(modelNameFor({ ...base, environment: { A: '1', B: '2' } })).toBe(
        modelNameFor({ ...base, environment: { B: '2', A: '1' } }),
      );
    });

    it('uses an existing model by its own name', () => {
      expect(modelNameFor({ variant: 'v', modelName: 'xgb-churn-v7' })).toBe('xgb-churn-v7');
    });
  });

  it('creates models without network access unless the variant opts out, as different models', async () => {
    const plan = await buildManifest(
      event({
        input: 's3://in-bucket/incoming/day1/',
        models: [
          { variant: 'a', image: 'i', modelDataUrl: 's3://m/x' },
          { variant: 'a2', image: 'i', modelDataUrl: 's3://m/x', networkIsolation: false },
        ],
      }),
      deps(),
    );
    expect(plan.modelsToCreate.map((m) => m.EnableNetworkIsolation)).toEqual([true, false]);
    // The same artifact with and without isolation must not share a content-hashed name.
    const [isolated, open] = plan.modelsToCreate.map((m) => m.ModelName.replace(/^bt-a2?-/, ''));
    expect(isolated).not.toBe(open);
  });

  it('does not create a model that exists already', async () => {
    const plan = await buildManifest(
      event({
        input: 's3://in-bucket/incoming/day1/',
        models: [{ variant: 'a', image: 'i', modelDataUrl: 's3://m/x' }],
      }),
      { store, settings, modelExists: async () => true },
    );
    expect(plan.modelsToCreate).toEqual([]);
  });

  it('keeps the first attempt run date and deletes nothing published when a run id is re-run', async () => {
    const request: RunRequest = {
      runId: 'again',
      input: 's3://in-bucket/incoming/day1/',
      models: [{ variant: 'a', modelName: 'm' }],
    };
    await buildManifest(event(request), deps());
    const published = `s3://results-bucket/results/predictions/run_date=2026-11-21/run_id=again/variant=a/attempt=${attemptOf('exec-1')}/part-0000.json`;
    const legacy =
      's3://results-bucket/results/predictions/run_date=2026-11-21/run_id=again/variant=a/part-0009.json';
    await store.put(published, '{}\n');
    await store.put(legacy, '{}\n');
    // exec-1 reached RegisterTable's switch: it may be the published attempt.
    await store.put(`s3://results-bucket/runs/again/attempts/${attemptOf('exec-1')}/registering.json`, '{}');
    const rerun = await buildManifest(
      { ...event(request, 'exec-2'), executionStartTime: '2026-11-25T00:00:00Z' },
      deps(),
    );
    expect(rerun.runDate).toBe('2026-11-21');
    expect(rerun.attemptId).toBe(attemptOf('exec-2'));
    expect(await store.head(published)).toBeDefined();
    expect(await store.head(legacy)).toBeDefined();
  });

  it('deletes the files of an earlier attempt that never reached the switch, and only those', async () => {
    const request: RunRequest = {
      runId: 'again',
      input: 's3://in-bucket/incoming/day1/',
      models: [{ variant: 'a', modelName: 'm' }],
    };
    await buildManifest(event(request, 'killed'), deps());
    const killed = attemptOf('killed');
    const orphan = `s3://results-bucket/results/predictions/run_date=2026-11-21/run_id=again/variant=a/attempt=${killed}/part-0000.json`;
    const out = `s3://results-bucket/runs/again/attempts/${killed}/transform/a/shard-0000/a.csv.out`;
    await store.put(orphan, '{}\n');
    await store.put(out, '1\n');
    const published = `s3://results-bucket/results/predictions/run_date=2026-11-21/run_id=again/variant=a/attempt=${attemptOf('ok')}/part-0000.json`;
    await store.put(published, '{}\n');
    await store.put(`s3://results-bucket/runs/again/attempts/${attemptOf('ok')}/registering.json`, '{}');

    await buildManifest(event(request, 'exec-3'), deps());
    expect(await store.head(orphan)).toBeUndefined();
    expect(await store.head(out)).toBeUndefined();
    const left: string[] = [];
    for await (const o of store.list(`s3://results-bucket/runs/again/attempts/${killed}/`)) left.push(o.uri);
    expect(left).toEqual([]);
    expect(await store.head(published)).toBeDefined();
  });

  it('fails naming the prefix when no data objects match', async () => {
    await expect(
      buildManifest(
        event({
          input: 's3://in-bucket/incoming/day1/',
          inputSuffixes: ['.parquet'],
          models: [{ variant: 'a', modelName: 'm' }],
        }),
        deps(),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: 'No input objects ending in .parquet under s3://in-bucket/incoming/day1/',
    });
  });

  it('fails naming the object when an input object is empty', async () => {
    await store.put('s3://in-bucket/incoming/day2/empty.csv', '');
    await expect(
      buildManifest(
        event({ input: 's3://in-bucket/incoming/day2/', models: [{ variant: 'a', modelName: 'm' }] }),
        deps(),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: 'Input object is empty (0 bytes): s3://in-bucket/incoming/day2/empty.csv',
    });
  });

  it('fails before writing anything when one input is the output folder of another (a.csv and a.csv.out/b.csv)', async () => {
    await store.put('s3://in-bucket/incoming/day3/a.csv', '1,2\n');
    await store.put('s3://in-bucket/incoming/day3/a.csv.out/b.csv', '3,4\n');
    await expect(
      buildManifest(
        event({
          runId: 'collide',
          input: 's3://in-bucket/incoming/day3/',
          models: [{ variant: 'a', modelName: 'm' }],
        }),
        deps(),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining(
        'input objects s3://in-bucket/incoming/day3/a.csv and s3://in-bucket/incoming/day3/a.csv.out/b.csv collide',
      ),
    });
    const written: string[] = [];
    for await (const o of store.list('s3://results-bucket/runs/collide/')) written.push(o.uri);
    expect(written).toEqual([]);
  });

  it('accepts inputs whose names only look alike (a.csv with a.csv.outer/b.csv, a.csv.out.csv)', async () => {
    for (const key of ['a.csv', 'a.csv.outer/b.csv', 'a.csv.out.csv', 'x/a.csv.out']) {
      await store.put(`s3://in-bucket/incoming/day4/${key}`, '1,2\n');
    }
    const plan = await buildManifest(
      event({ input: 's3://in-bucket/incoming/day4/', models: [{ variant: 'a', modelName: 'm' }] }),
      deps(),
    );
    expect(plan.inputs.objects).toBe(4);
  });

  it('hands results.idColumn to ParseResults and rejects one it could not find, before writing anything', async () => {
    const models = [{ variant: 'a', modelName: 'm' }];
    const input = 's3://in-bucket/incoming/day1/a.csv';
    const plan = await buildManifest(
      event({ input, models, results: { featureNames: ['id', 'x'], idColumn: 'id' } }),
      deps(),
    );
    expect((await jobsOf(plan))[0]?.parseRequest.results).toMatchObject({
      featureNames: ['id', 'x'],
      idColumn: 'id',
    });

    const rejected: [ResultsSettings, string][] = [
      [
        { featureNames: ['x', 'y'], idColumn: 'id' },
        'results.idColumn "id" is not one of results.featureNames',
      ],
      [
        { idColumn: 'id' },
        'results.idColumn "id" needs results.featureNames to find the column in CSV records',
      ],
    ];
    for (const [results, message] of rejected) {
      await expect(
        buildManifest(event({ runId: 'bad-id', input, models, results }), deps()),
      ).rejects.toMatchObject({ name: 'InvalidInputError', message });
      const written: string[] = [];
      for await (const object of store.list('s3://results-bucket/runs/bad-id/')) written.push(object.uri);
      expect(written).toEqual([]);
    }
    // JSON object records name their id by key: no featureNames needed.
    const json = await buildManifest(
      event({
        input,
        models,
        transform: { ContentType: 'application/jsonlines' },
        results: { idColumn: 'id' },
      }),
      deps(),
    );
    expect((await jobsOf(json))[0]?.parseRequest.results.idColumn).toBe('id');
  });

  it('fails with ObjectNotFoundError for a missing single input object', async () => {
    await expect(
      buildManifest(
        event({ input: 's3://in-bucket/incoming/nope.csv', models: [{ variant: 'a', modelName: 'm' }] }),
        deps(),
      ),
    ).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
      message: 'Input object not found: s3://in-bucket/incoming/nope.csv',
    });
  });
});

describe('runIdFromExecutionName', () => {
  it('lower-cases and replaces characters a run id cannot hold', () => {
    expect(runIdFromExecutionName('Nightly_Run 7')).toBe('nightly-run-7');
  });

  it('shortens long names with a hash so distinct names stay distinct', () => {
    const a = runIdFromExecutionName('x'.repeat(60));
    const b = runIdFromExecutionName(`${'x'.repeat(59)}y`);
    expect(a).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});
