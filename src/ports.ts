/**
 * The interfaces the core needs from the outside world. src/aws implements them over AWS SDK v3;
 * src/local implements them on one machine. Core functions take them as arguments, never as imports.
 */
import type { Readable } from 'node:stream';
import type { TransformJobDescription, TransformJobRequest } from './core/transform-job.js';

/** What a store knows about one object. */
export interface ObjectInfo {
  /** `s3://bucket/key` */
  uri: string;
  size: number;
  etag?: string;
  lastModified?: Date;
}

export interface PutOptions {
  contentType?: string;
}

/**
 * An S3-like object store addressed by `s3://bucket/key` URIs.
 *
 * Writes are atomic: an object is visible under its key only once its whole body has been written.
 * A failed or interrupted write leaves no object behind (S3 gives this for PutObject and for completed
 * multipart uploads; the local store writes to a temporary file and renames it).
 */
export interface ObjectStore {
  /** Lists objects whose key starts with the prefix of `prefixUri`, in key order. */
  list(prefixUri: string): AsyncIterable<ObjectInfo>;
  /** Metadata of one object, or `undefined` when it does not exist. */
  head(uri: string): Promise<ObjectInfo | undefined>;
  /** The whole body. Throws ObjectNotFoundError when the object does not exist. */
  getBytes(uri: string): Promise<Uint8Array>;
  /** The body as a stream, for objects too large to hold in memory. Throws ObjectNotFoundError. */
  getStream(uri: string): Promise<Readable>;
  /** Writes a whole body. */
  put(uri: string, body: string | Uint8Array, options?: PutOptions): Promise<void>;
  /** Writes a streamed body; the object appears only when the stream has ended without error. */
  putStream(uri: string, body: Readable | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<void>;
  /** Deletes one object; deleting a missing object is not an error. */
  delete(uri: string): Promise<void>;
}

/** One HTTP answer from a model container's POST /invocations. */
export interface InvocationResult {
  statusCode: number;
  body: Uint8Array;
  contentType?: string;
  /**
   * On a 4xx answer, the 1-based record of the request the container rejected, when it says which
   * (the `X-Invalid-Record` header of the built-in server), so the engine can name the input's line.
   */
  invalidRecord?: number;
}

/** The response header in which a container names the 1-based record of a request it rejected. */
export const INVALID_RECORD_HEADER = 'x-invalid-record';

export interface InvokeOptions {
  contentType: string;
  accept?: string;
  /** Per-request timeout; the client aborts the request after it. */
  timeoutMs: number;
}

/** The container's answer to GET /execution-parameters (all fields optional, as on SageMaker). */
export interface ExecutionParameters {
  MaxConcurrentTransforms?: number;
  BatchStrategy?: 'SingleRecord' | 'MultiRecord';
  MaxPayloadInMB?: number;
}

/** A model container speaking the SageMaker hosting contract. */
export interface ModelClient {
  ping(timeoutMs: number): Promise<boolean>;
  /** `undefined` when the container does not implement GET /execution-parameters. */
  executionParameters(timeoutMs: number): Promise<ExecutionParameters | undefined>;
  invoke(body: Uint8Array, options: InvokeOptions): Promise<InvocationResult>;
}

/** A column of a results table: name and Hive/Glue type (`string`, `double`, `bigint`, `array<double>`…). */
export interface ColumnDefinition {
  name: string;
  type: string;
  comment?: string;
}

/** A results table over JSON lines files: one definition drives the Glue table and the DuckDB view. */
export interface TableDefinition {
  database: string;
  name: string;
  /** `s3://bucket/results/<table>/` */
  location: string;
  columns: ColumnDefinition[];
  partitionKeys: ColumnDefinition[];
  description?: string;
}

/** One partition: values in the order of the table's partition keys, and its location. */
export interface PartitionDefinition {
  values: string[];
  location: string;
}

/** Where results tables and their partitions are registered (Glue on AWS, DuckDB locally). */
export interface Catalog {
  /** Creates the table, or updates it when it exists with another definition. */
  registerTable(table: TableDefinition): Promise<void>;
  /**
   * Makes `partitions` the whole set of one run's partitions: partitions that exist get their location
   * switched, new ones are created, and the run's partitions missing from `partitions` (a variant the
   * new attempt no longer has) are dropped. `run` is the leading partition values that identify the run
   * (`[run_date, run_id]`); every partition given must start with them.
   *
   * Why one call and not add/delete: a re-run writes its files elsewhere (an attempt folder) and becomes
   * visible only here, so the previous attempt's rows stay queryable until this moment and a failed
   * re-run never reaches it. Locally this is one DuckDB transaction; on Glue each partition's location
   * switch is a single UpdatePartition (a reader sees the old or the new location, never neither).
   * Repeating the same call changes nothing.
   *
   * @returns the run's partitions as they were before the switch (their files may now be deleted,
   *   unless a new partition still points at them).
   */
  switchRunPartitions(
    table: TableDefinition,
    run: readonly string[],
    partitions: PartitionDefinition[],
  ): Promise<PartitionDefinition[]>;
  /**
   * One run's partitions as the catalog has them now (`run` as in {@link switchRunPartitions}); none
   * when the table or the run has none. RegisterTable records them before its switch, so a run that
   * fails afterwards can be switched back.
   */
  runPartitions(table: TableDefinition, run: readonly string[]): Promise<PartitionDefinition[]>;
}

export type QueryValue = string | number | boolean | null;
export type QueryRow = Record<string, QueryValue>;

/** Runs SQL over registered tables (Athena on AWS, DuckDB locally). */
export interface QueryEngine {
  /**
   * Runs one statement. `parameters` bind to `?` placeholders in order (Athena ExecutionParameters,
   * DuckDB prepared statements): values never become SQL text.
   */
  runQuery(sql: string, parameters?: QueryValue[]): Promise<{ columns: string[]; rows: QueryRow[] }>;
}

/**
 * Runs a transform job to its end, like `sagemaker:createTransformJob.sync`: resolves with the final
 * description whatever the outcome (Completed, Failed or Stopped), and rejects only when the job could
 * not be started at all.
 */
export interface TransformRunner {
  runTransformJob(request: TransformJobRequest): Promise<TransformJobDescription>;
}
