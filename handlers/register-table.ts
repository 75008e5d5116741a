// RegisterTable on AWS: the Glue catalog (the partition switch), and S3 (the job results it registers;
// earlier attempts' files deleted after the switch).
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import { s3ClientOptions } from '../src/aws/clients.js';
import { GlueCatalog } from '../src/aws/glue-catalog.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { createRegisterTableHandler } from '../src/steps/register-table.js';

const deps = {
  catalog: new GlueCatalog(new GlueClient({})),
  store: new S3ObjectStore(new S3Client(s3ClientOptions())),
};

export const handler = createRegisterTableHandler(() => deps);
