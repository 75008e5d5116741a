import { InvalidInputError } from '../errors.js';

/** A parsed `s3://bucket/key` address. `key` may be empty (the bucket root) or end in `/` (a prefix). */
export interface S3Location {
  bucket: string;
  key: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses an `s3://bucket/key` URI.
 *
 * @throws InvalidInputError when the URI is not an S3 URI or the bucket name is not a valid S3 name.
 */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/s.exec(uri);
  if (!match) {
    throw new InvalidInputError(`Not an S3 URI: "${uri}" (expected s3://bucket/key)`);
  }
  const bucket = match[1] ?? '';
  if (!BUCKET_NAME.test(bucket)) {
    throw new InvalidInputError(`Invalid bucket name "${bucket}" in "${uri}"`);
  }
  return { bucket, key: match[2] ?? '' };
}

/** Formats a bucket and key as `s3://bucket/key`. */
export function formatS3Uri(location: S3Location): string {
  return `s3://${location.bucket}/${location.key}`;
}

/** Joins an S3 prefix URI and a relative key with exactly one `/` between them. */
export function joinS3Uri(prefixUri: string, ...parts: string[]): string {
  let out = prefixUri;
  for (const part of parts) {
    if (part === '') continue;
    out = `${out.replace(/\/+$/, '')}/${part.replace(/^\/+/, '')}`;
  }
  return out;
}
