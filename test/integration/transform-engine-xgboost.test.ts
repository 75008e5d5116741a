import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { HttpModelClient } from '../../src/local/http-model-client.js';
import { LocalTransformEngine } from '../../src/local/transform-engine.js';
import { type RunningModelServer, startModelServer } from '../../src/model-server/server.js';
import { csvTransformRequest } from '../helpers/transform-request.js';

const ROOT = join(import.meta.dirname, '../..');
const PARTS = ['part-0001.csv', 'part-0002.csv'];

describe('LocalTransformEngine with the built-in XGBoost server', () => {
  let server: RunningModelServer;
  let root: string;

  beforeAll(async () => {
    server = await startModelServer({ modelPath: join(ROOT, 'examples/model/xgboost-model.json'), port: 0 });
    root = await mkdtemp(join(tmpdir(), 'engine-xgb-'));
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('reproduces the expected predictions of the sample data, in input order', async () => {
    const store = new FileObjectStore(root);
    for (const part of PARTS) {
      await store.put(`s3://bucket/in/${part}`, readFileSync(join(ROOT, 'examples/sample/input', part)));
    }
    const client = new HttpModelClient(server.url);
    const engine = new LocalTransformEngine({ store, resolveModel: () => client });
    const description = await engine.runTransformJob(
      csvTransformRequest({
        TransformJobName: 'xgb-sample',
        ModelName: 'xgboost-sample',
        MaxConcurrentTransforms: 4,
        MaxPayloadInMB: 1,
        BatchStrategy: 'MultiRecord',
      }),
    );
    client.close();
    expect(description.TransformJobStatus).toBe('Completed');
    const predictions: number[] = [];
    for (const part of PARTS) {
      const text = Buffer.from(await store.getBytes(`s3://bucket/out/${part}.out`)).toString();
      predictions.push(...text.trimEnd().split('\n').map(Number));
    }
    const expected = readFileSync(join(ROOT, 'examples/sample/expected-predictions.csv'), 'utf8')
      .trimEnd()
      .split('\n')
      .map(Number);
    expect(predictions).toHaveLength(expected.length);
    const worst = Math.max(...predictions.map((p, i) => Math.abs(p - (expected[i] as number))));
    expect(worst).toBeLessThanOrEqual(1e-6);
  });
});
