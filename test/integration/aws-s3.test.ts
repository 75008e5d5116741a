/**
 * S3ObjectStore against moto_server (moto's S3 emulator): listing across pages, head/get/put, deletes,
 * and multipart uploads as S3 itself answers them. Throttling and 5xx, which moto cannot be made to
 * return, stay in test/unit/aws-s3.test.ts with aws-sdk-client-mock.
 */
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { ObjectNotFoundError } from '../../src/errors.js';
import { MOTO_CREDENTIALS, MOTO_REGION, type Moto, startMoto, uniqueName } from '../helpers/moto.js';

const MiB = 1024 * 1024;
let moto: Moto;
let s3: S3Client;
let bucket: string;

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client({
    endpoint: moto.endpoint,
    region: MOTO_REGION,
    credentials: MOTO_CREDENTIALS,
    forcePathStyle: true,
  });
  bucket = uniqueName('s3-store');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  s3?.destroy();
  await moto?.stop();
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function bodyOf(key: string): Promise<Buffer> {
  const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await output.Body?.transformToByteArray()) ?? new Uint8Array());
}

describe('S3ObjectStore.list (moto)', () => {
  it('lists every object under a prefix across several pages, and nothing outside it', async () => {
    // 1,005 keys: S3 returns at most 1,000 per ListObjectsV2 page, so the store must follow the token.
    const keys = Array.from({ length: 1005 }, (_, i) => `incoming/many/f-${String(i).padStart(4, '0')}.csv`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys.slice(i, i + 50).map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }))),
      );
    }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'incoming/manyother.csv', Body: 'y' }));

    const objects = await collect(new S3ObjectStore(s3).list(`s3://${bucket}/incoming/many/`));

    expect(objects.map((o) => o.uri)).toEqual(keys.map((key) => `s3://${bucket}/${key}`));
    expect(objects.every((o) => o.size === 1 && typeof o.etag === 'string' && !o.etag.includes('"'))).toBe(
      true,
    );
  });

  it('yields nothing for a prefix with no objects', async () => {
    expect(await collect(new S3ObjectStore(s3).list(`s3://${bucket}/runs/none/`))).toEqual([]);
  });
});

describe('S3ObjectStore.head, getBytes, getStream, put (moto)', () => {
  it('writes an object with its content type and reads it back whole and as a stream', async () => {
    const store = new S3ObjectStore(s3);
    const uri = `s3://${bucket}/runs/r1/plan.json`;
    await store.put(uri, '{"jobs":2}', { contentType: 'application/json' });

    const head = await store.head(uri);
    expect(head).toMatchObject({ uri, size: 10 });
    const raw = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'runs/r1/plan.json' }));
    expect(raw.ContentType).toBe('application/json');
    expect(head?.etag).toBe(raw.ETag?.replace(/"/g, ''));
    expect(Buffer.from(await store.getBytes(uri)).toString('utf8')).toBe('{"jobs":2}');
    const chunks: Buffer[] = [];
    for await (const chunk of await store.getStream(uri)) chunks.push(Buffer.from(chunk as Uint8Array));
    expect(Buffer.concat(chunks).toString('utf8')).toBe('{"jobs":2}');
  });

  it('returns undefined from head and throws ObjectNotFoundError from get for a missing key', async () => {
    const store = new S3ObjectStore(s3);
    const uri = `s3://${bucket}/runs/r1/missing.csv`;
    expect(await store.head(uri)).toBeUndefined();
    await expect(store.getBytes(uri)).rejects.toThrow(ObjectNotFoundError);
    await expect(store.getStream(uri)).rejects.toThrow(`Object not found: ${uri}`);
  });

  it('keeps a missing bucket a deployment error, not a missing object', async () => {
    const store = new S3ObjectStore(s3);
    await expect(store.getBytes(`s3://${uniqueName('no-such-bucket')}/k`)).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
  });
});

describe('S3ObjectStore.delete (moto)', () => {
  it('removes the object, and deleting it again succeeds (S3 deletes are idempotent)', async () => {
    const store = new S3ObjectStore(s3);
    const uri = `s3://${bucket}/results/t/part-0000.json`;
    await store.put(uri, '{"a":1}\n');
    await store.delete(uri);
    expect(await store.head(uri)).toBeUndefined();
    await expect(store.delete(uri)).resolves.toBeUndefined();
  });
});

describe('S3ObjectStore.putStream (moto)', () => {
  it('writes a small body in one request', async () => {
    const store = new S3ObjectStore(s3);
    await store.putStream(`s3://${bucket}/results/t/small.json`, Readable.from([Buffer.from('{"a":1}\n')]), {
      contentType: 'application/x-ndjson',
    });
    expect((await bodyOf('results/t/small.json')).toString('utf8')).toBe('{"a":1}\n');
  });

  it('writes a stream larger than one part as a multipart upload with every byte in order', async () => {
    const store = new S3ObjectStore(s3, { partSizeBytes: 5 * MiB, queueSize: 2 });
    const chunks = [6 * MiB, 3 * MiB, 2 * MiB + 17].map((size, i) => Buffer.alloc(size, 65 + i));
    const key = 'results/t/big.json';

    await store.putStream(`s3://${bucket}/${key}`, Readable.from(chunks));

    const written = await bodyOf(key);
    expect(written.length).toBe(11 * MiB + 17);
    expect(written.equals(Buffer.concat(chunks))).toBe(true);
    // A multipart object's ETag is "<md5 of part md5s>-<part count>": 11 MiB in 5 MiB parts is 3 parts.
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ETag?.replace(/"/g, '')).toMatch(/-3$/);
  });

  it('leaves no object and no open upload when the stream fails midway', async () => {
    const store = new S3ObjectStore(s3, { partSizeBytes: 5 * MiB });
    const key = 'results/t/broken.json';
    async function* body() {
      yield Buffer.alloc(6 * MiB, 1);
      throw new Error('model output truncated');
    }

    await expect(store.putStream(`s3://${bucket}/${key}`, body())).rejects.toThrow('model output truncated');

    expect(await store.head(`s3://${bucket}/${key}`)).toBeUndefined();
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });
});
