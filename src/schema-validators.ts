/**
 * The compiled validators of the project's JSON schemas. From the sources, ajv compiles a schema on
 * its first use; the esbuild build `npm start` runs (scripts/build.mjs) replaces this module with ajv's
 * standalone code generated at build time from the same schemas and options, so a local run compiles
 * no schema (compiling cost about half a second of a 569-row run).
 */
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import ajvOptions from './ajv-options.json' with { type: 'json' };

/**
 * ajv's options for the project's schemas, in one file that scripts/build.mjs compiles with too.
 * Step Functions payloads are JSON already: coercing "5" to 5 would hide a caller's bug.
 */
export const AJV_OPTIONS: Options = ajvOptions;

const instances = new Map<boolean, Ajv>();

/**
 * The validator of the schema whose `$id` is `id`, among `schemas` (all of them, for their $refs).
 * With `useDefaults`, the validator also sets every missing property that has a `default` (ajv's
 * useDefaults), on the value it is given.
 */
export function schemaValidator(
  id: string,
  schemas: readonly object[],
  options: { useDefaults?: boolean } = {},
): ValidateFunction {
  const useDefaults = options.useDefaults === true;
  let ajv = instances.get(useDefaults);
  if (!ajv) {
    ajv = new Ajv({ ...AJV_OPTIONS, useDefaults });
    for (const schema of schemas) ajv.addSchema(schema);
    instances.set(useDefaults, ajv);
  }
  const validate = ajv.getSchema(id);
  if (!validate) throw new Error(`No schema with $id ${id}`);
  return validate as ValidateFunction;
}
