// RecordFailure on AWS: S3 (failure.json, the failed attempt's files) and Glue (a run that failed after
// RegisterTable's switch is switched back to its previous partitions).
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { s3ClientOptions } from '../src/aws/clients.js';
import { loadAwsConfig } from '../src/aws/config.js';
import { GlueCatalog } from '../src/aws/glue-catalog.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { createRecordFailureHandler } from '../src/steps/record-failure.js';

const config = loadAwsConfig();
const deps = {
  store: new S3ObjectStore(new S3Client(s3ClientOptions())),
  bucket: config.resultsBucket,
  catalog: new GlueCatalog(new GlueClient({})),
  now: () => new Date(),
};

export const handler = createRecordFailureHandler(() => deps);
