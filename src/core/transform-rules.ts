import type { SplitType } from './transform-job.js';

/**
 * CreateTransformJob's cross-field rules: what SageMaker refuses about a combination of fields that each
 * pass on their own, so no JSON Schema states them. One home for each, called by the local engine's
 * request check (src/local/transform-validation.ts), by its settings when the container supplies a value
 * (src/local/transform-settings.ts), and at plan time on a run request's transform settings
 * (src/core/run-checks.ts), so a run fails in BuildManifest instead of after its models were created.
 */

/** The largest MaxPayloadInMB SageMaker accepts, and the bound of MaxConcurrentTransforms × MaxPayloadInMB. */
export const MAX_PAYLOAD_IN_MB_LIMIT = 100;

/**
 * MaxPayloadInMB 0 means "stream each whole object in one request, HTTP chunked": SageMaker allows it
 * only with SplitType None (records cannot be cut from a stream it does not buffer).
 *
 * @param from where the 0 came from, for the message ("the request", "the container")
 * @returns the problem, or undefined when the combination is allowed.
 */
export function maxPayloadZeroProblem(
  maxPayloadInMB: number | undefined,
  splitType: SplitType | undefined,
  from: string,
): string | undefined {
  const split = splitType ?? 'None';
  if (maxPayloadInMB !== 0 || split === 'None') return undefined;
  return `MaxPayloadInMB 0 (from ${from}: the whole object streamed with HTTP chunked encoding) requires SplitType None, but the job uses SplitType ${split}`;
}

/** SageMaker refuses MaxConcurrentTransforms × MaxPayloadInMB over 100 MB (what one instance buffers). */
export function concurrentPayloadProblem(
  maxConcurrentTransforms: number | undefined,
  maxPayloadInMB: number | undefined,
): string | undefined {
  if (maxConcurrentTransforms === undefined || maxPayloadInMB === undefined) return undefined;
  if (maxConcurrentTransforms * maxPayloadInMB <= MAX_PAYLOAD_IN_MB_LIMIT) return undefined;
  return `MaxConcurrentTransforms * MaxPayloadInMB (${maxConcurrentTransforms} * ${maxPayloadInMB}) must not exceed ${MAX_PAYLOAD_IN_MB_LIMIT} MB`;
}
