/**
 * The compiled validators of the project's JSON schemas. From the sources, ajv compiles a schema on
 * its first use; the esbuild build `npm start` runs (scripts/build.mjs) replaces this module with ajv's
 * standalone code generated at build time from the same schemas and options, so a local run compiles
 * no schema (compiling cost about half a second of a 569-row run).
 */
import { Ajv, type Options, type ValidateFunction } from 'ajv';

/**
 * ajv's options for the project's schemas (scripts/build.mjs compiles with the same).
 * Step Functions payloads are JSON already: coercing "5" to 5 would hide a caller's bug.
 */
export const AJV_OPTIONS: Options = {
  allErrors: true,
  coerceTypes: false,
  useDefaults: false,
  strict: false,
};

let ajv: Ajv | undefined;

/** The validator of the schema whose `$id` is `id`, among `schemas` (all of them, for their $refs). */
export function schemaValidator(id: string, schemas: readonly object[]): ValidateFunction {
  if (!ajv) {
    ajv = new Ajv(AJV_OPTIONS);
    for (const schema of schemas) ajv.addSchema(schema);
  }
  const validate = ajv.getSchema(id);
  if (!validate) throw new Error(`No schema with $id ${id}`);
  return validate as ValidateFunction;
}
