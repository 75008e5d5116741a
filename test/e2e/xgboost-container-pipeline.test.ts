import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRequest } from '../../src/core/run-request.js';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import {
  containerSettingsFromEnv,
  type RunningModelServer,
  startModelServer,
} from '../../src/model-server/server.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, '../fixtures/xgboost');
const CONTAINER = join(HERE, '../helpers/sagemaker_xgboost_container.py');
const INPUT = readFileSync(join(FIXTURES, 'inputs.csv'), 'utf8');
const ROWS = INPUT.trimEnd().split('\n');

function expected(name: string): number[][] {
  return (
    JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8')) as { predictions: number[][] }
  ).predictions;
}

/** The Python test container (real XGBoost 1.7, the container's encoding rules), as SageMaker runs it. */
async function startPythonContainer(
  model: string,
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn('/usr/bin/python3', [CONTAINER, 'serve', '--model', model, '--port', '0'], {
    env: { ...process.env, SAGEMAKER_BATCH: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (data: Buffer) => {
      text += data.toString();
      const match = /http:\/\/127\.0\.0\.1:\d+/.exec(text);
      if (match) resolve(match[0]);
    });
    child.stderr?.on('data', (data: Buffer) => {
      text += data.toString();
    });
    child.once('exit', (code) => reject(new Error(`test container exited ${code}: ${text}`)));
  });
  return { url, child };
}

interface Row {
  record: number;
  id: string | null;
  features: number[];
  score: number;
  scores: number[] | null;
  label: string | null;
}

describe('full pipeline runs against the SageMaker XGBoost container encoding rules', () => {
  let home: string;
  let pipeline: LocalPipeline;
  const children: ChildProcess[] = [];
  const servers: RunningModelServer[] = [];

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'xgb-container-'));
    pipeline = await LocalPipeline.open({ home, retryIntervalOverrides: {} });
    await pipeline.store.put(`s3://${LOCAL_BUCKET}/incoming/fixture/inputs.csv`, INPUT);
  });
  afterAll(async () => {
    await pipeline?.close();
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.close()));
    await rm(home, { recursive: true, force: true });
  });

  async function run(
    runId: string,
    modelName: string,
    request: Partial<RunRequest>,
    input = 'incoming/fixture/',
  ): Promise<Row[]> {
    const result = await pipeline.run({
      runId,
      input: `s3://${LOCAL_BUCKET}/${input}`,
      models: [{ variant: 'xgb', modelName }],
      ...request,
    } as RunRequest);
    expect(result.status, JSON.stringify(result.cause ?? result.error)).toBe('SUCCEEDED');
    return (
      await pipeline.catalog.runQuery(
        'SELECT record, id, features, score, scores, label FROM predictions WHERE run_id = ? ORDER BY record',
        [runId],
      )
    ).rows.map((row) => ({
      ...row,
      features: typeof row.features === 'string' ? JSON.parse(row.features) : row.features,
      scores: typeof row.scores === 'string' ? JSON.parse(row.scores) : row.scores,
    })) as unknown as Row[];
  }

  const started = new Map<string, Promise<string>>();
  /** A test container serving a fixture's model.tar.gz, started once per model and environment. */
  function container(name: string, env: Record<string, string> = {}): Promise<string> {
    const key = JSON.stringify([name, env]);
    let modelName = started.get(key);
    if (!modelName) {
      modelName = startPythonContainer(join(FIXTURES, name, 'model.tar.gz'), env).then(
        async ({ url, child }) => {
          children.push(child);
          const registered = `py-${name}-${children.length}`;
          await pipeline.models.put({ ModelName: registered, PrimaryContainer: { Image: url } });
          return registered;
        },
      );
      started.set(key, modelName);
    }
    return modelName;
  }

  function expectScores(rows: Row[], want: number[][]): void {
    expect(rows).toHaveLength(ROWS.length);
    const worst = Math.max(...rows.map((row, i) => Math.abs(row.score - Math.max(...(want[i] as number[])))));
    expect(worst).toBeLessThanOrEqual(1e-6);
  }

  for (const accept of ['text/csv', 'application/json', 'application/jsonlines']) {
    it(`reads a binary model's batch output with Accept ${accept}`, async () => {
      const modelName = await container('gbtree-binary-logistic');
      const rows = await run(`binary-${accept.replace(/\W/g, '')}`, modelName, {
        transform: { Accept: accept },
        results: { labels: ['no', 'yes'] },
      });

      const want = expected('gbtree-binary-logistic');
      expectScores(rows, want);
      expect(rows.map((r) => r.label)).toEqual(want.map(([p]) => ((p as number) >= 0.5 ? 'yes' : 'no')));
      expect(rows[0]?.features).toHaveLength(5);
    });

    it(`reads a multiclass model's Python list lines with Accept ${accept}`, async () => {
      const modelName = await container('gbtree-multi-softprob');
      const rows = await run(`multi-${accept.replace(/\W/g, '')}`, modelName, {
        transform: { Accept: accept },
        results: { labels: ['a', 'b', 'c'] },
      });

      const want = expected('gbtree-multi-softprob');
      expectScores(rows, want);
      expect(rows.map((r) => r.label)).toEqual(want.map((p) => ['a', 'b', 'c'][p.indexOf(Math.max(...p))]));
      expect(rows[0]?.scores).toHaveLength(3);
    });

    it(`reads a regression model's values with Accept ${accept}`, async () => {
      const modelName = await container('gbtree-reg-squarederror');
      const rows = await run(`regression-${accept.replace(/\W/g, '')}`, modelName, {
        transform: { Accept: accept },
      });

      expectScores(rows, expected('gbtree-reg-squarederror'));
    });
  }

  for (const accept of ['text/csv', 'application/jsonlines']) {
    it(`reads SAGEMAKER_INFERENCE_OUTPUT selections with Accept ${accept}`, async () => {
      const selection = 'predicted_label,probabilities,probability';
      const modelName = await container('gbtree-multi-softprob', { SAGEMAKER_INFERENCE_OUTPUT: selection });
      const rows = await run(`selected-${accept.replace(/\W/g, '')}`, modelName, {
        transform: { Accept: accept, Environment: { SAGEMAKER_INFERENCE_OUTPUT: selection } },
        results: { labels: ['a', 'b', 'c'] },
      });

      expectScores(rows, expected('gbtree-multi-softprob'));
    });
  }

  it('stores the prediction and the filtered features when JoinSource is Input and InputFilter drops an id column', async () => {
    const server = await startModelServer({
      modelPath: join(FIXTURES, 'gbtree-binary-logistic', 'xgboost-model'),
      port: 0,
      settings: containerSettingsFromEnv({ SAGEMAKER_BATCH: 'true' }),
    });
    servers.push(server);
    await pipeline.models.put({ ModelName: 'builtin-join', PrimaryContainer: { Image: server.url } });
    const withIds = ROWS.map((row, i) => `id-${i + 1},${row}`).join('\n');
    await pipeline.store.put(`s3://${LOCAL_BUCKET}/incoming/with-ids/inputs.csv`, `${withIds}\n`);

    const rows = await run(
      'joined',
      'builtin-join',
      {
        transform: { DataProcessing: { JoinSource: 'Input', InputFilter: '$[1:]' }, AssembleWith: 'Line' },
        results: { labels: ['no', 'yes'] },
      },
      'incoming/with-ids/',
    );

    const want = expected('gbtree-binary-logistic');
    expectScores(rows, want);
    expect(rows.every((r) => r.features.length === 5)).toBe(true);
    expect(rows[0]?.features).toEqual(
      (ROWS[0] as string).split(',').map((v) => (v === '' ? null : Number(v))),
    );
  });

  it('refuses an OutputFilter and JSON input to the XGBoost container at plan time, before any job', async () => {
    const refused = await pipeline.run({
      runId: 'refused',
      input: `s3://${LOCAL_BUCKET}/incoming/fixture/`,
      models: [
        {
          variant: 'xgb',
          image: 'builtin:xgboost',
          modelDataUrl: `s3://${LOCAL_BUCKET}/models/none/model.tar.gz`,
        },
      ],
      transform: { ContentType: 'application/jsonlines', DataProcessing: { OutputFilter: '$[-1]' } },
    } as RunRequest);

    expect(refused.status).toBe('FAILED');
    const cause = String(refused.cause);
    expect(cause).toMatch(/OutputFilter "\$\[-1\]": ParseResults builds each result row/);
    expect(cause).toMatch(
      /the SageMaker XGBoost container \(variant \\?"xgb\\?"\) reads text\/csv and text\/libsvm only/,
    );
  });

  it('checks the artifact at plan time: a pickled booster is refused naming the modelDataUrl, before any model is created', async () => {
    const modelDataUrl = `s3://${LOCAL_BUCKET}/models/pickled/xgboost-model`;
    await pipeline.store.put(modelDataUrl, readFileSync(join(FIXTURES, 'pickled/xgboost-model')));

    const result = await pipeline.run({
      runId: 'pickled',
      input: `s3://${LOCAL_BUCKET}/incoming/fixture/`,
      models: [{ variant: 'xgb', image: 'builtin:xgboost', modelDataUrl }],
    } as RunRequest);

    expect(result.status).toBe('FAILED');
    const cause = String(result.cause);
    expect(cause).toContain(`${modelDataUrl} is a pickled Python object`);
    expect(cause).toContain("booster.save_model('xgboost-model.json')");
    expect(cause).not.toContain(home);
    expect(await pipeline.store.head(`s3://${LOCAL_BUCKET}/runs/pickled/plan.json`)).toBeFalsy();
  });

  it('serves a model.tar.gz of XGBoost 1.x binary models through the built-in server, created from image + artifact', async () => {
    const modelDataUrl = `s3://${LOCAL_BUCKET}/models/dart/model.tar.gz`;
    await pipeline.store.put(modelDataUrl, readFileSync(join(FIXTURES, 'dart-multi-softprob/model.tar.gz')));

    const rows = await run('builtin-dart', '', {
      models: [{ variant: 'dart', image: 'builtin:xgboost', modelDataUrl }],
      results: { labels: ['a', 'b', 'c'] },
    });

    expectScores(rows, expected('dart-multi-softprob'));
  });
});
