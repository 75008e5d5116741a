/**
 * The deployment's settings, read from the Lambda environment (serverless.yml provider.environment)
 * once per container, when a handler module (handlers/*.ts) is loaded. The local runner never loads
 * handlers/: it uses the step factories in src/steps/ with local adapters.
 */
import type { PipelineSettings } from '../core/run-request.js';
import { ConfigError } from '../errors.js';

export interface AwsConfig {
  /** The bucket holding incoming/, runs/, results/ and athena-results/. */
  readonly resultsBucket: string;
  /** Uploads under this key prefix start runs (always ends in `/`). */
  readonly inputPrefix: string;
  /** Only keys ending in one of these start runs; empty means any key. */
  readonly inputSuffixes: readonly string[];
  /** When set, only an object with this file name starts a run, for its whole folder. */
  readonly runMarker: string | undefined;
  /** Key, in the results bucket, of the run request template used for uploads (models, transform…). */
  readonly runTemplateKey: string;
  readonly glueDatabase: string;
  readonly athenaWorkgroup: string;
  /** Only the startRun function gets it; see requireStateMachineArn(). */
  readonly stateMachineArn: string | undefined;
  readonly sagemakerRoleArn: string;
  readonly transformKmsKeyId: string | undefined;
  readonly transformVolumeKmsKeyId: string | undefined;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  /** ECR repositories models may use (IMAGE_REPOSITORIES, written by src/aws/serverless-params.cjs). */
  readonly imageRepositories: readonly string[];
}

type Env = Record<string, string | undefined>;

/**
 * Reads and checks every env var the Lambdas use.
 *
 * @throws ConfigError `"X is required"` for a missing required variable, and for half a VPC configuration.
 */
export function loadAwsConfig(env: Env = process.env): AwsConfig {
  const subnetIds = list(env.SUBNET_IDS);
  const securityGroupIds = list(env.SECURITY_GROUP_IDS);
  if (subnetIds.length > 0 && securityGroupIds.length === 0) {
    throw new ConfigError('SECURITY_GROUP_IDS is required when SUBNET_IDS is set');
  }
  if (securityGroupIds.length > 0 && subnetIds.length === 0) {
    throw new ConfigError('SUBNET_IDS is required when SECURITY_GROUP_IDS is set');
  }
  const inputPrefix = optional(env.INPUT_PREFIX) ?? 'incoming/';
  return Object.freeze({
    resultsBucket: required(env, 'RESULTS_BUCKET'),
    inputPrefix: inputPrefix.endsWith('/') ? inputPrefix : `${inputPrefix}/`,
    inputSuffixes: Object.freeze(list(env.INPUT_SUFFIXES)),
    runMarker: optional(env.RUN_MARKER),
    runTemplateKey: optional(env.RUN_TEMPLATE_KEY) ?? 'config/run-template.json',
    glueDatabase: required(env, 'GLUE_DATABASE'),
    athenaWorkgroup: required(env, 'ATHENA_WORKGROUP'),
    stateMachineArn: optional(env.STATE_MACHINE_ARN),
    sagemakerRoleArn: required(env, 'SAGEMAKER_ROLE_ARN'),
    transformKmsKeyId: optional(env.TRANSFORM_KMS_KEY_ID),
    transformVolumeKmsKeyId: optional(env.TRANSFORM_VOLUME_KMS_KEY_ID),
    subnetIds: Object.freeze(subnetIds),
    securityGroupIds: Object.freeze(securityGroupIds),
    imageRepositories: Object.freeze(list(env.IMAGE_REPOSITORIES)),
  });
}

/** The settings BuildManifest plans with, from the deployment's config. */
export function pipelineSettingsFrom(config: AwsConfig): PipelineSettings {
  return Object.freeze({
    bucket: config.resultsBucket,
    database: config.glueDatabase,
    sagemakerRoleArn: config.sagemakerRoleArn,
    ...(config.transformKmsKeyId ? { transformKmsKeyId: config.transformKmsKeyId } : {}),
    ...(config.transformVolumeKmsKeyId ? { transformVolumeKmsKeyId: config.transformVolumeKmsKeyId } : {}),
    ...(config.subnetIds.length > 0
      ? { vpcConfig: { Subnets: [...config.subnetIds], SecurityGroupIds: [...config.securityGroupIds] } }
      : {}),
    inputPrefixUri: `s3://${config.resultsBucket}/${config.inputPrefix}`,
    // Packaging always writes the list; an empty one (a handler run outside the stack) allows nothing.
    imageRepositories: config.imageRepositories,
  });
}

/**
 * The state machine ARN, which only the startRun function is given.
 *
 * @throws ConfigError "STATE_MACHINE_ARN is required" when it is not set.
 */
export function requireStateMachineArn(config: AwsConfig): string {
  if (!config.stateMachineArn) throw new ConfigError('STATE_MACHINE_ARN is required');
  return config.stateMachineArn;
}

function required(env: Env, name: string): string {
  const value = optional(env[name]);
  if (value === undefined) throw new ConfigError(`${name} is required`);
  return value;
}

// serverless.yml passes unset optional parameters as empty strings: treat them as absent.
function optional(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
