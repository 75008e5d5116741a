import type { ErrorObject } from 'ajv';
import { dataProcessingErrors } from '../core/data-processing.js';
import type { TransformJobRequest } from '../core/transform-job.js';
import { concurrentPayloadProblem, maxPayloadZeroProblem } from '../core/transform-rules.js';
import { InvalidInputError } from '../errors.js';
import { schemaValidator } from '../schema-validators.js';
import { SCHEMAS } from '../schemas.js';

/**
 * The field limits of a CreateTransformJob request live in schemas/transform-job-request.schema.json
 * (compiled by ajv like every schema in schemas/); this module only words ajv's errors the way
 * SageMaker's ValidationException does, and adds the cross-field rules of core/transform-rules.ts and
 * core/data-processing.ts.
 */
const validateFields = () => schemaValidator(SCHEMAS['transform-job-request'].$id, Object.values(SCHEMAS));

/** SageMaker names a field by its path with each member lower-camel-cased: transformInput.splitType. */
function memberPath(pointer: string, extra?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  // Environment keys are the user's own names: only the request's structure is lower-camel-cased.
  return parts
    .map((p, i) => (parts[i - 1] === 'Environment' ? p : p.charAt(0).toLowerCase() + p.slice(1)))
    .join('.');
}

function valueAt(request: unknown, pointer: string): unknown {
  let node = request;
  for (const part of pointer.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

/** One ajv error as SageMaker's API words it; undefined for ajv's summary errors. */
function sagemakerMessage(error: ErrorObject, request: unknown): string | undefined {
  const params = error.params as Record<string, unknown>;
  const at = memberPath(error.instancePath);
  const value = String(valueAt(request, error.instancePath));
  const constraint = `at '${at}' failed to satisfy constraint: Member must`;
  if (error.propertyName !== undefined) {
    return `Value '${error.propertyName}' at '${at}' failed to satisfy constraint: Map keys must satisfy regular expression pattern: ${params.pattern}`;
  }
  switch (error.keyword) {
    case 'propertyNames':
      return undefined;
    case 'required':
      return `Value null at '${memberPath(error.instancePath, String(params.missingProperty))}' failed to satisfy constraint: Member must not be null`;
    case 'type':
      return params.type === 'integer'
        ? `Value '${value}' ${constraint} be an integer`
        : `Value '${value}' ${constraint} be of type ${params.type}`;
    case 'minimum':
      return `Value '${value}' ${constraint} have value greater than or equal to ${params.limit}`;
    case 'maximum':
      return `Value '${value}' ${constraint} have value less than or equal to ${params.limit}`;
    case 'enum':
      return `Value '${value}' ${constraint} satisfy enum value set: [${(params.allowedValues as unknown[]).join(', ')}]`;
    case 'pattern': {
      // The engine reads s3:// only where SageMaker also takes https:// URIs: say so.
      const note = String(params.pattern).startsWith('^s3:')
        ? ' (the local engine reads s3:// URIs only)'
        : '';
      return `Value '${value}' ${constraint} satisfy regular expression pattern: ${params.pattern}${note}`;
    }
    case 'minLength':
      return `Value '${value}' ${constraint} have length greater than or equal to ${params.limit}`;
    case 'maxLength':
    case 'maxItems':
      return `Value at '${at}' failed to satisfy constraint: Member must have length less than or equal to ${params.limit}`;
    case 'maxProperties':
      return `Value at '${at}' failed to satisfy constraint: Map must have at most ${params.limit} entries`;
    default:
      return `Value '${value}' at '${at}' ${error.message ?? 'is invalid'}`;
  }
}

/**
 * Checks a CreateTransformJob request the way SageMaker's API does before it starts anything: the
 * field limits of schemas/transform-job-request.schema.json, then the combinations SageMaker rejects
 * (MaxConcurrentTransforms × MaxPayloadInMB, MaxPayloadInMB 0 without SplitType None, DataProcessing).
 *
 * @throws InvalidInputError with a ValidationException-style message listing every problem.
 */
export function validateTransformJobRequest(request: TransformJobRequest): void {
  const r = request as Partial<TransformJobRequest> | undefined;
  if (!r || typeof r !== 'object' || Array.isArray(r))
    throw new InvalidInputError('ValidationException: the request must be an object');
  const validate = validateFields();
  const errors: (string | undefined)[] = validate(r)
    ? []
    : (validate.errors ?? []).map((e) => sagemakerMessage(e, r));
  if (typeof r.MaxConcurrentTransforms === 'number' && typeof r.MaxPayloadInMB === 'number') {
    errors.push(concurrentPayloadProblem(r.MaxConcurrentTransforms, r.MaxPayloadInMB));
  }
  const input = r.TransformInput;
  const output = r.TransformOutput;
  if (input && typeof input === 'object') {
    errors.push(maxPayloadZeroProblem(r.MaxPayloadInMB, input.SplitType, 'the request'));
  }
  if (input && output && typeof input === 'object' && typeof output === 'object') {
    errors.push(
      ...dataProcessingErrors({
        ...(r.DataProcessing ? { DataProcessing: r.DataProcessing } : {}),
        TransformInput: input,
        TransformOutput: output,
      }),
    );
  }
  const problems = [...new Set(errors.filter((e): e is string => e !== undefined))];
  if (problems.length > 0) {
    throw new InvalidInputError(
      `ValidationException: ${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    );
  }
}
