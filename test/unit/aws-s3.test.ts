/**
 * The S3ObjectStore's error mapping for answers moto_server cannot be made to give (throttling, 5xx,
 * access denied). Everything S3 answers normally is tested against moto in
 * test/integration/aws-s3.test.ts.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { TransientError } from '../../src/errors.js';

const s3 = mockClient(S3Client);
const store = () => new S3ObjectStore(new S3Client({ region: 'us-east-1' }));

const serviceError = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });

beforeEach(() => {
  s3.reset();
});

describe('S3ObjectStore error mapping', () => {
  it('turns a throttled request into a TransientError', async () => {
    s3.on(HeadObjectCommand).rejects(serviceError('SlowDown', 503));
    await expect(store().head('s3://bucket/k')).rejects.toBeInstanceOf(TransientError);
  });

  it('rethrows access denied unchanged, as a terminal error', async () => {
    s3.on(HeadObjectCommand).rejects(serviceError('AccessDenied', 403));
    await expect(store().head('s3://bucket/k')).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('turns a 500 into a TransientError', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('InternalError', 500));
    await expect(store().getBytes('s3://bucket/k')).rejects.toBeInstanceOf(TransientError);
  });
});
