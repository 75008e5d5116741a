import { dataProcessingErrors } from '../core/data-processing.js';
import type { TransformJobRequest } from '../core/transform-job.js';
import {
  concurrentPayloadProblem,
  MAX_PAYLOAD_IN_MB_LIMIT,
  maxPayloadZeroProblem,
} from '../core/transform-rules.js';
import { InvalidInputError } from '../errors.js';

/** SageMaker's pattern for TransformJobName and ModelName (1–63 characters). */
const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const S3_URI_PATTERN = /^s3:\/\/([^/]+)\/?(.*)$/;
const ENV_KEY_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/;

function enumError(value: unknown, at: string, allowed: readonly string[]): string | undefined {
  if (value === undefined || (typeof value === 'string' && allowed.includes(value))) return undefined;
  return `Value '${String(value)}' at '${at}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`;
}

function intError(value: unknown, at: string, min: number, max?: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    return `Value '${String(value)}' at '${at}' failed to satisfy constraint: Member must be an integer`;
  }
  if (value < min) {
    return `Value '${value}' at '${at}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`;
  }
  if (max !== undefined && value > max) {
    return `Value '${value}' at '${at}' failed to satisfy constraint: Member must have value less than or equal to ${max}`;
  }
  return undefined;
}

function nameError(value: unknown, at: string): string | undefined {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    return `Value '${String(value)}' at '${at}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`;
  }
  return undefined;
}

function lengthError(value: unknown, at: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return `Value at '${at}' must be a string`;
  if (value.length > max) {
    return `Value at '${at}' failed to satisfy constraint: Member must have length less than or equal to ${max}`;
  }
  return undefined;
}

function s3UriError(value: unknown, at: string): string | undefined {
  if (typeof value !== 'string' || !S3_URI_PATTERN.test(value) || value.length > 1024) {
    return `Value '${String(value)}' at '${at}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$ (the local engine reads s3:// URIs only)`;
  }
  return undefined;
}

/**
 * Checks a CreateTransformJob request the way SageMaker's API does before it starts anything, and also
 * the combinations SageMaker rejects (MaxPayloadInMB 0 without SplitType None, DataProcessing
 * constraints).
 *
 * @throws InvalidInputError with a ValidationException-style message listing every problem.
 */
export function validateTransformJobRequest(request: TransformJobRequest): void {
  const errors: (string | undefined)[] = [];
  const r = request as Partial<TransformJobRequest> | undefined;
  if (!r || typeof r !== 'object')
    throw new InvalidInputError('ValidationException: the request must be an object');
  errors.push(nameError(r.TransformJobName, 'transformJobName'));
  errors.push(nameError(r.ModelName, 'modelName'));
  errors.push(intError(r.MaxConcurrentTransforms, 'maxConcurrentTransforms', 0));
  errors.push(intError(r.MaxPayloadInMB, 'maxPayloadInMB', 0, MAX_PAYLOAD_IN_MB_LIMIT));
  errors.push(enumError(r.BatchStrategy, 'batchStrategy', ['MultiRecord', 'SingleRecord']));
  if (typeof r.MaxConcurrentTransforms === 'number' && typeof r.MaxPayloadInMB === 'number') {
    errors.push(concurrentPayloadProblem(r.MaxConcurrentTransforms, r.MaxPayloadInMB));
  }
  if (r.ModelClientConfig !== undefined) {
    errors.push(
      intError(
        r.ModelClientConfig.InvocationsTimeoutInSeconds,
        'modelClientConfig.invocationsTimeoutInSeconds',
        1,
        3600,
      ),
    );
    errors.push(
      intError(r.ModelClientConfig.InvocationsMaxRetries, 'modelClientConfig.invocationsMaxRetries', 0, 3),
    );
  }
  if (r.Environment !== undefined) {
    const entries = Object.entries(r.Environment);
    if (entries.length > 16) {
      errors.push(`Value at 'environment' failed to satisfy constraint: Map must have at most 16 entries`);
    }
    for (const [key, value] of entries) {
      if (!ENV_KEY_PATTERN.test(key)) {
        errors.push(
          `Value '${key}' at 'environment' failed to satisfy constraint: Map keys must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*`,
        );
      }
      if (typeof value !== 'string' || value.length > 10240) {
        errors.push(`Value at 'environment.${key}' must be a string of at most 10240 characters`);
      }
    }
  }
  const input = r.TransformInput;
  if (!input) {
    errors.push(`Value null at 'transformInput' failed to satisfy constraint: Member must not be null`);
  } else {
    const s3 = input.DataSource?.S3DataSource;
    if (!s3) {
      errors.push(
        `Value null at 'transformInput.dataSource.s3DataSource' failed to satisfy constraint: Member must not be null`,
      );
    } else {
      errors.push(
        enumError(s3.S3DataType, 'transformInput.dataSource.s3DataSource.s3DataType', [
          'S3Prefix',
          'ManifestFile',
        ]),
      );
      errors.push(s3UriError(s3.S3Uri, 'transformInput.dataSource.s3DataSource.s3Uri'));
    }
    errors.push(lengthError(input.ContentType, 'transformInput.contentType', 256));
    errors.push(enumError(input.CompressionType, 'transformInput.compressionType', ['None', 'Gzip']));
    errors.push(
      enumError(input.SplitType, 'transformInput.splitType', ['None', 'Line', 'RecordIO', 'TFRecord']),
    );
    errors.push(maxPayloadZeroProblem(r.MaxPayloadInMB, input.SplitType, 'the request'));
  }
  const output = r.TransformOutput;
  if (!output) {
    errors.push(`Value null at 'transformOutput' failed to satisfy constraint: Member must not be null`);
  } else {
    errors.push(s3UriError(output.S3OutputPath, 'transformOutput.s3OutputPath'));
    errors.push(lengthError(output.Accept, 'transformOutput.accept', 256));
    errors.push(enumError(output.AssembleWith, 'transformOutput.assembleWith', ['None', 'Line']));
  }
  const resources = r.TransformResources;
  if (!resources) {
    errors.push(`Value null at 'transformResources' failed to satisfy constraint: Member must not be null`);
  } else {
    if (typeof resources.InstanceType !== 'string' || resources.InstanceType === '') {
      errors.push(
        `Value null at 'transformResources.instanceType' failed to satisfy constraint: Member must not be null`,
      );
    }
    errors.push(intError(resources.InstanceCount ?? Number.NaN, 'transformResources.instanceCount', 1));
  }
  if (r.Tags !== undefined && r.Tags.length > 50) {
    errors.push(
      `Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50`,
    );
  }
  if (input && output) {
    errors.push(
      ...dataProcessingErrors({
        ...(r.DataProcessing ? { DataProcessing: r.DataProcessing } : {}),
        TransformInput: input,
        TransformOutput: output,
      }),
    );
  }
  const problems = errors.filter((e): e is string => e !== undefined);
  if (problems.length > 0) {
    throw new InvalidInputError(
      `ValidationException: ${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    );
  }
}
