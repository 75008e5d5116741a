import { TransientError } from '../errors.js';

/** The parts of an AWS SDK v3 service exception this module reads. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

// Error names AWS services use for throttling; the SDK already retried these (3 attempts by default),
// so reaching us means the service stayed busy and the state machine's backoff should take over.
const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServiceException',
  'InternalServerException',
  'InternalFailure',
  'InternalError',
]);

// Errors thrown below the service layer when a connection breaks or times out.
const NETWORK_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND']);

/** The HTTP status of an SDK error, when the service answered at all. */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** The service's error name (`NoSuchKey`, `AlreadyExistsException`…). */
export function errorNameOf(error: unknown): string | undefined {
  return (error as SdkErrorShape | undefined)?.name;
}

/** Whether an SDK error is worth retrying later: throttling, a 5xx, or a broken connection. */
export function isTransientSdkError(error: unknown): boolean {
  const shape = error as SdkErrorShape | undefined;
  if (!shape || typeof shape !== 'object') return false;
  if (shape.$retryable?.throttling) return true;
  if (shape.name && (THROTTLING_NAMES.has(shape.name) || NETWORK_NAMES.has(shape.name))) return true;
  if (shape.code && NETWORK_CODES.has(shape.code)) return true;
  const status = shape.$metadata?.httpStatusCode;
  return status !== undefined && (status >= 500 || status === 429);
}

/**
 * Rethrows an SDK error as a TransientError when a retry may cure it (so the state machine's Retry on
 * `TransientError` applies), and unchanged otherwise (terminal: the Catch path records it).
 *
 * @param what names the operation in the message ("S3 GetObject s3://b/k")
 */
export function rethrowSdkError(error: unknown, what: string): never {
  if (isTransientSdkError(error)) {
    const name = errorNameOf(error) ?? 'Error';
    const message = error instanceof Error ? error.message : String(error);
    throw new TransientError(`${what} failed (${name}): ${message}`, { cause: error });
  }
  throw error;
}
