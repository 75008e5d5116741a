import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureMessage } from '../../src/core/record-failure.js';
import type { RunRequest } from '../../src/core/run-request.js';
import type { TransformJobRequest } from '../../src/core/transform-job.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { HttpModelClient } from '../../src/local/http-model-client.js';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import type { ExecutionResult } from '../../src/local/state-machine-runner.js';
import { LocalTransformEngine } from '../../src/local/transform-engine.js';
import { type RunningModelServer, startModelServer } from '../../src/model-server/server.js';
import { SAMPLE_INPUT_DIR, SAMPLE_MODEL } from '../helpers/model-containers.js';
import { listFilesUnder, multisetDigest, sampleLines } from '../helpers/records.js';
import { expectScores, samplePredictions } from '../helpers/xgboost-reference.js';

const MODEL_NAME = 'xgb-builtin';
const FEATURE_NAMES = ['mean radius', 'mean texture', 'mean perimeter', 'mean area'];

interface CaseRun {
  result: ExecutionResult;
  /** runs/<runId>/failure.json, when the run failed. */
  failure: { failedState: string; error: string; message: string } | undefined;
  /** What became visible: registered partitions, result files and transform outputs of this run. */
  partitions: string[][];
  resultFiles: string[];
  outFiles: string[];
  rows: Record<string, unknown>[];
}

/**
 * Bad (and odd but valid) input through the whole local pipeline: the state machine, the transform
 * engine against the built-in model server, ParseResults, the DuckDB catalog. Each case asserts what the
 * user sees: the execution's error and runs/<runId>/failure.json, and that nothing partial is published.
 */
describe('bad input through the local pipeline', () => {
  let home: string;
  let pipeline: LocalPipeline;
  let server: RunningModelServer;
  let good: string[];
  /** XGBoost's own scores for `good`, from examples/sample/expected-predictions.csv. */
  let goodScores: number[];

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'bad-input-'));
    pipeline = await LocalPipeline.open({ home, retryIntervalOverrides: {} });
    server = await startModelServer({ modelPath: SAMPLE_MODEL, port: 0 });
    await pipeline.models.put({ ModelName: MODEL_NAME, PrimaryContainer: { Image: server.url } });
    good = await sampleLines(SAMPLE_INPUT_DIR, 8);
    goodScores = await samplePredictions(8);
  });

  afterAll(async () => {
    await pipeline?.close();
    await server?.close();
    await rm(home, { recursive: true, force: true });
  });

  /**
   * Uploads `files` under incoming/<runId>/ (a good file first, so a failure must also withdraw output
   * already written for it) and runs the pipeline on the folder.
   */
  async function runCase(
    runId: string,
    files: Record<string, string | Buffer>,
    request: Partial<RunRequest> = {},
  ): Promise<CaseRun> {
    for (const [name, body] of Object.entries(files)) {
      await pipeline.store.put(`s3://${LOCAL_BUCKET}/incoming/${runId}/${name}`, body);
    }
    const result = await pipeline.run({
      runId,
      input: `s3://${LOCAL_BUCKET}/incoming/${runId}/`,
      models: [{ variant: 'xgb', modelName: MODEL_NAME }],
      ...request,
    } as RunRequest);
    return inspect(runId, result);
  }

  async function inspect(runId: string, result: ExecutionResult): Promise<CaseRun> {
    const failureUri = `s3://${LOCAL_BUCKET}/runs/${runId}/failure.json`;
    const failure = (await pipeline.store.head(failureUri))
      ? JSON.parse(Buffer.from(await pipeline.store.getBytes(failureUri)).toString('utf8'))
      : undefined;
    const s3 = join(home, 's3', LOCAL_BUCKET);
    const partitions = (await pipeline.catalog.listPartitions('local', 'predictions'))
      .map((p) => p.values)
      .filter((values) => values[1] === runId);
    const resultFiles = (await listFilesUnder(join(s3, 'results'))).filter((f) =>
      f.includes(`/run_id=${runId}/`),
    );
    // Every attempt's transform outputs, wherever in the run's scratch (runs/<runId>/attempts/<id>/).
    const outFiles = (await listFilesUnder(join(s3, 'runs', runId))).filter((f) => f.endsWith('.out'));
    const rows =
      partitions.length > 0
        ? (
            await pipeline.catalog.runQuery(
              'SELECT source, record, features, score FROM predictions WHERE run_id = ? ORDER BY source, record',
              [runId],
            )
          ).rows
        : [];
    return { result, failure, partitions, resultFiles, outFiles, rows };
  }

  /** A failed run: the message names what is wrong, and nothing of the run is published. */
  function expectRejected(run: CaseRun, failedState: string, message: RegExp): void {
    expect(run.result.status).toBe('FAILED');
    expect(run.failure?.failedState).toBe(failedState);
    expect(run.failure?.message).toMatch(message);
    // What the CLI prints: the sentence dug out of the execution's cause.
    expect(failureMessage(run.result.cause ?? '')).toMatch(message);
    expect(run.partitions).toEqual([]);
    expect(run.resultFiles).toEqual([]);
    expect(run.outFiles).toEqual([]);
  }

  /**
   * A succeeded run holding exactly the `good` records, each once, each with XGBoost's own score for
   * its features.
   */
  function expectAccepted(run: CaseRun): void {
    expect(run.result.error).toBeUndefined();
    expect(run.result.status).toBe('SUCCEEDED');
    expect(run.rows).toHaveLength(good.length);
    const numbers = (values: readonly unknown[]) => JSON.stringify(values.map(Number));
    const rowFeatures = run.rows.map((r) => numbers(JSON.parse(String(r.features)) as unknown[]));
    const goodFeatures = good.map((r) => numbers(r.split(',')));
    expect(multisetDigest(rowFeatures)).toBe(multisetDigest(goodFeatures));
    const scoreOf = new Map(goodFeatures.map((features, i) => [features, goodScores[i] as number]));
    expectScores(
      run.rows.map((r) => Number(r.score)),
      rowFeatures.map((features) => scoreOf.get(features) as number),
    );
    expect(run.failure).toBeUndefined();
  }

  const csv = (lines: string[], end = '\n') => `${lines.join(end)}${end}`;
  const goodFile = () => csv(good);

  describe('rejects, naming the file and the record or field', () => {
    it('an empty (0-byte) file', async () => {
      const run = await runCase('empty-file', { 'a-good.csv': goodFile(), 'b-empty.csv': '' });
      expectRejected(run, 'BuildManifest', /empty \(0 bytes\): s3:\/\/\S+\/b-empty\.csv/);
    });

    it('a ragged CSV row with fewer columns than the model expects', async () => {
      const lines = [...good];
      lines[2] = (lines[2] as string).split(',').slice(0, -1).join(',');
      // A blank line before it: the request's 3rd record is the file's 4th line.
      const body = `${lines.slice(0, 2).join('\n')}\n\n${lines.slice(2).join('\n')}\n`;
      const run = await runCase('ragged', { 'a-good.csv': goodFile(), 'b-ragged.csv': body });
      expectRejected(
        run,
        'RunTransforms',
        /b-ragged\.csv line 4 \(record 3 of the request for lines 1-9 .*Record 3 has 29 values but the first record has 30/,
      );
    });

    it('a row with a trailing comma (one column too many)', async () => {
      const lines = [...good];
      lines[4] = `${lines[4]},`;
      const run = await runCase('trailing-comma', {
        'a-good.csv': goodFile(),
        'b-comma.csv': `\n\n${csv(lines)}`,
      });
      expectRejected(
        run,
        'RunTransforms',
        /b-comma\.csv line 7 \(record 5 of the request for lines 3-10 .*Record 5 has 31 values/,
      );
    });

    it('a non-numeric feature', async () => {
      const lines = [...good];
      lines[1] = (lines[1] as string).replace(/^([^,]+,[^,]+,[^,]+),[^,]+/, '$1,abc');
      const run = await runCase('non-numeric', { 'a-good.csv': goodFile(), 'b-text.csv': csv(lines) });
      expectRejected(
        run,
        'RunTransforms',
        /b-text\.csv line 2 \(record 2 of the request for lines 1-8 .*Record 2 has a non-numeric value in field 4: "abc"/,
      );
    });

    it('bytes that are not UTF-8', async () => {
      const lines = good.map((line) => Buffer.from(`${line}\n`));
      lines[3] = Buffer.concat([Buffer.from([0xff, 0xfe]), lines[3] as Buffer]);
      const run = await runCase('not-utf8', {
        'a-good.csv': goodFile(),
        'b-latin.csv': Buffer.concat(lines),
      });
      expectRejected(
        run,
        'RunTransforms',
        /b-latin\.csv line 4 \(record 4 of the request for lines 1-8 .*Record 4 has a non-numeric value in field 1/,
      );
    });

    it('a header row where the model expects none', async () => {
      const header = [...FEATURE_NAMES, ...Array.from({ length: 26 }, (_, i) => `f${i + 5}`)].join(',');
      const run = await runCase('header', {
        'a-good.csv': goodFile(),
        'b-header.csv': csv([header, ...good]),
      });
      expectRejected(
        run,
        'RunTransforms',
        /b-header\.csv line 1 \(record 1 of the request for lines 1-9 .*Record 1 has a non-numeric value in field 1: "mean radius"/,
      );
    });

    it('a truncated gzip file', async () => {
      const gz = gzipSync(goodFile());
      const run = await runCase(
        'truncated-gzip',
        { 'a-good.csv.gz': gz, 'b-cut.csv.gz': gz.subarray(0, gz.length - 12) },
        { transform: { CompressionType: 'Gzip' } },
      );
      expectRejected(run, 'RunTransforms', /b-cut\.csv\.gz \(CompressionType Gzip\): unexpected end of file/);
    });

    it('a record larger than MaxPayloadInMB', async () => {
      const huge = Array.from({ length: 30 }, () => '1'.repeat(40_000)).join(',');
      const run = await runCase(
        'too-large',
        { 'a-good.csv': goodFile(), 'b-huge.csv': csv([good[0] as string, huge]) },
        { transform: { MaxPayloadInMB: 1 } },
      );
      expectRejected(
        run,
        'RunTransforms',
        /b-huge\.csv: line 2 is 1200029 bytes, larger than the MaxPayloadInMB limit of 1048576 bytes/,
      );
    });

    it('JSON lines input, which the SageMaker XGBoost container does not accept', async () => {
      const json = (lines: string[]) => csv(lines.map((l) => `[${l}]`));
      const broken = good.map((l) => `[${l}]`);
      broken[5] = `{"features": [${good[5]}`;
      const run = await runCase(
        'bad-json',
        { 'a-good.jsonl': json(good), 'b-broken.jsonl': csv(broken) },
        { transform: { ContentType: 'application/jsonlines' } },
      );
      expectRejected(
        run,
        'RunTransforms',
        /the SageMaker XGBoost container does not accept JSON or JSON lines input/,
      );
    });

    it('an input object that does not exist', async () => {
      const run = await runCase(
        'missing-object',
        {},
        { input: `s3://${LOCAL_BUCKET}/incoming/nothing-here.csv` },
      );
      expectRejected(run, 'BuildManifest', /Input object not found: s3:\/\/\S+\/incoming\/nothing-here\.csv/);
    });

    it('an input prefix that holds no data objects', async () => {
      const run = await runCase('only-markers', { _SUCCESS: 'x', '.hidden.csv': goodFile() });
      expectRejected(run, 'BuildManifest', /No input objects under s3:\/\/\S+\/incoming\/only-markers\//);
    });

    it('a run request that fails its schema, naming the field', async () => {
      const result = await pipeline.run(
        { runId: 'schema-bad', input: 'not-s3', models: [] } as unknown as RunRequest,
        'schema-bad-execution',
      );
      const run = await inspect('schema-bad', result);
      expectRejected(
        run,
        'BuildManifest',
        /input.*must match pattern|models.*must NOT have fewer than 1 items/,
      );
      expect(run.failure?.message).toMatch(/input/);
      expect(run.failure?.message).toMatch(/models/);
    });

    it('a run request whose runId tries to escape its runs/ folder', async () => {
      const result = await pipeline.run(
        {
          runId: '../../escape',
          input: `s3://${LOCAL_BUCKET}/incoming/x/`,
          models: [{ variant: 'a', modelName: MODEL_NAME }],
        },
        'escaping-run-id',
      );
      const run = await inspect('escaping-run-id', result);
      expectRejected(run, 'BuildManifest', /runId.*must match pattern/);
      expect(await listFilesUnder(join(home, 's3', 'escape'))).toEqual([]);
    });

    it('a results table name carrying SQL', async () => {
      const run = await runCase(
        'table-injection',
        { 'a-good.csv': goodFile() },
        { results: { table: 'predictions; DROP TABLE predictions' } },
      );
      expectRejected(run, 'BuildManifest', /results\/table.*must match pattern/);
    });
  });

  describe('accepts by design', () => {
    it('blank lines, skipping them and keeping each record numbered by its line', async () => {
      const body = `\n${good.slice(0, 3).join('\n')}\n\n\n${good.slice(3).join('\n')}\n\n`;
      const run = await runCase('blank-lines', { 'data.csv': body });
      expectAccepted(run);
      expect(run.rows.map((r) => Number(r.record))).toEqual([2, 3, 4, 7, 8, 9, 10, 11]);
    });

    it('CRLF line endings', async () => {
      const run = await runCase('crlf', { 'data.csv': csv(good, '\r\n') });
      expectAccepted(run);
    });

    it('a missing final newline', async () => {
      const run = await runCase('no-final-newline', { 'data.csv': good.join('\n') });
      expectAccepted(run);
      expectScores(
        run.rows.map((r) => Number(r.score)),
        goodScores,
      );
    });

    it('empty fields and "nan" as missing values, stored as null features', async () => {
      const lines = [...good];
      lines[0] = (lines[0] as string).replace(/^[^,]+/, '');
      lines[1] = (lines[1] as string).replace(/^[^,]+/, 'nan');
      const run = await runCase('missing-values', { 'data.csv': csv(lines) });
      expect(run.result.error).toBeUndefined();
      expect(run.result.status).toBe('SUCCEEDED');
      expect(run.rows).toHaveLength(lines.length);
      const first = (r: Record<string, unknown>) => (JSON.parse(String(r.features)) as unknown[])[0];
      expect(run.rows.slice(0, 2).map(first)).toEqual([null, null]);
    });

    it('an id column, dropped by InputFilter before the model and stored as each row id', async () => {
      const ids = good.map((_, i) => `cust-${1000 + i}`);
      const withIds = good.map((line, i) => `${ids[i]},${line}`);
      const featureNames = ['customer_id', ...Array.from({ length: 30 }, (_, i) => `f${i + 1}`)];
      const run = await runCase(
        'record-ids',
        { 'data.csv': csv(withIds) },
        {
          transform: { ContentType: 'text/csv', DataProcessing: { InputFilter: '$[1:]' } },
          results: { featureNames, idColumn: 'customer_id' },
        },
      );
      expectAccepted(run);
      const { rows } = await pipeline.catalog.runQuery(
        'SELECT id, score FROM predictions WHERE run_id = ? ORDER BY record',
        ['record-ids'],
      );
      expect(rows.map((r) => r.id)).toEqual(ids);
      expectScores(
        rows.map((r) => Number(r.score)),
        goodScores,
      );
    });

    it('object keys with spaces, unicode, % and +, kept exactly in outputs and results', async () => {
      const name = 'My Data ü 100% +plus (1).csv';
      const run = await runCase('odd-keys', { [name]: goodFile() });
      expectAccepted(run);
      expect(new Set(run.rows.map((r) => r.source))).toEqual(
        new Set([`s3://${LOCAL_BUCKET}/incoming/odd-keys/${name}`]),
      );
      expect(run.outFiles.map((f) => f.split('/').pop())).toEqual([`${name}.out`]);
    });
  });

  describe('queries', () => {
    it('binds SQL injection attempts in query parameters as plain values', async () => {
      const run = await runCase('query-target', { 'data.csv': goodFile() });
      expectAccepted(run);
      const sql = 'SELECT count(*) AS n FROM predictions WHERE run_id = ?';
      for (const attempt of [
        "x' OR '1'='1",
        "query-target' --",
        "x'; DROP VIEW predictions; --",
        '1 OR 1=1',
      ]) {
        expect((await pipeline.catalog.runQuery(sql, [attempt])).rows).toEqual([{ n: 0 }]);
      }
      expect((await pipeline.catalog.runQuery(sql, ['query-target'])).rows).toEqual([{ n: good.length }]);
    });

    it('refuses SQL text holding a second statement', async () => {
      await expect(pipeline.catalog.runQuery('SELECT 1; DROP VIEW predictions', [])).rejects.toThrow(
        /Expected one SQL statement, got 2/,
      );
      const { rows } = await pipeline.catalog.runQuery('SELECT count(*) AS n FROM predictions', []);
      expect(Number(rows[0]?.n)).toBeGreaterThan(0);
    });
  });
});

/** Manifests reach the engine only through CreateTransformJob (BuildManifest writes its own). */
describe('bad manifests given to CreateTransformJob', () => {
  let root: string;
  let store: FileObjectStore;
  let server: RunningModelServer;
  let engine: LocalTransformEngine;
  let lines: string[];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bad-manifest-'));
    store = new FileObjectStore(root);
    server = await startModelServer({ modelPath: SAMPLE_MODEL, port: 0 });
    engine = new LocalTransformEngine({
      store,
      resolveModel: () => new HttpModelClient(server.url),
      retryBaseDelayMs: 1,
    });
    lines = await sampleLines(SAMPLE_INPUT_DIR, 4);
    await store.put('s3://bucket/data/good.csv', `${lines.join('\n')}\n`);
    await store.put('s3://bucket/secret/other.csv', `${lines.join('\n')}\n`);
  });

  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  const job = (manifestUri: string, name: string): TransformJobRequest => ({
    TransformJobName: name,
    ModelName: 'xgb',
    TransformInput: {
      DataSource: { S3DataSource: { S3DataType: 'ManifestFile', S3Uri: manifestUri } },
      ContentType: 'text/csv',
      SplitType: 'Line',
    },
    TransformOutput: { S3OutputPath: `s3://bucket/out/${name}`, Accept: 'text/csv', AssembleWith: 'Line' },
    TransformResources: { InstanceType: 'local', InstanceCount: 1 },
  });

  it('fails naming the manifest and the key when it lists a missing object, writing no output', async () => {
    await store.put(
      's3://bucket/m1.json',
      JSON.stringify([{ prefix: 's3://bucket/data/' }, 'good.csv', 'gone.csv']),
    );
    const description = await engine.runTransformJob(job('s3://bucket/m1.json', 'missing-key'));
    expect(description.TransformJobStatus).toBe('Failed');
    expect(description.FailureReason).toMatch(
      /Manifest s3:\/\/bucket\/m1\.json lists s3:\/\/bucket\/data\/gone\.csv \(key "gone\.csv"\), which does not exist/,
    );
    expect(await listFilesUnder(join(root, 'bucket', 'out'))).toEqual([]);
  });

  it('fails naming the entry when a key climbs out of the prefix with ../, reading nothing', async () => {
    await store.put(
      's3://bucket/m2.json',
      JSON.stringify([{ prefix: 's3://bucket/data/' }, 'good.csv', '../secret/other.csv']),
    );
    const description = await engine.runTransformJob(job('s3://bucket/m2.json', 'escaping-key'));
    expect(description.TransformJobStatus).toBe('Failed');
    expect(description.FailureReason).toMatch(
      /Manifest s3:\/\/bucket\/m2\.json, entry 2: key "\.\.\/secret\/other\.csv" escapes the prefix/,
    );
    expect(await listFilesUnder(join(root, 'bucket', 'out'))).toEqual([]);
  });
});
