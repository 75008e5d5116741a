// RecordFailure on AWS: S3 only.
import { S3Client } from '@aws-sdk/client-s3';
import { s3ClientOptions } from '../src/aws/clients.js';
import { loadAwsConfig } from '../src/aws/config.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { createRecordFailureHandler } from '../src/steps/record-failure.js';

const config = loadAwsConfig();
const deps = {
  store: new S3ObjectStore(new S3Client(s3ClientOptions())),
  bucket: config.resultsBucket,
  now: () => new Date(),
};

export const handler = createRecordFailureHandler(() => deps);
