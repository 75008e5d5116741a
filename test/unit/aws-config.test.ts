import { describe, expect, it } from 'vitest';
import { loadAwsConfig, pipelineSettingsFrom, requireStateMachineArn } from '../../src/aws/config.js';
import { ConfigError } from '../../src/errors.js';

const ENV = {
  RESULTS_BUCKET: 'pipeline-bucket',
  GLUE_DATABASE: 'batch_pipeline_dev',
  ATHENA_WORKGROUP: 'sagemaker-batch-pipeline-dev',
  SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/sagemaker',
};

describe('loadAwsConfig', () => {
  it('reads the settings and fills in defaults for the optional ones', () => {
    expect(loadAwsConfig({ ...ENV })).toEqual({
      resultsBucket: 'pipeline-bucket',
      inputPrefix: 'incoming/',
      inputSuffixes: [],
      runMarker: undefined,
      runTemplateKey: 'config/run-template.json',
      glueDatabase: 'batch_pipeline_dev',
      athenaWorkgroup: 'sagemaker-batch-pipeline-dev',
      stateMachineArn: undefined,
      sagemakerRoleArn: 'arn:aws:iam::123456789012:role/sagemaker',
      transformKmsKeyId: undefined,
      transformVolumeKmsKeyId: undefined,
      subnetIds: [],
      securityGroupIds: [],
      imageRepositories: [],
    });
  });

  it('splits lists, adds the trailing slash to the prefix and treats empty strings as unset', () => {
    const config = loadAwsConfig({
      ...ENV,
      INPUT_PREFIX: 'uploads',
      INPUT_SUFFIXES: '.csv, .csv.gz,,.jsonl',
      RUN_MARKER: '',
      TRANSFORM_KMS_KEY_ID: '',
      SUBNET_IDS: 'subnet-1,subnet-2',
      SECURITY_GROUP_IDS: 'sg-1',
    });
    expect(config.inputPrefix).toBe('uploads/');
    expect(config.inputSuffixes).toEqual(['.csv', '.csv.gz', '.jsonl']);
    expect(config.runMarker).toBeUndefined();
    expect(config.transformKmsKeyId).toBeUndefined();
    expect(config.subnetIds).toEqual(['subnet-1', 'subnet-2']);
  });

  it('returns a frozen object', () => {
    const config = loadAwsConfig({ ...ENV });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.inputSuffixes)).toBe(true);
  });

  it.each(Object.keys(ENV))('fails fast when %s is missing', (name) => {
    const env: Record<string, string> = { ...ENV };
    delete env[name];
    expect(() => loadAwsConfig(env)).toThrow(`${name} is required`);
    expect(() => loadAwsConfig(env)).toThrow(ConfigError);
  });

  it('refuses subnets without security groups', () => {
    expect(() => loadAwsConfig({ ...ENV, SUBNET_IDS: 'subnet-1' })).toThrow(
      'SECURITY_GROUP_IDS is required when SUBNET_IDS is set',
    );
  });

  it('requires the state machine ARN only where it is used', () => {
    expect(() => requireStateMachineArn(loadAwsConfig({ ...ENV }))).toThrow('STATE_MACHINE_ARN is required');
    const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:m';
    expect(requireStateMachineArn(loadAwsConfig({ ...ENV, STATE_MACHINE_ARN: arn }))).toBe(arn);
  });
});

describe('pipelineSettingsFrom', () => {
  it('passes the bucket, database, role and the safety settings, and no optional setting that is unset', () => {
    expect(
      pipelineSettingsFrom(
        loadAwsConfig({
          ...ENV,
          INPUT_PREFIX: 'uploads/',
          IMAGE_REPOSITORIES: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost',
        }),
      ),
    ).toEqual({
      bucket: 'pipeline-bucket',
      database: 'batch_pipeline_dev',
      sagemakerRoleArn: 'arn:aws:iam::123456789012:role/sagemaker',
      inputPrefixUri: 's3://pipeline-bucket/uploads/',
      imageRepositories: ['683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost'],
    });
  });

  it('passes the KMS keys and the VPC when they are configured', () => {
    const settings = pipelineSettingsFrom(
      loadAwsConfig({
        ...ENV,
        TRANSFORM_KMS_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/k1',
        TRANSFORM_VOLUME_KMS_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/k2',
        SUBNET_IDS: 'subnet-1,subnet-2',
        SECURITY_GROUP_IDS: 'sg-1',
      }),
    );
    expect(settings).toMatchObject({
      transformKmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/k1',
      transformVolumeKmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/k2',
      vpcConfig: { Subnets: ['subnet-1', 'subnet-2'], SecurityGroupIds: ['sg-1'] },
    });
  });
});
