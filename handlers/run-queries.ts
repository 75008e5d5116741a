// RunQueries on AWS: Athena for the queries, S3 for the run summary.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { AthenaQueryEngine } from '../src/aws/athena-query-engine.js';
import { s3ClientOptions } from '../src/aws/clients.js';
import { loadAwsConfig } from '../src/aws/config.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { createQueryLoader } from '../src/query-files.js';
import { createRunQueriesHandler } from '../src/steps/run-queries.js';

const config = loadAwsConfig();
const deps = {
  store: new S3ObjectStore(new S3Client(s3ClientOptions())),
  queryEngine: new AthenaQueryEngine(new AthenaClient({}), {
    workGroup: config.athenaWorkgroup,
    database: config.glueDatabase,
  }),
  loadQuery: createQueryLoader(queriesDirectory()),
};

export const handler = createRunQueriesHandler(() => deps);

/**
 * Where the named queries are: packaged as queries/ at the root of the Lambda bundle (LAMBDA_TASK_ROOT),
 * or the repository's queries/ when running from source.
 */
function queriesDirectory(): string {
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  if (taskRoot && existsSync(join(taskRoot, 'queries'))) return join(taskRoot, 'queries');
  return fileURLToPath(new URL('../queries/', import.meta.url));
}
