import { describe, expect, it } from 'vitest';
import { checkRunRequest, imageAllowed } from '../../src/core/run-checks.js';
import type { PipelineSettings, RunRequest } from '../../src/core/run-request.js';
import { InvalidInputError } from '../../src/errors.js';

const XGBOOST = '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost';
const OWN = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const settings: PipelineSettings = {
  bucket: 'pipeline-bucket',
  database: 'db',
  sagemakerRoleArn: 'arn:aws:iam::123456789012:role/sagemaker',
  inputPrefixUri: 's3://pipeline-bucket/incoming/',
  imageRepositories: [XGBOOST, `${OWN}/*`],
};
const request = (input: string, image?: string): RunRequest => ({
  input,
  models: [
    { variant: 'a', modelName: 'existing' },
    ...(image ? [{ variant: 'b', image, modelDataUrl: 's3://pipeline-bucket/models/m.tar.gz' }] : []),
  ],
});

describe('checkRunRequest against the deployment settings (inputPrefix, imageRepositories)', () => {
  it('accepts inputs under the input prefix and images from allowed repositories, by tag or digest', () => {
    for (const image of [`${XGBOOST}:1.7-1`, `${XGBOOST}@sha256:abc`, `${OWN}/team/scorer:v2`]) {
      expect(() =>
        checkRunRequest(request('s3://pipeline-bucket/incoming/day/', image), { deployment: settings }),
      ).not.toThrow();
    }
  });

  it('refuses an input outside the input prefix, such as another run, naming the prefix', () => {
    expect(() =>
      checkRunRequest(request('s3://pipeline-bucket/runs/other-run/'), { deployment: settings }),
    ).toThrow(
      new InvalidInputError(
        "input s3://pipeline-bucket/runs/other-run/ is outside this deployment's input prefix s3://pipeline-bucket/incoming/: copy the data under it (runs may read only there)",
      ),
    );
    expect(() =>
      checkRunRequest(request('s3://other-bucket/incoming/x.csv'), { deployment: settings }),
    ).toThrow(InvalidInputError);
  });

  it('refuses an image from a repository that is not allow-listed, naming the field and the parameter', () => {
    for (const image of [
      '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost-evil:1',
      '999999999999.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
      'docker.io/library/python:3',
    ]) {
      expect(() =>
        checkRunRequest(request('s3://pipeline-bucket/incoming/', image), { deployment: settings }),
      ).toThrow(`models[1].image ${image} is not in an allowed repository`);
    }
  });

  it('checks nothing when the deployment sets no limits (local runs)', () => {
    const local: PipelineSettings = {
      bucket: 'b',
      database: 'db',
      sagemakerRoleArn: settings.sagemakerRoleArn,
    };
    expect(() =>
      checkRunRequest(request('s3://anywhere/x.csv', 'docker.io/x:1'), { deployment: local }),
    ).not.toThrow();
  });
});

describe('imageAllowed', () => {
  it('matches the repository exactly, not by prefix', () => {
    expect(imageAllowed(`${XGBOOST}:1.7-1`, XGBOOST)).toBe(true);
    expect(imageAllowed(`${XGBOOST}-gpu:1.7-1`, XGBOOST)).toBe(false);
    expect(imageAllowed(`${OWN}/a/b:1`, `${OWN}/*`)).toBe(true);
    expect(imageAllowed(`${OWN}.evil.com/a:1`, `${OWN}/*`)).toBe(false);
  });
});
