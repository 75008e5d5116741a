import runRequestSchema from '../../schemas/run-request.schema.json' with { type: 'json' };
import type { ResolvedRunRequest as GeneratedResolvedRunRequest } from '../generated/schema-types.js';
import { withSchemaDefaults } from '../schemas.js';
import type { RunRequest } from './run-request.js';
import type { TransformJobRequest } from './transform-job.js';

/**
 * The one home of every default of a run: the `default` keywords of schemas/run-request.schema.json.
 * BuildManifest applies them once, where a run request enters ({@link applyRunDefaults}), and saves the
 * request as run (request.json) with every default filled in; everything after it reads that. The
 * constants below are read from the schema for the few places that meet a request that did not pass
 * through BuildManifest: the local transform engine, which like SageMaker accepts a CreateTransformJob
 * request with fields left out, and readers of a run saved before the defaults were saved with it.
 */

const transformFields = runRequestSchema.properties.transform.properties;
const clientConfigFields = transformFields.ModelClientConfig.properties;

/** SageMaker's documented CreateTransformJob defaults (the schema states the same values). */
export const SAGEMAKER_DEFAULTS = Object.freeze({
  /** MaxPayloadInMB: 6 MB per request. */
  MaxPayloadInMB: transformFields.MaxPayloadInMB.default,
  /** ModelClientConfig.InvocationsTimeoutInSeconds: 600 s. */
  InvocationsTimeoutInSeconds: clientConfigFields.InvocationsTimeoutInSeconds.default,
  /** ModelClientConfig.InvocationsMaxRetries: 3. */
  InvocationsMaxRetries: clientConfigFields.InvocationsMaxRetries.default,
  /** BatchStrategy when neither the request nor the container's /execution-parameters names one. */
  BatchStrategy: transformFields.BatchStrategy.default as TransformJobRequest['BatchStrategy'] & string,
});

/** A binary model's score at or above this is the positive class (results.threshold). */
export const DEFAULT_THRESHOLD: number = runRequestSchema.properties.results.properties.threshold.default;

/**
 * A run request with every default applied: what BuildManifest plans from and saves as request.json.
 * Generated from schemas/run-request.schema.json with every property that has a `default` required
 * (scripts/schema-types.mjs derives it), so a new default needs no change here.
 */
export type ResolvedRunRequest = GeneratedResolvedRunRequest;

/**
 * The run request with every default of the schema applied (a copy; the argument is not changed).
 * Idempotent: a resolved request comes back equal. It does not validate: the request reaching
 * BuildManifest was checked against the schema by the Lambda's middleware.
 */
export function applyRunDefaults(request: RunRequest): ResolvedRunRequest {
  return withSchemaDefaults<ResolvedRunRequest>('run-request', request);
}
