import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TransformJobRequest } from '../../src/core/transform-job.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { HttpModelClient } from '../../src/local/http-model-client.js';
import { LocalTransformEngine } from '../../src/local/transform-engine.js';
import { loadXGBoostModel, type XGBoostModel } from '../../src/model-server/xgboost-model.js';
import {
  type FaultyContainer,
  type ModelServerProcess,
  SAMPLE_INPUT_DIR,
  SAMPLE_MODEL,
  spawnModelServer,
  startFaultyContainer,
} from '../helpers/model-containers.js';
import { multisetDigest, recordLines, sampleLines, sha256 } from '../helpers/records.js';
import { csvTransformRequest } from '../helpers/transform-request.js';
import { expectScores, samplePredictions } from '../helpers/xgboost-reference.js';

const INPUT = 's3://bucket/in/records.csv';
const OUTPUT = 's3://bucket/out/records.csv.out';

function request(overrides: Partial<TransformJobRequest> = {}): TransformJobRequest {
  return csvTransformRequest({
    TransformJobName: 'reliability',
    ModelName: 'xgb',
    BatchStrategy: 'SingleRecord',
    MaxConcurrentTransforms: 8,
    MaxPayloadInMB: 1,
    // 5 s, not 1: on a loaded 2-core machine a healthy answer at concurrency 96 can take over a second, and
    // a client timeout on an answer the container still sends counts that record twice (as on SageMaker).
    ModelClientConfig: { InvocationsTimeoutInSeconds: 5, InvocationsMaxRetries: 3 },
    ...overrides,
  });
}

describe('transform jobs under container faults', () => {
  let root: string;
  let store: FileObjectStore;
  let model: XGBoostModel;
  let allLines: string[];
  let lines: string[];
  /** XGBoost's own scores for `lines` (examples/sample/expected-predictions.csv). */
  let expected: number[];

  beforeAll(async () => {
    model = await loadXGBoostModel(SAMPLE_MODEL);
    allLines = await sampleLines(SAMPLE_INPUT_DIR, 569);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(root, { recursive: true, force: true });
  });

  /** A store holding the first `n` sample records (fewer where hangs cost a timeout each). */
  async function freshStore(n = 569): Promise<void> {
    lines = allLines.slice(0, n);
    expected = await samplePredictions(n);
    root = await mkdtemp(join(tmpdir(), 'reliability-'));
    store = new FileObjectStore(root);
    await store.put(INPUT, `${lines.join('\n')}\n`);
  }

  /** The job's output, checked record for record, in order, against XGBoost's own predictions. */
  async function expectCompleteOutput(): Promise<void> {
    const output = Buffer.from(await store.getBytes(OUTPUT)).toString('utf8');
    expectScores(recordLines(output).map(Number), expected);
  }

  describe('when the model container is killed mid-job and restarted on the same port', () => {
    let server: ModelServerProcess | undefined;

    afterAll(async () => {
      await server?.kill();
    });

    it('completes with InvocationsMaxRetries, every record answered once and in order', async () => {
      await freshStore();
      server = await spawnModelServer({ port: 0 });
      const { port, url } = server;
      // Full jitter at its maximum: retries wait 2, 4 and 8 s, which outlasts a restart even on a loaded
      // 2-core machine (0.6 s steps were too short there); the waits only happen while the server is down.
      vi.spyOn(Math, 'random').mockReturnValue(0.999);
      let killedAfter: number | undefined;
      let restarted: Promise<ModelServerProcess> | undefined;
      const engine = new LocalTransformEngine({
        store,
        resolveModel: () => new HttpModelClient(url),
        retryBaseDelayMs: 2000,
        log: (event) => {
          if (event.type !== 'batch-written' || killedAfter !== undefined || event.jobRecords < 100) return;
          killedAfter = event.jobRecords;
          const dying = server as ModelServerProcess;
          restarted = dying.kill().then(() => spawnModelServer({ port }));
        },
      });

      const description = await engine.runTransformJob(request({ MaxConcurrentTransforms: 4 }));
      server = await restarted;

      expect(killedAfter).toBeGreaterThanOrEqual(100);
      expect(killedAfter).toBeLessThan(lines.length);
      expect(description.FailureReason).toBeUndefined();
      expect(description.TransformJobStatus).toBe('Completed');
      await expectCompleteOutput();
    });
  });

  describe('when the container throttles (HTTP 429)', () => {
    let container: FaultyContainer | undefined;

    afterAll(async () => {
      await container?.close();
    });

    it('retries 429 within InvocationsMaxRetries, with backoff, as 5xx, and completes', async () => {
      await freshStore(50);
      // Every body is throttled on its first two attempts: 3 retries are enough, 1 is not.
      container = await startFaultyContainer({
        model,
        fault: (_hash, attempt) => (attempt <= 2 ? '429' : 'none'),
      });
      const url = container.url;
      const engine = new LocalTransformEngine({
        store,
        resolveModel: () => new HttpModelClient(url),
        retryBaseDelayMs: 1,
      });
      const description = await engine.runTransformJob(request({ MaxConcurrentTransforms: 8 }));
      expect(description.FailureReason).toBeUndefined();
      expect(description.TransformJobStatus).toBe('Completed');
      expect(container.invocations.filter((i) => i.fault === '429')).toHaveLength(2 * lines.length);
      await expectCompleteOutput();

      await container.close();
      // A container that always throttles: the job fails once InvocationsMaxRetries is spent, naming 429.
      container = await startFaultyContainer({ model, fault: () => '429' });
      const throttled = container.url;
      const shortEngine = new LocalTransformEngine({
        store,
        resolveModel: () => new HttpModelClient(throttled),
        retryBaseDelayMs: 1,
      });
      const short = await shortEngine.runTransformJob(
        request({
          TransformJobName: 'reliability-short',
          ModelClientConfig: { InvocationsTimeoutInSeconds: 1, InvocationsMaxRetries: 1 },
        }),
      );
      expect(short.TransformJobStatus).toBe('Failed');
      expect(short.FailureReason).toMatch(/failed after 2 attempts \(InvocationsMaxRetries 1\): HTTP 429/);
    });
  });

  describe('when 10% of invocations answer 5xx or hang past the timeout', () => {
    let container: FaultyContainer | undefined;

    afterAll(async () => {
      await container?.close();
    });

    it('processes every record exactly once', async () => {
      await freshStore(300);
      // Deterministic: a body whose hash ends in 0-9 of 0-99 fails its first attempt; half 503, half hang.
      const faultOf = (hash: string) => Number.parseInt(hash.slice(-2), 16) % 100;
      container = await startFaultyContainer({
        model,
        fault: (hash, attempt) => {
          if (attempt > 1) return 'none';
          const n = faultOf(hash);
          if (n < 5) return '5xx';
          return n < 10 ? 'hang' : 'none';
        },
      });
      const url = container.url;
      const engine = new LocalTransformEngine({
        store,
        resolveModel: () => new HttpModelClient(url),
        retryBaseDelayMs: 1,
      });

      const description = await engine.runTransformJob(request({ MaxConcurrentTransforms: 96 }));

      expect(description.FailureReason).toBeUndefined();
      expect(description.TransformJobStatus).toBe('Completed');
      const faults = container.invocations.filter((i) => i.fault !== 'none');
      const faultShare = faults.length / lines.length;
      expect(faultShare).toBeGreaterThan(0.05);
      expect(faultShare).toBeLessThan(0.15);
      expect(faults.some((f) => f.fault === 'hang')).toBe(true);
      expect(faults.some((f) => f.fault === '5xx')).toBe(true);
      // Each record's body was answered exactly once (a hung attempt never answered), none left out.
      const bodies = lines.map((line) => sha256(line));
      expect(multisetDigest([...container.answered.keys()])).toBe(multisetDigest([...new Set(bodies)]));
      for (const body of bodies)
        expect(container.answered.get(body)).toBe(bodies.filter((b) => b === body).length);
      await expectCompleteOutput();
    });
  });
});
