import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { containerProcessEnvironment } from '../../src/local/model-containers.js';

describe('containerProcessEnvironment', () => {
  it("gives a container the model and batch variables and what Node needs, never the caller's AWS credentials", () => {
    const parent = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
      AWS_PROFILE: 'prod',
      PIPELINE_HOME: '/somewhere/private',
    };
    const env = containerProcessEnvironment(
      { SAGEMAKER_BATCH: 'true', SAGEMAKER_MAX_PAYLOAD_IN_MB: '6', MODEL_SETTING: 'x' },
      parent,
    );
    // A container that prints its own environment: what it sees is what it was given.
    const echoed = spawnSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))'], {
      env,
      encoding: 'utf8',
    });
    expect(echoed.status).toBe(0);
    const seen = JSON.parse(echoed.stdout) as Record<string, string>;
    expect(Object.keys(seen).filter((name) => name.startsWith('AWS_'))).toEqual([]);
    expect(seen.PIPELINE_HOME).toBeUndefined();
    expect(seen).toMatchObject({
      SAGEMAKER_BATCH: 'true',
      SAGEMAKER_MAX_PAYLOAD_IN_MB: '6',
      MODEL_SETTING: 'x',
    });
    expect(seen.PATH).toBe(process.env.PATH);
  });
});
