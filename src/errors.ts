/**
 * Every error the pipeline throws on purpose, in one module. The `name` of each class is what the state
 * machine's Retry/Catch matches, so it is set explicitly (bundlers rename classes); every class takes
 * the built-in `ErrorOptions` (`{ cause }`).
 *
 * - {@link PipelineError} is an *expected* failure: bad input, a missing object, a dependency that
 *   failed. Anything else thrown (a TypeError, a plain `Error`) is a bug: {@link isBug}.
 * - Its `kind` is `transient` (a later attempt may succeed: {@link TransientError}, retried by the ASL by
 *   name) or `terminal` (every other class: Catch → RecordFailure → Fail).
 */

/** Whether a later attempt may succeed. */
export type ErrorKind = 'transient' | 'terminal';

/** An expected failure, named for the state machine and the user. */
export class PipelineError extends Error {
  override name = 'PipelineError';
  /** `terminal` unless the class says otherwise. */
  readonly kind: ErrorKind = 'terminal';
}

/** True for anything thrown that is not one of the pipeline's own errors: a bug, not a failure. */
export function isBug(error: unknown): boolean {
  return !(error instanceof PipelineError);
}

/** A dependency (store, catalog, query engine, model container) failed in a way a retry may cure. */
export class TransientError extends PipelineError {
  override name = 'TransientError';
  override readonly kind: ErrorKind = 'transient';
}

/** A request, file or record the pipeline cannot use as given. Retrying will not help. */
export class InvalidInputError extends PipelineError {
  override name = 'InvalidInputError';
}

/** An event or run request that does not match its JSON Schema. */
export class SchemaValidationError extends PipelineError {
  override name = 'SchemaValidationError';
  readonly errors: readonly string[];
  constructor(message: string, errors: readonly string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.errors = errors;
  }
}

/** A required setting (an environment variable on AWS) is missing or inconsistent. */
export class ConfigError extends PipelineError {
  override name = 'ConfigError';
}

/** A command line the CLI cannot act on (unknown flag value, missing file, conflicting options): exit code 2. */
export class UsageError extends PipelineError {
  override name = 'UsageError';
}

/** An object the run needs does not exist in the store. */
export class ObjectNotFoundError extends PipelineError {
  override name = 'ObjectNotFoundError';
}

/**
 * An input object changed (or vanished) after the run was planned: its ETag (locally, size and mtime) is
 * not the one BuildManifest recorded. Reading it would pair new features with a plan, or scores, made
 * for the old version. Terminal: the fix is a new run, not a retry.
 */
export class InputChangedError extends PipelineError {
  override name = 'InputChangedError';
}

/** A record larger than the payload limit: the job must fail naming the object, record and sizes. */
export class RecordTooLargeError extends InvalidInputError {
  override name = 'RecordTooLargeError';
  readonly recordIndex: number;
  readonly recordBytes: number;
  readonly limitBytes: number;
  constructor(
    source: string,
    recordIndex: number,
    recordBytes: number,
    limitBytes: number,
    label = 'record',
    options?: ErrorOptions,
  ) {
    super(
      `${source}: ${label} ${recordIndex} is ${recordBytes} bytes, larger than the MaxPayloadInMB limit of ` +
        `${limitBytes} bytes (${Math.round((limitBytes / (1024 * 1024)) * 1000) / 1000} MB)`,
      options,
    );
    this.recordIndex = recordIndex;
    this.recordBytes = recordBytes;
    this.limitBytes = limitBytes;
  }
}

/**
 * A request's record a model server cannot read: `record` is its 1-based number within the request, and
 * `status` the HTTP status the XGBoost container answers (415 unparseable, 400 unpredictable).
 */
export class InvalidRecordError extends InvalidInputError {
  override name = 'InvalidRecordError';
  readonly record: number;
  readonly status: number;
  constructor(record = 0, problem = 'is invalid', options?: ErrorOptions & { status?: number }) {
    super(`Record ${record} ${problem}`, options);
    this.record = record;
    this.status = options?.status ?? 415;
  }
}

/** A failure that ends a transform job. The message becomes the job's FailureReason. */
export class TransformJobFailedError extends PipelineError {
  override name = 'TransformJobFailedError';
}

/** A transform job was asked to stop (StopTransformJob) and ends as Stopped. */
export class TransformJobStoppedError extends PipelineError {
  override name = 'TransformJobStoppedError';
  constructor(message = 'Stopped by request (StopTransformJob)', options?: ErrorOptions) {
    super(message, options);
  }
}

/** A model container did not answer within the invocation's timeout; retried like SageMaker does. */
export class InvocationTimeoutError extends PipelineError {
  override name = 'InvocationTimeoutError';
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs = 0, options?: ErrorOptions) {
    super(message, options);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The local model registry refusing what SageMaker's CreateModel/DescribeModel would refuse; its name is
 * the error the SageMaker integration raises on AWS for the same mistake, so the ASL treats both alike.
 */
export class SageMakerValidationError extends PipelineError {
  override name = 'SageMaker.AmazonSageMakerException';
}

/** The model's output does not line up with its input (counts differ, unparseable prediction). */
export class PredictionMismatchError extends PipelineError {
  override name = 'PredictionMismatchError';
}

/** A query failed, or a query request named an unknown query or bad parameters. */
export class QueryFailedError extends PipelineError {
  override name = 'QueryFailedError';
}

/** A model file the built-in model server cannot serve (booster, objective or format), named in the message. */
export class UnsupportedModelError extends PipelineError {
  override name = 'UnsupportedModelError';
}

/** The catalog refused a table or partition definition (Glue validation, permissions). Retrying will not help. */
export class CatalogError extends PipelineError {
  override name = 'CatalogError';
}

/** An error's message, or the thrown value as text when something other than an Error was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A local file store operation failed on the filesystem (disk full, a file where a folder must be, a
 * permission). The message names the object's s3:// URI and its file; `code` is the errno code
 * (ENOSPC, EISDIR, …) and `cause` the original error. Terminal: the disk or the layout needs fixing.
 */
export class LocalStoreError extends PipelineError {
  override name = 'LocalStoreError';
  readonly uri: string;
  readonly path: string;
  readonly code: string | undefined;
  constructor(message: string, uri: string, path: string, code: string | undefined, options?: ErrorOptions) {
    super(message, options);
    this.uri = uri;
    this.path = path;
    this.code = code;
  }
}
