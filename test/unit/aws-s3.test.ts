import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { ObjectNotFoundError, TransientError } from '../../src/errors.js';

const s3 = mockClient(S3Client);
const store = () =>
  new S3ObjectStore(new S3Client({ region: 'us-east-1' }), { partSizeBytes: 5 * 1024 * 1024 });

/** A GetObject body as the SDK gives it in Node: a Readable with the SDK's helpers mixed in. */
function sdkBody(text: string) {
  const bytes = new TextEncoder().encode(text);
  return Object.assign(Readable.from([Buffer.from(bytes)]), {
    transformToByteArray: async () => bytes,
    transformToString: async () => text,
    transformToWebStream: () => {
      throw new Error('not used in Node');
    },
  });
}

const serviceError = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

beforeEach(() => {
  s3.reset();
});

describe('S3ObjectStore.list', () => {
  it('follows continuation tokens until the listing is complete', async () => {
    s3.on(ListObjectsV2Command, { Bucket: 'bucket', Prefix: 'incoming/day/' })
      .resolves({
        IsTruncated: true,
        NextContinuationToken: 'page-2',
        Contents: [{ Key: 'incoming/day/a.csv', Size: 10, ETag: '"e1"', LastModified: new Date(0) }],
      })
      .on(ListObjectsV2Command, { Bucket: 'bucket', Prefix: 'incoming/day/', ContinuationToken: 'page-2' })
      .resolves({ IsTruncated: false, Contents: [{ Key: 'incoming/day/b.csv', Size: 20, ETag: '"e2"' }] });

    const objects = await collect(store().list('s3://bucket/incoming/day/'));

    expect(objects).toEqual([
      { uri: 's3://bucket/incoming/day/a.csv', size: 10, etag: 'e1', lastModified: new Date(0) },
      { uri: 's3://bucket/incoming/day/b.csv', size: 20, etag: 'e2' },
    ]);
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual([
      { Bucket: 'bucket', Prefix: 'incoming/day/' },
      { Bucket: 'bucket', Prefix: 'incoming/day/', ContinuationToken: 'page-2' },
    ]);
  });

  it('yields nothing for an empty prefix', async () => {
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, KeyCount: 0 });
    expect(await collect(store().list('s3://bucket/runs/none/'))).toEqual([]);
  });
});

describe('S3ObjectStore.head', () => {
  it('returns size and unquoted ETag of an existing object', async () => {
    s3.on(HeadObjectCommand, { Bucket: 'bucket', Key: 'runs/r1/plan.json' }).resolves({
      ContentLength: 42,
      ETag: '"abc"',
    });
    expect(await store().head('s3://bucket/runs/r1/plan.json')).toEqual({
      uri: 's3://bucket/runs/r1/plan.json',
      size: 42,
      etag: 'abc',
    });
  });

  it('returns undefined for a missing object', async () => {
    s3.on(HeadObjectCommand).rejects(
      new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }),
    );
    expect(await store().head('s3://bucket/runs/r1/plan.json')).toBeUndefined();
  });

  it('turns a throttled request into a TransientError', async () => {
    s3.on(HeadObjectCommand).rejects(serviceError('SlowDown', 503));
    await expect(store().head('s3://bucket/k')).rejects.toBeInstanceOf(TransientError);
  });

  it('rethrows access denied unchanged, as a terminal error', async () => {
    s3.on(HeadObjectCommand).rejects(serviceError('AccessDenied', 403));
    await expect(store().head('s3://bucket/k')).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('S3ObjectStore.getBytes and getStream', () => {
  it('reads the whole body of an object', async () => {
    s3.on(GetObjectCommand, { Bucket: 'bucket', Key: 'runs/r1/manifests/shard-0000.manifest' }).resolves({
      Body: sdkBody('[{"prefix":"s3://bucket/incoming/"}]') as never,
    });
    const bytes = await store().getBytes('s3://bucket/runs/r1/manifests/shard-0000.manifest');
    expect(Buffer.from(bytes).toString('utf8')).toBe('[{"prefix":"s3://bucket/incoming/"}]');
  });

  it('streams the body of an object', async () => {
    s3.on(GetObjectCommand, { Bucket: 'bucket', Key: 'runs/r1/transform/a.csv.out' }).resolves({
      Body: sdkBody('0.1\n0.9\n') as never,
    });
    const stream = await store().getStream('s3://bucket/runs/r1/transform/a.csv.out');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    expect(Buffer.concat(chunks).toString('utf8')).toBe('0.1\n0.9\n');
  });

  it('throws ObjectNotFoundError naming the URI when the key does not exist', async () => {
    s3.on(GetObjectCommand).rejects(
      new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }),
    );
    await expect(store().getBytes('s3://bucket/missing.csv')).rejects.toThrow(ObjectNotFoundError);
    await expect(store().getStream('s3://bucket/missing.csv')).rejects.toThrow(
      'Object not found: s3://bucket/missing.csv',
    );
  });

  it('turns a 500 into a TransientError', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('InternalError', 500));
    await expect(store().getBytes('s3://bucket/k')).rejects.toBeInstanceOf(TransientError);
  });
});

describe('S3ObjectStore.put and delete', () => {
  it('writes a whole body with its content type', async () => {
    s3.on(PutObjectCommand).resolves({});
    await store().put('s3://bucket/runs/r1/plan.json', '{}', { contentType: 'application/json' });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'bucket',
      Key: 'runs/r1/plan.json',
      Body: '{}',
      ContentType: 'application/json',
    });
  });

  it('deletes one object', async () => {
    s3.on(DeleteObjectCommand).resolves({});
    await store().delete('s3://bucket/results/t/part-0000.json');
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'bucket',
      Key: 'results/t/part-0000.json',
    });
  });
});

describe('S3ObjectStore.putStream', () => {
  const MiB = 1024 * 1024;

  it('writes a body smaller than one part with a single PutObject', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
    await store().putStream(
      's3://bucket/results/t/part-0000.json',
      Readable.from([Buffer.from('{"a":1}\n')]),
      {
        contentType: 'application/x-ndjson',
      },
    );
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'bucket',
      Key: 'results/t/part-0000.json',
      ContentType: 'application/x-ndjson',
    });
    expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
  });

  it('writes a larger stream as a multipart upload that completes with every part', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
    s3.on(UploadPartCommand).callsFake((input: { PartNumber: number }) => ({
      ETag: `"part-${input.PartNumber}"`,
    }));
    s3.on(CompleteMultipartUploadCommand).resolves({});
    async function* body() {
      yield new Uint8Array(6 * MiB);
      yield new Uint8Array(1 * MiB);
    }

    await store().putStream('s3://bucket/results/t/big.json', body());

    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'bucket',
      Key: 'results/t/big.json',
    });
    expect(s3.commandCalls(UploadPartCommand)).toHaveLength(2);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'bucket',
      Key: 'results/t/big.json',
      UploadId: 'upload-1',
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: '"part-1"' },
          { PartNumber: 2, ETag: '"part-2"' },
        ],
      },
    });
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
  });

  it('aborts the multipart upload and never completes it when the stream fails', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-2' });
    s3.on(UploadPartCommand).resolves({ ETag: '"p"' });
    s3.on(AbortMultipartUploadCommand).resolves({});
    async function* body() {
      yield new Uint8Array(6 * MiB);
      throw new Error('model output truncated');
    }

    await expect(store().putStream('s3://bucket/results/t/broken.json', body())).rejects.toThrow(
      'model output truncated',
    );

    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(s3.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toEqual({
      Bucket: 'bucket',
      Key: 'results/t/broken.json',
      UploadId: 'upload-2',
    });
  });
});
