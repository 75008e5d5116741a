// ParseResults on AWS: S3 only.
import { S3Client } from '@aws-sdk/client-s3';
import { s3ClientOptions } from '../src/aws/clients.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { createParseResultsHandler } from '../src/steps/parse-results.js';

const deps = { store: new S3ObjectStore(new S3Client(s3ClientOptions())) };

export const handler = createParseResultsHandler(() => deps);
