import type { RunRequest as GeneratedRunRequest } from '../generated/schema-types.js';

/**
 * A run request as schemas/run-request.schema.json defines it (validated before it reaches the core).
 * The type is generated from the schema (`npm run schema-types`, src/generated/schema-types.ts): the
 * schema is its one home, and these names are views of it.
 */
export type RunRequest = GeneratedRunRequest;

/** One model variant of a run (`models[]`). */
export type ModelVariant = RunRequest['models'][number];

/** The run's CreateTransformJob settings (`transform`). */
export type TransformSettings = NonNullable<RunRequest['transform']>;

/** How the run's results are kept (`results`). */
export type ResultsSettings = NonNullable<RunRequest['results']>;

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
