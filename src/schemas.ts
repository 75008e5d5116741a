import type { ErrorObject, ValidateFunction } from 'ajv';
import buildManifestEvent from '../schemas/build-manifest-event.schema.json' with { type: 'json' };
import createModelRequest from '../schemas/create-model-request.schema.json' with { type: 'json' };
import definitions from '../schemas/definitions.schema.json' with { type: 'json' };
import failureRecord from '../schemas/failure-record.schema.json' with { type: 'json' };
import parseResultsEvent from '../schemas/parse-results-event.schema.json' with { type: 'json' };
import parseResultsResult from '../schemas/parse-results-result.schema.json' with { type: 'json' };
import recordFailureEvent from '../schemas/record-failure-event.schema.json' with { type: 'json' };
import registerTableEvent from '../schemas/register-table-event.schema.json' with { type: 'json' };
import registerTableResult from '../schemas/register-table-result.schema.json' with { type: 'json' };
import runPlan from '../schemas/run-plan.schema.json' with { type: 'json' };
import runQueriesEvent from '../schemas/run-queries-event.schema.json' with { type: 'json' };
import runRequest from '../schemas/run-request.schema.json' with { type: 'json' };
import runSummary from '../schemas/run-summary.schema.json' with { type: 'json' };
import startRunResult from '../schemas/start-run-result.schema.json' with { type: 'json' };
import transformJobRequest from '../schemas/transform-job-request.schema.json' with { type: 'json' };
import { SchemaValidationError } from './errors.js';
import { schemaValidator } from './schema-validators.js';

/**
 * The schemas in schemas/, by file name without `.schema.json`. `definitions` holds what several of
 * them share (each refers to it as definitions.schema.json#/definitions/<name>): it validates nothing itself.
 */
export const SCHEMAS = {
  definitions,
  'run-request': runRequest,
  'build-manifest-event': buildManifestEvent,
  'run-plan': runPlan,
  'parse-results-event': parseResultsEvent,
  'register-table-event': registerTableEvent,
  'run-queries-event': runQueriesEvent,
  'record-failure-event': recordFailureEvent,
  'parse-results-result': parseResultsResult,
  'register-table-result': registerTableResult,
  'run-summary': runSummary,
  'failure-record': failureRecord,
  'start-run-result': startRunResult,
  'transform-job-request': transformJobRequest,
  'create-model-request': createModelRequest,
} as const;

export type SchemaName = keyof typeof SCHEMAS;

const compiled = new Map<SchemaName, ValidateFunction>();

/**
 * Checks a value against one of the project's schemas.
 *
 * @param what names the value in the error ("run request", "BuildManifest event")
 * @throws SchemaValidationError listing every problem as `<path> <message>`
 */
export function validateAgainstSchema<T>(name: SchemaName, value: unknown, what: string): T {
  let validate = compiled.get(name);
  if (!validate) {
    validate = schemaValidator(SCHEMAS[name].$id, Object.values(SCHEMAS));
    compiled.set(name, validate);
  }
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map(describeError);
    throw new SchemaValidationError(`Invalid ${what}: ${problems.join('; ')}`, problems);
  }
  return value as T;
}

function describeError(error: ErrorObject): string {
  const where = error.instancePath === '' ? '(root)' : error.instancePath;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties')
    return `${where} has unknown property "${params.additionalProperty}"`;
  if (error.keyword === 'enum')
    return `${where} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
  return `${where} ${error.message ?? 'is invalid'}`;
}

/**
 * A copy of a value with every missing property that has a `default` in the schema set to it (objects
 * given `"default": {}` are created, so their own defaults apply too). The input is untouched. Only
 * fills defaults: checking the value is {@link validateAgainstSchema}'s job (the Lambda middleware runs
 * it first), so a caller may fill the defaults of a value whose other problems it reports itself.
 */
export function withSchemaDefaults<T>(name: SchemaName, value: unknown): T {
  const copy = structuredClone(value);
  // The one place defaults are applied: the `default` keywords of a schema are the one home of each
  // default, so no code repeats them.
  schemaValidator(SCHEMAS[name].$id, Object.values(SCHEMAS), { useDefaults: true })(copy);
  return copy as T;
}
