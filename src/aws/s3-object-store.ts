import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { parseS3Uri } from '../core/s3-uri.js';
import { ObjectNotFoundError } from '../errors.js';
import type { ObjectInfo, ObjectStore, PutOptions } from '../ports.js';
import { errorNameOf, httpStatusOf, rethrowSdkError } from './sdk-errors.js';

export interface S3ObjectStoreOptions {
  /** Multipart part size for putStream (S3's minimum, 5 MiB, unless a larger one is given). */
  partSizeBytes?: number;
  /** Parts uploaded in parallel by putStream. */
  queueSize?: number;
}

/**
 * The ObjectStore port over S3. Missing objects become ObjectNotFoundError (or `undefined` from head),
 * throttling, 5xx and broken connections become TransientError; anything else is rethrown as is.
 */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly partSizeBytes: number;
  private readonly queueSize: number;

  constructor(client: S3Client, options: S3ObjectStoreOptions = {}) {
    this.client = client;
    this.partSizeBytes = options.partSizeBytes ?? 5 * 1024 * 1024;
    this.queueSize = options.queueSize ?? 4;
  }

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    const { bucket, key: prefix } = parseS3Uri(prefixUri);
    let continuationToken: string | undefined;
    do {
      const page = await this.send(
        () =>
          this.client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ...(continuationToken ? { ContinuationToken: continuationToken } : {}),
            }),
          ),
        `S3 ListObjectsV2 ${prefixUri}`,
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          uri: `s3://${bucket}/${object.Key}`,
          size: object.Size ?? 0,
          ...(object.ETag ? { etag: unquote(object.ETag) } : {}),
          ...(object.LastModified ? { lastModified: object.LastModified } : {}),
        };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async head(uri: string): Promise<ObjectInfo | undefined> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const output = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        uri,
        size: output.ContentLength ?? 0,
        ...(output.ETag ? { etag: unquote(output.ETag) } : {}),
        ...(output.LastModified ? { lastModified: output.LastModified } : {}),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      rethrowSdkError(error, `S3 HeadObject ${uri}`);
    }
  }

  async getBytes(uri: string): Promise<Uint8Array> {
    const body = await this.getBody(uri);
    return body.transformToByteArray();
  }

  async getStream(uri: string): Promise<Readable> {
    const body = await this.getBody(uri);
    // In Node the SDK's body is an http.IncomingMessage (a Readable) with SDK helpers mixed in.
    if (body instanceof Readable) return body;
    return Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0]);
  }

  async put(uri: string, body: string | Uint8Array, options: PutOptions = {}): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.send(
      () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ...(options.contentType ? { ContentType: options.contentType } : {}),
          }),
        ),
      `S3 PutObject ${uri}`,
    );
  }

  /**
   * Streams a body to S3 with a multipart upload (a single PutObject when it fits in one part). S3
   * shows the object only once CompleteMultipartUpload succeeds, so a failed stream leaves nothing
   * under the key; the upload is aborted so its parts are not billed (the bucket's lifecycle rule
   * cleans up after a crashed Lambda that could not abort).
   */
  async putStream(
    uri: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: bucket,
        Key: key,
        Body: body instanceof Readable ? body : Readable.from(body),
        ...(options.contentType ? { ContentType: options.contentType } : {}),
      },
      partSize: this.partSizeBytes,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    await this.send(() => upload.done(), `S3 upload ${uri}`);
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.send(
      () => this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
      `S3 DeleteObject ${uri}`,
    );
  }

  private async getBody(uri: string) {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!output.Body) throw new ObjectNotFoundError(`S3 returned no body for ${uri}`);
      return output.Body;
    } catch (error) {
      if (isNotFound(error)) {
        throw new ObjectNotFoundError(`Object not found: ${uri}`, { cause: error });
      }
      rethrowSdkError(error, `S3 GetObject ${uri}`);
    }
  }

  private async send<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      rethrowSdkError(error, what);
    }
  }
}

// HeadObject has no body, so S3 can only say 404 ("NotFound"); GetObject says NoSuchKey. A missing
// bucket is a deployment error, not a missing object, and stays as it is.
function isNotFound(error: unknown): boolean {
  const name = errorNameOf(error);
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatusOf(error) === 404;
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}
