import type { ParseRequest as GeneratedParseRequest } from '../generated/schema-types.js';
import { mediaType } from './media-types.js';
import { actualColumnIndex, idColumnIndex, modelInputFilter } from './results-table.js';
import type { ResolvedRunRequest } from './run-defaults.js';
import type { ModelVariant, PipelineSettings } from './run-request.js';
import type { TransformJobRequest } from './transform-job.js';

/**
 * Each planned job's two requests: the complete CreateTransformJob request (every field set, SageMaker's
 * defaults filled in) and what ParseResults needs to read its output.
 */

/**
 * What ParseResults needs to turn one job's output into result rows (planned by BuildManifest, in
 * full): generated from the parseRequest definition of schemas/parse-results-event.schema.json.
 */
export type ParseRequest = GeneratedParseRequest;

export interface PlannedJob {
  variant: string;
  shardId: string;
  transformRequest: Required<Omit<TransformJobRequest, 'Tags'>> & { Tags: { Key: string; Value: string }[] };
  parseRequest: ParseRequest;
}

export /**
 * SAGEMAKER_INFERENCE_OUTPUT as the variant's container sees it (the job's Environment over the
 * model's), which ParseResults needs to read CSV selection rows. A variant given by modelName keeps its
 * environment on SageMaker: set it in transform.Environment to have it read here.
 */
function outputSelectionOf(
  model: ModelVariant,
  jobEnvironment: Record<string, string> | undefined,
): { outputSelection?: string } {
  const value = jobEnvironment?.SAGEMAKER_INFERENCE_OUTPUT ?? model.environment?.SAGEMAKER_INFERENCE_OUTPUT;
  return value === undefined ? {} : { outputSelection: value };
}

export /**
 * When the request names an id or true-outcome column and sets no InputFilter, the filter that keeps
 * those columns from the model (the user should not have to write JSONPath to leave out a column the
 * results table already knows by name). Undefined when there is nothing to leave out.
 */
function defaultInputFilter(request: ResolvedRunRequest): string | undefined {
  const results = request.results;
  if (!results.featureNames || request.transform.DataProcessing.InputFilter !== undefined) return undefined;
  const csv = mediaType(request.transform.ContentType) === 'text/csv';
  return modelInputFilter(results.featureNames, [
    idColumnIndex(results, csv),
    actualColumnIndex(results, csv),
  ]);
}

export interface TransformRequestInput {
  request: ResolvedRunRequest;
  settings: PipelineSettings;
  modelName: string;
  jobName: string;
  manifestUri: string;
  outputPath: string;
  tags: { Key: string; Value: string }[];
}

export function transformRequestFor(input: TransformRequestInput): PlannedJob['transformRequest'] {
  // Every field is set (defaults applied by applyRunDefaults): the state machine's JSONPath Parameters
  // cannot leave a field out. MaxConcurrentTransforms 0 asks SageMaker to take the container's
  // /execution-parameters (or 1), as leaving it out does.
  const t = input.request.transform;
  return {
    TransformJobName: input.jobName,
    ModelName: input.modelName,
    BatchStrategy: t.BatchStrategy,
    MaxPayloadInMB: t.MaxPayloadInMB,
    MaxConcurrentTransforms: t.MaxConcurrentTransforms,
    ModelClientConfig: {
      InvocationsTimeoutInSeconds: t.ModelClientConfig.InvocationsTimeoutInSeconds,
      InvocationsMaxRetries: t.ModelClientConfig.InvocationsMaxRetries,
    },
    Environment: t.Environment,
    TransformInput: {
      DataSource: { S3DataSource: { S3DataType: 'ManifestFile', S3Uri: input.manifestUri } },
      ContentType: t.ContentType,
      CompressionType: t.CompressionType,
      SplitType: t.SplitType,
    },
    TransformOutput: {
      S3OutputPath: input.outputPath,
      Accept: t.Accept,
      AssembleWith: t.AssembleWith,
      ...(input.settings.transformKmsKeyId ? { KmsKeyId: input.settings.transformKmsKeyId } : {}),
    },
    TransformResources: {
      InstanceType: t.InstanceType,
      InstanceCount: t.InstanceCount,
      ...(input.settings.transformVolumeKmsKeyId
        ? { VolumeKmsKeyId: input.settings.transformVolumeKmsKeyId }
        : {}),
    },
    DataProcessing: {
      InputFilter: t.DataProcessing.InputFilter ?? defaultInputFilter(input.request) ?? '$',
      OutputFilter: t.DataProcessing.OutputFilter,
      JoinSource: t.DataProcessing.JoinSource,
    },
    Tags: input.tags,
  };
}
