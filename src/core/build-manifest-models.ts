import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import type { CreateModelRequest as GeneratedCreateModelRequest } from '../generated/schema-types.js';
import type { ModelVariant, PipelineSettings } from './run-request.js';

/**
 * The models a run needs: each variant's SageMaker model name (its identity), and the CreateModel
 * request BuildManifest plans for a variant given as image + artifact.
 */

/**
 * A CreateModel request for a variant given as image + artifact: generated from
 * schemas/create-model-request.schema.json (SageMaker's CreateModelInput, as this product sends it),
 * which BuildManifest's output (run-plan.schema.json) is validated against.
 */
export type CreateModelRequest = GeneratedCreateModelRequest;

/**
 * The SageMaker model name for a variant: its own name when given, else derived from the image, the
 * artifact, the environment and network isolation, so the same model is created once and reused by
 * later runs (and a model that may reach the network is never reused for one that may not).
 */
export function modelNameFor(model: ModelVariant): string {
  if (model.modelName) return model.modelName;
  const identity = JSON.stringify([
    model.image,
    model.modelDataUrl,
    sortedEntries(model.environment ?? {}),
    ...(networkIsolationOf(model) ? [] : ['network']),
  ]);
  return `bt-${model.variant}-${shortHash(identity, 16)}`;
}

/** Whether a variant's model runs without network access (the default; `networkIsolation: false` opts out). */
export function networkIsolationOf(model: ModelVariant): boolean {
  return model.networkIsolation ?? true;
}

export function createModelRequest(
  model: ModelVariant,
  modelName: string,
  runId: string,
  settings: PipelineSettings,
): CreateModelRequest {
  if (!model.image || !model.modelDataUrl) {
    throw new InvalidInputError(
      `Model variant "${model.variant}" needs either modelName or both image and modelDataUrl`,
    );
  }
  return {
    ModelName: modelName,
    ExecutionRoleArn: settings.sagemakerRoleArn,
    PrimaryContainer: {
      Image: model.image,
      ModelDataUrl: model.modelDataUrl,
      Environment: model.environment ?? {},
    },
    ...(settings.vpcConfig ? { VpcConfig: settings.vpcConfig } : {}),
    // Safe by default: the container gets no network access (no egress, no calls out with the data);
    // a variant opts out with networkIsolation: false.
    EnableNetworkIsolation: networkIsolationOf(model),
    Tags: [
      { Key: 'pipeline-created-by-run', Value: runId },
      { Key: 'pipeline-variant', Value: model.variant },
    ],
  };
}

export function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
