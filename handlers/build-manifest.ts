// BuildManifest on AWS: S3 for inputs, manifests and the plan; SageMaker only to ask whether a model exists.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { s3ClientOptions } from '../src/aws/clients.js';
import { loadAwsConfig, pipelineSettingsFrom } from '../src/aws/config.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { sageMakerModelExists } from '../src/aws/sagemaker-models.js';
import { listQueryNames } from '../src/query-files.js';
import { createBuildManifestHandler } from '../src/steps/build-manifest.js';

const config = loadAwsConfig();
const deps = {
  store: new S3ObjectStore(new S3Client(s3ClientOptions())),
  settings: pipelineSettingsFrom(config),
  modelExists: sageMakerModelExists(new SageMakerClient({})),
  ...knownQueries(),
};

/** The named queries packaged with the function (queries/, see serverless.yml), checked at plan time. */
function knownQueries(): { knownQueries?: () => Promise<string[]> } {
  const directory = join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), 'queries');
  return existsSync(directory) ? { knownQueries: () => listQueryNames(directory) } : {};
}

export const handler = createBuildManifestHandler(() => deps);
