import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildManifest } from '../../src/core/build-manifest.js';
import type { JobListItem } from '../../src/core/job-results.js';
import type { RunSummary } from '../../src/core/summarize-run.js';
import { ObjectNotFoundError } from '../../src/errors.js';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import { payloadBytes } from '../../src/local/payload-limit.js';
import type { ExecutionResult } from '../../src/local/state-machine-runner.js';
import { PAYLOAD_LIMIT_BYTES } from '../../src/local/state-machine-runner.js';
import { loadXGBoostModel } from '../../src/model-server/xgboost-model.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports.js';
import {
  type FaultyContainer,
  SAMPLE_INPUT_DIR,
  SAMPLE_MODEL,
  startFaultyContainer,
} from '../helpers/model-containers.js';
import { sampleLines } from '../helpers/records.js';

const OBJECTS = 400;
const VARIANTS = ['v1', 'v2', 'v3', 'v4', 'v5'];
const JOBS = OBJECTS * VARIANTS.length;

/**
 * The real state machine file, run locally with 2,000 transform jobs (400 one-record objects, one object
 * per shard, 5 model variants): the size that 2 variants × 50 shards already broke when every planned
 * job rode in the state. The container is the in-process test container (the built-in server's own
 * prediction code), so the run measures the state machine, not model start-up.
 */
describe(`a run of ${JOBS.toLocaleString('en-US')} transform jobs through the Distributed Map`, () => {
  let home: string;
  let container: FaultyContainer;
  let pipeline: LocalPipeline;
  let result: ExecutionResult;
  let lines: string[];

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'scale-'));
    container = await startFaultyContainer({ model: await loadXGBoostModel(SAMPLE_MODEL) });
    pipeline = await LocalPipeline.open({ home, retryIntervalOverrides: {} });
    lines = await sampleLines(SAMPLE_INPUT_DIR, OBJECTS);
    for (const [i, line] of lines.entries()) {
      await pipeline.store.put(
        `s3://${LOCAL_BUCKET}/incoming/scale/part-${String(i).padStart(5, '0')}.csv`,
        `${line}\n`,
      );
    }
    for (const variant of VARIANTS) {
      await pipeline.models.put({
        ModelName: `scale-${variant}`,
        PrimaryContainer: { Image: container.url },
      });
    }
    result = await pipeline.run(
      {
        runId: 'scale',
        input: `s3://${LOCAL_BUCKET}/incoming/scale/`,
        objectsPerShard: 1,
        maxConcurrentJobs: 50,
        models: VARIANTS.map((variant) => ({ variant, modelName: `scale-${variant}` })),
        results: { table: 'predictions', labels: ['malignant', 'benign'] },
      },
      'scale-execution',
    );
  }, 600_000);

  afterAll(async () => {
    await pipeline?.close();
    await container?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('completes, with every record in and out once per variant', async () => {
    expect(result.error, result.cause).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    const summary = result.output as RunSummary;
    expect(summary.jobs).toBe(JOBS);
    expect(summary.recordsIn).toBe(JOBS);
    expect(summary.recordsOut).toBe(JOBS);
    const { rows } = await pipeline.catalog.runQuery(
      'SELECT variant, count(*) AS n, count(DISTINCT source) AS sources FROM predictions WHERE run_id = ? GROUP BY variant ORDER BY variant',
      ['scale'],
    );
    expect(rows.map((r) => [r.variant, Number(r.n), Number(r.sources)])).toEqual(
      VARIANTS.map((v) => [v, OBJECTS, OBJECTS]),
    );
    // Every container answer was used exactly once per variant: 400 distinct bodies, each 5 times.
    expect(container.answered.size).toBe(OBJECTS);
    expect([...container.answered.values()].every((n) => n === VARIANTS.length)).toBe(true);
  });

  it('keeps every state payload far below 256 KiB: the jobs are in S3, the state holds a pointer', async () => {
    expect(result.largestPayload?.bytes).toBeLessThan(16 * 1024);
    expect(result.largestChildPayload?.bytes).toBeLessThan(16 * 1024);
    expect(PAYLOAD_LIMIT_BYTES).toBe(262_144);
    const plan = await pipeline.store.getBytes(`s3://${LOCAL_BUCKET}/runs/scale/plan.json`);
    const { jobList } = JSON.parse(Buffer.from(plan).toString()) as {
      jobList: { bucket: string; key: string; jobs: number };
    };
    expect(jobList.jobs).toBe(JOBS);
    const jobsBytes = await pipeline.store.getBytes(`s3://${jobList.bucket}/${jobList.key}`);
    const jobs = JSON.parse(Buffer.from(jobsBytes).toString()) as JobListItem[];
    expect(jobs).toHaveLength(JOBS);
    // What used to ride in the state: over 10 times the limit.
    expect(jobsBytes.byteLength).toBeGreaterThan(10 * PAYLOAD_LIMIT_BYTES);
  });
});

/** An S3 stand-in in memory, so BuildManifest can list 100,000 objects without 100,000 files. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    for (const uri of [...this.objects.keys()].sort()) {
      if (uri.startsWith(prefixUri)) yield { uri, size: this.objects.get(uri)?.byteLength ?? 0 };
    }
  }
  async head(uri: string): Promise<ObjectInfo | undefined> {
    const body = this.objects.get(uri);
    return body ? { uri, size: body.byteLength } : undefined;
  }
  async getBytes(uri: string): Promise<Uint8Array> {
    const body = this.objects.get(uri);
    if (!body) throw new ObjectNotFoundError(`Object not found: ${uri}`);
    return body;
  }
  async getStream(uri: string): Promise<Readable> {
    return Readable.from([await this.getBytes(uri)]);
  }
  async put(uri: string, body: string | Uint8Array): Promise<void> {
    this.objects.set(uri, typeof body === 'string' ? Buffer.from(body) : body);
  }
  async putStream(uri: string, body: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk as Uint8Array);
    await this.put(uri, Buffer.concat(chunks));
  }
  async delete(uri: string): Promise<void> {
    this.objects.delete(uri);
  }
}

describe('planning 100,000 input objects into 2,000 jobs of 5 variants', () => {
  it('writes the jobs to S3 and returns a plan far below the payload limit', async () => {
    const store = new MemoryStore();
    const row = Buffer.from('1,2,3\n');
    for (let i = 0; i < 100_000; i++) {
      store.objects.set(`s3://in-bucket/incoming/big/part-${String(i).padStart(6, '0')}.csv`, row);
    }
    const plan = await buildManifest(
      {
        request: {
          runId: 'big',
          input: 's3://in-bucket/incoming/big/',
          objectsPerShard: 250,
          models: VARIANTS.map((variant) => ({ variant, modelName: `m-${variant}` })),
        },
        executionName: 'big-execution',
        executionStartTime: '2026-11-30T08:00:00.000Z',
      },
      {
        store,
        settings: { bucket: 'results-bucket', database: 'db', sagemakerRoleArn: 'arn:aws:iam::1:role/sm' },
        modelExists: async () => true,
      },
    );
    expect(plan.inputs).toEqual({ objects: 100_000, bytes: 600_000, shards: 400 });
    expect(plan.jobList.jobs).toBe(2_000);
    expect(payloadBytes(plan)).toBeLessThan(4 * 1024);
    const jobs = JSON.parse(
      Buffer.from(await store.getBytes(`s3://${plan.jobList.bucket}/${plan.jobList.key}`)).toString(),
    ) as JobListItem[];
    expect(jobs).toHaveLength(2_000);
    expect(new Set(jobs.map((j) => j.jobResultUri)).size).toBe(2_000);
    expect(new Set(jobs.map((j) => j.transformRequest.TransformJobName)).size).toBe(2_000);
    // Each job, as a child execution's input, is far below the limit too.
    expect(Math.max(...jobs.map(payloadBytes))).toBeLessThan(16 * 1024);
  });
});
