import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalModelContainers } from '../../src/local/model-containers.js';
import { LocalModelRegistry } from '../../src/local/model-registry.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';

const PRINT_ENV_SERVER = join(PROJECT_ROOT, 'test/fixtures/containers/print-env-server.mjs');

describe('LocalModelContainers: what a started container process actually receives', () => {
  let dir: string;
  let containers: LocalModelContainers | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'container-env-'));
  });
  afterEach(async () => {
    await containers?.close();
    vi.unstubAllEnvs();
    await rm(dir, { recursive: true, force: true });
  });

  it("gets the model's Environment and the job's batch variables, never the caller's credentials or settings", async () => {
    // The caller holds credentials and settings of its own, as a developer's shell does.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'token');
    vi.stubEnv('AWS_PROFILE', 'prod');
    vi.stubEnv('PIPELINE_HOME', '/somewhere/private');
    const dump = join(dir, 'env.json');
    const registry = new LocalModelRegistry(join(dir, 'models.json'));
    await registry.put({
      ModelName: 'm',
      PrimaryContainer: {
        Image: 'builtin:xgboost',
        ModelDataUrl: 's3://bucket/model.tar.gz',
        Environment: { ENV_DUMP: dump, MODEL_SETTING: 'from-model', SHARED: 'model' },
      },
    });
    containers = new LocalModelContainers(registry, () => '/models/model.tar.gz', [
      process.execPath,
      PRINT_ENV_SERVER,
    ]);
    await containers.resolve('m', {
      SAGEMAKER_BATCH: 'true',
      SAGEMAKER_MAX_PAYLOAD_IN_MB: '6',
      SHARED: 'job',
    });

    const seen = JSON.parse(await readFile(dump, 'utf8')) as { env: Record<string, string>; argv: string[] };
    expect(Object.keys(seen.env).filter((name) => name.startsWith('AWS_'))).toEqual([]);
    expect(seen.env.PIPELINE_HOME).toBeUndefined();
    expect(seen.env).toMatchObject({
      MODEL_SETTING: 'from-model',
      SAGEMAKER_BATCH: 'true',
      SAGEMAKER_MAX_PAYLOAD_IN_MB: '6',
      // The job's Environment wins over the model's, as in SageMaker.
      SHARED: 'job',
    });
    expect(seen.env.PATH).toBe(process.env.PATH);
    // Only what Node needs to start comes from the caller (plus what Node itself sets in a child).
    const allowed = new Set(['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'SYSTEMROOT']);
    const given = new Set([
      'ENV_DUMP',
      'MODEL_SETTING',
      'SHARED',
      'SAGEMAKER_BATCH',
      'SAGEMAKER_MAX_PAYLOAD_IN_MB',
    ]);
    const fromCaller = Object.keys(seen.env).filter(
      (name) => !given.has(name) && process.env[name] !== undefined,
    );
    expect(fromCaller.filter((name) => !allowed.has(name))).toEqual([]);
    expect(seen.argv).toEqual(['--model', '/models/model.tar.gz', '--port', '0']);
  });
});
