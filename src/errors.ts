/**
 * Every error the pipeline throws on purpose. The `name` of each class is what the state machine's
 * Retry/Catch matches, so it is set explicitly (bundlers rename classes).
 *
 * Transient errors (worth a Retry) end in `TransientError`'s family; everything else is terminal and
 * goes to the Catch → RecordFailure → Fail path.
 */

export interface PipelineErrorOptions {
  cause?: unknown;
}

/** A request, file or record the pipeline cannot use as given. Retrying will not help. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** An event or run request that does not match its JSON Schema. */
export class SchemaValidationError extends Error {
  override name = 'SchemaValidationError';
  readonly errors: readonly string[];
  constructor(message: string, errors: readonly string[], options?: PipelineErrorOptions) {
    super(message, options);
    this.errors = errors;
  }
}

/** An object the run needs does not exist in the store. */
export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** A dependency (store, catalog, query engine, model container) failed in a way a retry may cure. */
export class TransientError extends Error {
  override name = 'TransientError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** A failure that ends a transform job. The message becomes the job's FailureReason. */
export class TransformJobFailedError extends Error {
  override name = 'TransformJobFailedError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** A transform job was asked to stop (StopTransformJob) and ends as Stopped. */
export class TransformJobStoppedError extends Error {
  override name = 'TransformJobStoppedError';
  constructor(message = 'Stopped by request (StopTransformJob)', options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** The model's output does not line up with its input (counts differ, unparseable prediction). */
export class PredictionMismatchError extends Error {
  override name = 'PredictionMismatchError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** A query failed, or a query request named an unknown query or bad parameters. */
export class QueryFailedError extends Error {
  override name = 'QueryFailedError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** A model file the built-in model server cannot serve (booster, objective or format), named in the message. */
export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** The catalog refused a table or partition definition (Glue validation, permissions). Retrying will not help. */
export class CatalogError extends Error {
  override name = 'CatalogError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}

/** An error's message, or the thrown value as text when something other than an Error was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A command line the CLI cannot act on (unknown flag value, missing file, conflicting options): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, options?: PipelineErrorOptions) {
    super(message, options);
  }
}
