/**
 * Generates src/generated/schema-types.ts, the TypeScript types of the JSON Schemas in schemas/, with
 * json-schema-to-typescript: the schemas are the one home of these shapes, and the core's types
 * (src/core/run-request.ts) are aliases of the generated ones. `npm run schema-types` rewrites the
 * file; test/unit/schema-types.test.ts fails when the committed file is not what this generates.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_TYPES_FILE = join(ROOT, 'src/generated/schema-types.ts');

/** The schemas whose types are generated (file in schemas/, and the name of its root type). */
const GENERATED = [
  ['run-request.schema.json', 'RunRequest'],
  ['transform-job-request.schema.json', 'TransformJobRequest'],
  ['create-model-request.schema.json', 'CreateModelRequest'],
  // The Lambdas' events and results, in the order the state machine runs them.
  ['start-run-result.schema.json', 'StartRunResult'],
  ['build-manifest-event.schema.json', 'BuildManifestEvent'],
  ['run-plan.schema.json', 'RunPlan'],
  ['parse-results-event.schema.json', 'ParseJobEvent'],
  ['parse-results-result.schema.json', 'MapJobResult'],
  ['register-table-event.schema.json', 'RegisterTableEvent'],
  ['register-table-result.schema.json', 'RegisterResultsTableResult'],
  ['run-queries-event.schema.json', 'SummarizeRunEvent'],
  ['run-summary.schema.json', 'RunSummary'],
  ['record-failure-event.schema.json', 'RecordFailureEvent'],
  ['failure-record.schema.json', 'FailureRecord'],
];

/**
 * Types derived from a schema rather than generated from one file: a run request once BuildManifest has
 * applied the schema's defaults (`applyRunDefaults`) has every property that has a `default` set.
 */
const DERIVED = [
  [
    'ResolvedRunRequest',
    'run-request.schema.json',
    withDefaultsRequired,
    'A run request with every default of schemas/run-request.schema.json applied (`applyRunDefaults`): what BuildManifest plans from and saves as request.json. Every property with a `default` is set.',
  ],
];

/**
 * A copy of a schema in which every property that has a `default` is required: the shape of a value
 * after ajv's useDefaults has filled it in (objects given `"default": {}` are created, so their own
 * defaulted properties are set too).
 */
function withDefaultsRequired(node) {
  if (Array.isArray(node)) return node.map(withDefaultsRequired);
  if (node === null || typeof node !== 'object') return node;
  const copy = {};
  for (const [key, value] of Object.entries(node)) copy[key] = withDefaultsRequired(value);
  if (node.properties && typeof node.properties === 'object') {
    const defaulted = Object.entries(node.properties)
      .filter(([, property]) => property !== null && typeof property === 'object' && 'default' in property)
      .map(([name]) => name);
    if (defaulted.length > 0) copy.required = [...new Set([...(node.required ?? []), ...defaulted])];
  }
  return copy;
}

/**
 * A `oneOf`/`anyOf` whose branches only say which properties are `required` (e.g. a model is either
 * modelName or image + modelDataUrl): it constrains values ajv checks, but json-schema-to-typescript
 * would turn it into an index-signature union that accepts any property, losing the shape. Dropped for
 * the types; the properties themselves stay typed (optional).
 */
function isRequiredOnlyCombinator(key, value) {
  return (
    (key === 'oneOf' || key === 'anyOf') &&
    Array.isArray(value) &&
    value.every((branch) => Object.keys(branch).every((k) => k === 'required'))
  );
}

/**
 * A `default` written beside a `$ref` (run-request's defaults of shared definitions). A type has no
 * defaults, and a `$ref` with a sibling keyword is a new schema to json-schema-to-typescript, which
 * would declare the shared type a second time (TransformEnvironment1). Dropped for the types.
 */
function isDefaultBesideRef(key, _value, node) {
  return key === 'default' && typeof node.$ref === 'string';
}

/** A copy of a schema without the keywords `drop(key, value, node)` picks, at every depth. */
function withoutKeywords(node, drop) {
  if (Array.isArray(node)) return node.map((item) => withoutKeywords(item, drop));
  if (node === null || typeof node !== 'object') return node;
  const copy = {};
  for (const [key, value] of Object.entries(node)) {
    if (!drop(key, value, node)) copy[key] = withoutKeywords(value, drop);
  }
  return copy;
}

/** The synthetic root whose definitions name every generated type; it is not itself emitted. */
const ROOT_NAME = 'SchemaTypes';

/**
 * Reads a schema file for json-schema-to-typescript: a root listed in GENERATED gets its type's name
 * as its `title` (not the schema's own, a sentence such as "RecordFailure result
 * (runs/<runId>/failure.json)"), and the required-only combinators are dropped.
 */
function readSchemaFile(path) {
  const schema = forTypes(JSON.parse(readFileSync(path, 'utf8')));
  const root = GENERATED.find(([file]) => path.endsWith(`/schemas/${file}`));
  return root ? { ...schema, title: root[1] } : schema;
}

/** A schema as the types are made from it: without the two kinds of keyword above. */
function forTypes(schema) {
  return withoutKeywords(
    schema,
    (key, value, node) => isRequiredOnlyCombinator(key, value) || isDefaultBesideRef(key, value, node),
  );
}

/**
 * The schema of a DERIVED type, inline in the root: its relative `$ref`s resolve from schemas/ (cwd)
 * as the files' do. Its `$id` is dropped: it is not the file's schema.
 */
function derivedSchema(name, file, derive, description) {
  const { $id, ...schema } = derive(JSON.parse(readFileSync(join(ROOT, 'schemas', file), 'utf8')));
  return { ...forTypes(schema), title: name, description };
}

/**
 * The text of src/generated/schema-types.ts, generated from the schemas as they are now. All the types
 * come from ONE compile of a root whose definitions refer to each generated schema, so a definition
 * several schemas share (schemas/definitions.schema.json: JobListPointer, ResultsTableRef…) is declared
 * once, under one name, and every type that uses it refers to that declaration.
 */
export async function generateSchemaTypes() {
  const root = {
    title: ROOT_NAME,
    type: 'object',
    additionalProperties: false,
    definitions: {
      ...Object.fromEntries(GENERATED.map(([file, name]) => [name, { $ref: file }])),
      ...Object.fromEntries(DERIVED.map(([name, ...rest]) => [name, derivedSchema(name, ...rest)])),
    },
  };
  const ts = await compile(root, ROOT_NAME, {
    bannerComment: '',
    cwd: join(ROOT, 'schemas'),
    $refOptions: {
      resolve: {
        file: { order: 1, canRead: /\.json$/, read: ({ url }) => JSON.stringify(readSchemaFile(url)) },
      },
    },
    additionalProperties: false,
    ignoreMinAndMaxItems: true,
    strictIndexSignatures: false,
    declareExternallyReferenced: true,
    unreachableDefinitions: true,
    format: true,
    style: { singleQuote: true, printWidth: 110, semi: true },
  });
  const body = ts
    // The root is only a list of the definitions: drop its empty interface and the notes pointing at it.
    .replace(`export interface ${ROOT_NAME} {}\n`, '')
    .replace(
      /\n \*\n \* This interface was referenced by `SchemaTypes`'s JSON-Schema\n \* via the `definition` "\w+"\./g,
      '',
    )
    .replace(
      /\/\*\*\n \* This interface was referenced by `SchemaTypes`'s JSON-Schema\n \* via the `definition` "\w+"\.\n \*\/\n/g,
      '',
    );
  return (
    '/* This file is generated by `npm run schema-types` (scripts/schema-types.mjs) from schemas/.\n' +
    ' * Do not edit it: change the schema and run the script; test/unit/schema-types.test.ts fails when\n' +
    ' * this file is stale. */\n\n' +
    body
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_TYPES_FILE, await generateSchemaTypes());
  console.log(`wrote ${SCHEMA_TYPES_FILE}`);
}
