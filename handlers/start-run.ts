// StartRun on AWS: S3 for the run template, Step Functions to start the execution.
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { s3ClientOptions } from '../src/aws/clients.js';
import { loadAwsConfig, requireStateMachineArn } from '../src/aws/config.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { SfnStarter } from '../src/aws/sfn-starter.js';
import { createStartRunHandler } from '../src/steps/start-run.js';

const config = loadAwsConfig();
const deps = {
  starter: new SfnStarter(new SFNClient({}), requireStateMachineArn(config)),
  store: new S3ObjectStore(new S3Client(s3ClientOptions())),
  settings: {
    bucket: config.resultsBucket,
    inputPrefix: config.inputPrefix,
    inputSuffixes: config.inputSuffixes,
    runMarker: config.runMarker,
    runTemplateUri: `s3://${config.resultsBucket}/${config.runTemplateKey}`,
  },
};

export const handler = createStartRunHandler(() => deps);
