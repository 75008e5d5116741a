import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AthenaClient } from '@aws-sdk/client-athena';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { BuildManifestDeps } from '../core/build-manifest.js';
import type { PipelineSettings } from '../core/run-request.js';
import type { StartRunDeps } from '../core/start-run.js';
import { createQueryLoader } from '../query-files.js';
import { AthenaQueryEngine } from './athena-query-engine.js';
import { type AwsConfig, loadAwsConfig, requireStateMachineArn } from './config.js';
import { GlueCatalog } from './glue-catalog.js';
import { S3ObjectStore } from './s3-object-store.js';
import { sageMakerModelExists } from './sagemaker-models.js';
import { SfnStarter } from './sfn-starter.js';

/** Everything the Lambda handlers need on AWS: config, the port adapters, and ready-made deps. */
export interface AwsRuntime {
  readonly config: AwsConfig;
  readonly settings: PipelineSettings;
  readonly store: S3ObjectStore;
  readonly catalog: GlueCatalog;
  readonly queryEngine: AthenaQueryEngine;
  readonly loadQuery: (name: string) => Promise<string>;
  readonly modelExists: (modelName: string) => Promise<boolean>;
  readonly buildManifestDeps: BuildManifestDeps;
  /** StartRun's deps; only the startRun function has STATE_MACHINE_ARN, so they are built on demand. */
  readonly startRunDeps: () => StartRunDeps;
}

let runtime: AwsRuntime | undefined;

/**
 * The AWS adapters, built once per Lambda container on first use: env vars are read and SDK clients
 * created here, not at import, so importing a handler module (as the local runner and tests do) needs
 * no AWS environment. SDK v3 honours AWS_ENDPOINT_URL(_S3, …) for endpoint overrides.
 *
 * @throws Error "X is required" on first use when a required env var is missing.
 */
export function getAwsRuntime(): AwsRuntime {
  runtime ??= createAwsRuntime(loadAwsConfig());
  return runtime;
}

/** Builds a runtime from an explicit config (tests; getAwsRuntime() memoizes one from the env). */
export function createAwsRuntime(config: AwsConfig): AwsRuntime {
  const s3 = new S3Client({});
  const store = new S3ObjectStore(s3);
  const settings: PipelineSettings = Object.freeze({
    bucket: config.resultsBucket,
    database: config.glueDatabase,
    sagemakerRoleArn: config.sagemakerRoleArn,
    ...(config.transformKmsKeyId ? { transformKmsKeyId: config.transformKmsKeyId } : {}),
    ...(config.transformVolumeKmsKeyId ? { transformVolumeKmsKeyId: config.transformVolumeKmsKeyId } : {}),
    ...(config.subnetIds.length > 0
      ? { vpcConfig: { Subnets: [...config.subnetIds], SecurityGroupIds: [...config.securityGroupIds] } }
      : {}),
  });
  const modelExists = sageMakerModelExists(new SageMakerClient({}));
  let startRunDeps: StartRunDeps | undefined;
  return Object.freeze({
    config,
    settings,
    store,
    catalog: new GlueCatalog(new GlueClient({})),
    queryEngine: new AthenaQueryEngine(new AthenaClient({}), {
      workGroup: config.athenaWorkgroup,
      database: config.glueDatabase,
    }),
    loadQuery: createQueryLoader(queriesDirectory()),
    modelExists,
    buildManifestDeps: { store, settings, modelExists },
    startRunDeps: () => {
      startRunDeps ??= {
        starter: new SfnStarter(new SFNClient({}), requireStateMachineArn(config)),
        store,
        settings: {
          bucket: config.resultsBucket,
          inputPrefix: config.inputPrefix,
          inputSuffixes: config.inputSuffixes,
          runMarker: config.runMarker,
          runTemplateUri: `s3://${config.resultsBucket}/${config.runTemplateKey}`,
        },
      };
      return startRunDeps;
    },
  });
}

/**
 * Where the named queries are: packaged as queries/ at the root of the Lambda bundle (LAMBDA_TASK_ROOT),
 * or the repository's queries/ when running from source.
 */
function queriesDirectory(): string {
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  if (taskRoot && existsSync(join(taskRoot, 'queries'))) return join(taskRoot, 'queries');
  return fileURLToPath(new URL('../../queries/', import.meta.url));
}
