import type { TransformJobRequest } from './transform-job.js';

/** A run request as schemas/run-request.schema.json defines it (validated before it reaches the core). */
export interface RunRequest {
  runId?: string;
  input: string;
  inputSuffixes?: string[];
  objectsPerShard?: number;
  /** Transform jobs that run at once (RunTransforms' MaxConcurrency); default 10. */
  maxConcurrentJobs?: number;
  models: ModelVariant[];
  transform?: TransformSettings;
  results?: ResultsSettings;
  queries?: string[];
}

export interface ModelVariant {
  variant: string;
  modelName?: string;
  image?: string;
  modelDataUrl?: string;
  environment?: Record<string, string>;
  /** EnableNetworkIsolation for a model the pipeline creates; default true. */
  networkIsolation?: boolean;
}

export interface TransformSettings {
  ContentType?: string;
  CompressionType?: 'None' | 'Gzip';
  SplitType?: 'None' | 'Line' | 'RecordIO' | 'TFRecord';
  BatchStrategy?: 'SingleRecord' | 'MultiRecord';
  MaxPayloadInMB?: number;
  MaxConcurrentTransforms?: number;
  Accept?: string;
  AssembleWith?: 'None' | 'Line';
  DataProcessing?: TransformJobRequest['DataProcessing'];
  ModelClientConfig?: TransformJobRequest['ModelClientConfig'];
  Environment?: Record<string, string>;
  InstanceType?: string;
  InstanceCount?: number;
}

export interface ResultsSettings {
  table?: string;
  threshold?: number;
  labels?: string[];
  featureNames?: string[];
  /** The input column or JSON key holding each record's id (stored as `id`, not as a feature). */
  idColumn?: string;
  /** The input column or JSON key holding the true outcome (stored as `actual`, kept from the model). */
  actualColumn?: string;
  /** Store each record's features in the results (default true; the CLI sets false unless --store-features). */
  storeFeatures?: boolean;
  /** The run `drift` compares with; default: the previous successful run of the table and variant. */
  baselineRunId?: string;
  /** What one instance-hour costs, in the user's currency: turns billable seconds into money. */
  pricePerHour?: number;
}

/** Where a deployment keeps things and what it runs with: from env vars on AWS, from the local config locally. */
export interface PipelineSettings {
  /** The bucket that holds runs/ and results/. */
  bucket: string;
  /** Glue database (locally: the DuckDB schema name). */
  database: string;
  /** The role SageMaker assumes for models the state machine creates. */
  sagemakerRoleArn: string;
  transformKmsKeyId?: string;
  transformVolumeKmsKeyId?: string;
  vpcConfig?: { Subnets: string[]; SecurityGroupIds: string[] };
  /** `s3://bucket/prefix/` every run input must lie under (AWS: the inputPrefix); unset = anywhere. */
  inputPrefixUri?: string;
  /** ECR repositories models may be created from (AWS: imageRepositories); unset = any image. */
  imageRepositories?: readonly string[];
}
