/**
 * A transform job's settings, worked out from the request, the container's /execution-parameters and
 * SageMaker's defaults. Pure: no I/O, so every rule here is tested without a container.
 */
import {
  compileDataProcessing,
  needsRecordAlignment,
  type RecordFormat,
  type RecordProcessor,
  recordFormatOf,
} from '../core/data-processing.js';
import { SAGEMAKER_DEFAULTS } from '../core/run-defaults.js';
import type { AssembleWith, BatchStrategy, SplitType, TransformJobRequest } from '../core/transform-job.js';
import { MAX_PAYLOAD_IN_MB_LIMIT, maxPayloadZeroProblem } from '../core/transform-rules.js';
import { TransformJobFailedError } from '../errors.js';
import type { ExecutionParameters } from '../ports.js';

const MIB = 1024 * 1024;

/** The settings a job actually ran with, after the request, /execution-parameters and defaults. */
export interface EffectiveSettings {
  maxConcurrentTransforms: number;
  batchStrategy: BatchStrategy;
  maxPayloadInMB: number;
  /** Where each of the three came from. */
  source: Record<
    'maxConcurrentTransforms' | 'batchStrategy' | 'maxPayloadInMB',
    'request' | 'container' | 'default'
  >;
}

/** Everything a running job needs to know about how to cut, send and assemble records. */
export interface JobPlan {
  request: TransformJobRequest;
  jobName: string;
  splitType: SplitType;
  gzip: boolean;
  contentType: string;
  accept: string | undefined;
  assembleWith: AssembleWith;
  timeoutMs: number;
  maxRetries: number;
  settings: EffectiveSettings;
  maxPayloadBytes: number;
  processor: RecordProcessor;
  /** 'rewrite': per-record outputs rebuilt (join/OutputFilter); 'count': predictions counted per batch. */
  alignment: 'rewrite' | 'count' | 'none';
  outputFormat: RecordFormat | undefined;
}

/** True when the request leaves one of the three settings to the container's /execution-parameters. */
export function needsExecutionParameters(request: TransformJobRequest): boolean {
  return (
    !request.MaxConcurrentTransforms ||
    request.BatchStrategy === undefined ||
    request.MaxPayloadInMB === undefined
  );
}

/**
 * The job's settings: the request's value, else the container's, else SageMaker's default.
 *
 * @throws TransformJobFailedError when the container offers an invalid value, or MaxPayloadInMB 0 meets
 *   a SplitType other than None.
 */
export function effectiveSettings(
  request: TransformJobRequest,
  container: ExecutionParameters | undefined,
): EffectiveSettings {
  const fromRequest = {
    maxConcurrentTransforms: request.MaxConcurrentTransforms ? request.MaxConcurrentTransforms : undefined,
    batchStrategy: request.BatchStrategy,
    maxPayloadInMB: request.MaxPayloadInMB,
  };
  const containerStrategy = normalizeStrategy(container?.BatchStrategy);
  const containerConcurrency = container?.MaxConcurrentTransforms;
  const containerPayload = container?.MaxPayloadInMB;
  if (
    containerConcurrency !== undefined &&
    !(Number.isInteger(containerConcurrency) && containerConcurrency >= 1)
  ) {
    throw new TransformJobFailedError(
      `/execution-parameters returned an invalid MaxConcurrentTransforms: ${String(containerConcurrency)}`,
    );
  }
  if (
    containerPayload !== undefined &&
    !(
      Number.isInteger(containerPayload) &&
      containerPayload >= 0 &&
      containerPayload <= MAX_PAYLOAD_IN_MB_LIMIT
    )
  ) {
    throw new TransformJobFailedError(
      `/execution-parameters returned an invalid MaxPayloadInMB: ${String(containerPayload)} (0..${MAX_PAYLOAD_IN_MB_LIMIT})`,
    );
  }
  const pick = <T>(
    requested: T | undefined,
    offered: T | undefined,
    fallback: T,
  ): [T, 'request' | 'container' | 'default'] =>
    requested !== undefined
      ? [requested, 'request']
      : offered !== undefined
        ? [offered, 'container']
        : [fallback, 'default'];
  const [maxConcurrentTransforms, concurrencySource] = pick(
    fromRequest.maxConcurrentTransforms,
    containerConcurrency,
    1,
  );
  const [batchStrategy, strategySource] = pick<BatchStrategy>(
    fromRequest.batchStrategy,
    containerStrategy,
    SAGEMAKER_DEFAULTS.BatchStrategy,
  );
  const [maxPayloadInMB, payloadSource] = pick(
    fromRequest.maxPayloadInMB,
    containerPayload,
    SAGEMAKER_DEFAULTS.MaxPayloadInMB,
  );
  const zeroPayload = maxPayloadZeroProblem(
    maxPayloadInMB,
    request.TransformInput.SplitType,
    `the ${payloadSource}`,
  );
  if (zeroPayload) throw new TransformJobFailedError(zeroPayload);
  return {
    maxConcurrentTransforms,
    batchStrategy,
    maxPayloadInMB,
    source: {
      maxConcurrentTransforms: concurrencySource,
      batchStrategy: strategySource,
      maxPayloadInMB: payloadSource,
    },
  };
}

/** The job's plan: its settings plus the request's record handling, compiled once. */
export function makePlan(request: TransformJobRequest, settings: EffectiveSettings): JobPlan {
  const splitType = request.TransformInput.SplitType ?? 'None';
  const assembleWith = request.TransformOutput.AssembleWith ?? 'None';
  const inputFormat = recordFormatOf(request.TransformInput.ContentType);
  const outputFormat = recordFormatOf(request.TransformOutput.Accept) ?? inputFormat;
  const processor = compileDataProcessing(request.DataProcessing, {
    ...(inputFormat ? { inputFormat } : {}),
    ...(outputFormat ? { outputFormat } : {}),
  });
  const alignment = needsRecordAlignment(request.DataProcessing)
    ? 'rewrite'
    : splitType === 'Line' && assembleWith === 'Line'
      ? 'count'
      : 'none';
  return {
    request,
    jobName: request.TransformJobName,
    splitType,
    gzip: request.TransformInput.CompressionType === 'Gzip',
    // SageMaker sends the ContentType as given; without one, the body is opaque bytes.
    contentType: request.TransformInput.ContentType ?? 'application/octet-stream',
    accept: request.TransformOutput.Accept,
    assembleWith,
    // SageMaker's defaults, for a request that leaves them out (BuildManifest's requests never do).
    timeoutMs:
      (request.ModelClientConfig?.InvocationsTimeoutInSeconds ??
        SAGEMAKER_DEFAULTS.InvocationsTimeoutInSeconds) * 1000,
    maxRetries: request.ModelClientConfig?.InvocationsMaxRetries ?? SAGEMAKER_DEFAULTS.InvocationsMaxRetries,
    settings,
    maxPayloadBytes: settings.maxPayloadInMB * MIB,
    processor,
    alignment,
    outputFormat,
  };
}

/** The headers and timeout of every invocation of a job. */
export function invokeOptions(plan: JobPlan): { contentType: string; accept?: string; timeoutMs: number } {
  return {
    contentType: plan.contentType,
    ...(plan.accept ? { accept: plan.accept } : {}),
    timeoutMs: plan.timeoutMs,
  };
}

/** The environment SageMaker gives a batch container: the job's Environment plus batch settings it set. */
export function containerEnvironment(request: TransformJobRequest): Record<string, string> {
  const environment: Record<string, string> = { ...(request.Environment ?? {}), SAGEMAKER_BATCH: 'true' };
  if (request.MaxConcurrentTransforms) {
    environment.SAGEMAKER_MAX_CONCURRENT_TRANSFORMS = String(request.MaxConcurrentTransforms);
  }
  if (request.BatchStrategy) {
    environment.SAGEMAKER_BATCH_STRATEGY =
      request.BatchStrategy === 'SingleRecord' ? 'SINGLE_RECORD' : 'MULTI_RECORD';
  }
  if (request.MaxPayloadInMB !== undefined)
    environment.SAGEMAKER_MAX_PAYLOAD_IN_MB = String(request.MaxPayloadInMB);
  return environment;
}

/** Containers answer `MULTI_RECORD` (as the SageMaker docs show) or the API's `MultiRecord`. */
function normalizeStrategy(value: unknown): BatchStrategy | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.replace(/[_-]/g, '').toLowerCase();
  if (v === 'multirecord') return 'MultiRecord';
  if (v === 'singlerecord') return 'SingleRecord';
  return undefined;
}
