import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildManifest } from '../../src/core/build-manifest.js';
import { checkRunRequest } from '../../src/core/run-checks.js';
import type { RunRequest } from '../../src/core/run-request.js';
import { InvalidInputError } from '../../src/errors.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';

// SageMaker's CreateTransformJob: "The value of MaxConcurrentTransforms × MaxPayloadInMB must not exceed
// 100 MB" (API reference, MaxPayloadInMB); MaxPayloadInMB defaults to 6 when left out.
const request = (transform: RunRequest['transform']): RunRequest => ({
  input: 's3://bucket/incoming/',
  models: [
    { variant: 'a', modelName: 'churn-a' },
    { variant: 'b', modelName: 'churn-b' },
  ],
  transform,
});

describe('plan-time rule MaxConcurrentTransforms × MaxPayloadInMB ≤ 100', () => {
  it('accepts products up to 100 MB, an unset concurrency (0: the container decides) and chunked payloads', () => {
    for (const transform of [
      { MaxConcurrentTransforms: 10, MaxPayloadInMB: 10 },
      { MaxConcurrentTransforms: 4, MaxPayloadInMB: 25 },
      { MaxConcurrentTransforms: 16 }, // 16 × 6 = 96
      { MaxConcurrentTransforms: 1, MaxPayloadInMB: 100 },
      { MaxPayloadInMB: 100 },
      { MaxConcurrentTransforms: 0, MaxPayloadInMB: 100 },
      {},
    ]) {
      expect(() => checkRunRequest(request(transform)), JSON.stringify(transform)).not.toThrow();
    }
  });

  it('refuses a product over 100 MB, naming both fields, the variants and the largest values that fit', () => {
    expect(() => checkRunRequest(request({ MaxConcurrentTransforms: 4, MaxPayloadInMB: 26 }))).toThrow(
      new InvalidInputError(
        `transform.MaxConcurrentTransforms 4 × transform.MaxPayloadInMB 26 = 104 MB, over SageMaker's limit of 100 MB (CreateTransformJob refuses it, for the jobs of variants "a", "b"): set transform.MaxConcurrentTransforms at most 3, or transform.MaxPayloadInMB at most 25`,
      ),
    );
  });

  it("counts an unset MaxPayloadInMB as SageMaker's default 6 and says so", () => {
    const single = {
      ...request({ MaxConcurrentTransforms: 17 }),
      models: [{ variant: 'a', modelName: 'm' }],
    };
    expect(() => checkRunRequest(single)).toThrow(
      new InvalidInputError(
        `transform.MaxConcurrentTransforms 17 × transform.MaxPayloadInMB (unset: 6) = 102 MB, over SageMaker's limit of 100 MB (CreateTransformJob refuses it, for the jobs of variant "a"): set transform.MaxConcurrentTransforms at most 16, or transform.MaxPayloadInMB at most 5`,
      ),
    );
  });

  it('fails BuildManifest before anything of the run is written', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mct-'));
    try {
      const store = new FileObjectStore(root);
      await store.put('s3://bucket/incoming/a.csv', '1,2\n');
      await expect(
        buildManifest(
          {
            request: { ...request({ MaxConcurrentTransforms: 50, MaxPayloadInMB: 6 }), runId: 'too-wide' },
            executionName: 'exec-1',
            executionStartTime: '2026-11-21T10:00:00.000Z',
          },
          {
            store,
            settings: { bucket: 'bucket', database: 'db', sagemakerRoleArn: 'arn:aws:iam::1:role/sm' },
            modelExists: async () => false,
          },
        ),
      ).rejects.toMatchObject({
        name: 'InvalidInputError',
        message: expect.stringContaining(
          'transform.MaxConcurrentTransforms 50 × transform.MaxPayloadInMB 6 = 300 MB',
        ),
      });
      const written: string[] = [];
      for await (const o of store.list('s3://bucket/runs/')) written.push(o.uri);
      expect(written).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
