import { describe, expect, it } from 'vitest';
import type { TransformJobRequest } from '../../src/core/transform-job.js';
import { validateTransformJobRequest } from '../../src/local/transform-validation.js';
import { schemaValidator } from '../../src/schema-validators.js';
import { SCHEMAS, type SchemaName, validateAgainstSchema } from '../../src/schemas.js';
import { definitionRef, propertiesNamed, schemaAt, schemaFiles } from '../helpers/schema-walk.js';
import { csvTransformRequest } from '../helpers/transform-request.js';

/** Every `$ref` of a schema file, with where it is. */
function refsOf(node: unknown, path = '#'): Array<{ path: string; ref: string }> {
  if (node === null || typeof node !== 'object') return [];
  const found: Array<{ path: string; ref: string }> = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') found.push({ path, ref: value });
    else found.push(...refsOf(value, `${path}/${key}`));
  }
  return found;
}

describe('schemas/definitions.schema.json: what several schemas share, written once', () => {
  it('resolves every $ref of every schema file (file and pointer exist)', () => {
    const files = schemaFiles();
    let refs = 0;
    for (const [file, schema] of Object.entries(files)) {
      for (const { path, ref } of refsOf(schema)) {
        const [target = '', pointer = '#'] = ref.split('#');
        const targetSchema = target === '' ? schema : files[target];
        expect(targetSchema, `${file} ${path}: ${ref}`).toBeDefined();
        expect(() => schemaAt(targetSchema, pointer), `${file} ${path}: ${ref}`).not.toThrow();
        refs += 1;
      }
    }
    expect(refs).toBeGreaterThan(40);
  });

  it('is one of the schemas ajv compiles with every other, so each of them compiles', () => {
    expect(Object.keys(SCHEMAS)).toContain('definitions');
    for (const name of Object.keys(SCHEMAS) as SchemaName[]) {
      expect(() => schemaValidator(SCHEMAS[name].$id, Object.values(SCHEMAS)), name).not.toThrow();
    }
  });

  it('is where every schema takes the run date, attempt id, variant name and job list pointer', () => {
    const expected: Record<string, string> = {
      runDate: 'runDate',
      attemptId: 'attemptId',
      variant: 'variant',
      shardId: 'shardId',
      jobList: 'jobList',
    };
    // Not checked, so that RecordFailure records any failure: the failed job's variant and shard as the
    // Map's result file holds them, and the state's jobList (the raw request, when BuildManifest failed).
    const free = [
      'failure-record.schema.json #/properties/mapRun/properties/variant',
      'failure-record.schema.json #/properties/mapRun/properties/shardId',
      'record-failure-event.schema.json #/properties/state/properties/jobList',
    ];
    const found = propertiesNamed(Object.keys(expected)).filter((p) => !free.includes(`${p.file} ${p.path}`));
    // Written by hand: where each of them is stated (a new use must refer to the definition too).
    expect(found.map((p) => `${p.file} ${p.path}`).sort()).toEqual(
      [
        'failure-record.schema.json #/properties/attempt/properties/attemptId',
        'parse-results-event.schema.json #/definitions/parseRequest/properties/attemptId',
        'parse-results-event.schema.json #/definitions/parseRequest/properties/runDate',
        'parse-results-event.schema.json #/definitions/parseRequest/properties/variant',
        'parse-results-event.schema.json #/properties/variant',
        'parse-results-event.schema.json #/properties/shardId',
        'parse-results-event.schema.json #/definitions/parseRequest/properties/shardId',
        'parse-results-result.schema.json #/allOf/1/properties/variant',
        'parse-results-result.schema.json #/allOf/1/properties/shardId',
        'register-table-event.schema.json #/properties/attemptId',
        'register-table-result.schema.json #/properties/attemptId',
        'register-table-event.schema.json #/properties/jobList',
        'register-table-event.schema.json #/properties/runDate',
        'run-plan.schema.json #/properties/attemptId',
        'run-plan.schema.json #/properties/jobList',
        'run-plan.schema.json #/properties/runDate',
        'run-queries-event.schema.json #/properties/jobList',
        'run-queries-event.schema.json #/properties/runDate',
        'run-request.schema.json #/properties/models/items/properties/variant',
        'run-summary.schema.json #/properties/runDate',
      ].sort(),
    );
    for (const { file, path, schema } of found) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      // A description may say what the value is used for; nothing else may stand beside the $ref.
      const { description, ...rest } = schema;
      expect(rest, `${file} ${path}`).toEqual({ $ref: definitionRef(expected[name] ?? '') });
    }
  });

  it("is where the results table reference is, for BuildManifest's plan and the two events that read it", () => {
    const files = schemaFiles();
    for (const file of [
      'run-plan.schema.json',
      'register-table-event.schema.json',
      'run-queries-event.schema.json',
    ])
      expect(schemaAt(files[file], '#/properties/table'), file).toEqual({ $ref: definitionRef('table') });
    for (const [file, pointer] of [
      ['run-request.schema.json', '#/properties/results/properties/table'],
      ['parse-results-event.schema.json', '#/definitions/parseRequest/properties/results/properties/table'],
    ] as const)
      expect(schemaAt(files[file], pointer).$ref, file).toBe(definitionRef('tableName'));
  });

  // The pairs are written by hand from the two schemas' fields: the run request's transform settings are
  // the CreateTransformJob fields of the same name.
  const SAME_LIMIT: Array<[runRequest: string, transformJobRequest: string, definition: string]> = [
    ['transform/properties/ContentType', 'TransformInput/properties/ContentType', 'contentType'],
    ['transform/properties/Accept', 'TransformOutput/properties/Accept', 'contentType'],
    ['transform/properties/CompressionType', 'TransformInput/properties/CompressionType', 'compressionType'],
    ['transform/properties/SplitType', 'TransformInput/properties/SplitType', 'splitType'],
    ['transform/properties/BatchStrategy', 'BatchStrategy', 'batchStrategy'],
    ['transform/properties/MaxPayloadInMB', 'MaxPayloadInMB', 'maxPayloadInMB'],
    ['transform/properties/MaxConcurrentTransforms', 'MaxConcurrentTransforms', 'maxConcurrentTransforms'],
    ['transform/properties/AssembleWith', 'TransformOutput/properties/AssembleWith', 'assembleWith'],
    ['transform/properties/Environment', 'Environment', 'transformEnvironment'],
    [
      'transform/properties/DataProcessing/properties/InputFilter',
      'DataProcessing/properties/InputFilter',
      'jsonPathFilter',
    ],
    [
      'transform/properties/DataProcessing/properties/OutputFilter',
      'DataProcessing/properties/OutputFilter',
      'jsonPathFilter',
    ],
    [
      'transform/properties/DataProcessing/properties/JoinSource',
      'DataProcessing/properties/JoinSource',
      'joinSource',
    ],
    [
      'transform/properties/ModelClientConfig/properties/InvocationsTimeoutInSeconds',
      'ModelClientConfig/properties/InvocationsTimeoutInSeconds',
      'invocationsTimeoutInSeconds',
    ],
    [
      'transform/properties/ModelClientConfig/properties/InvocationsMaxRetries',
      'ModelClientConfig/properties/InvocationsMaxRetries',
      'invocationsMaxRetries',
    ],
    ['models/items/properties/modelName', 'ModelName', 'sageMakerName'],
  ];

  it('is where both request schemas (run request, CreateTransformJob request) take each SageMaker limit', () => {
    const files = schemaFiles();
    for (const [inRunRequest, inTransformJobRequest, definition] of SAME_LIMIT) {
      const a = schemaAt(files['run-request.schema.json'], `#/properties/${inRunRequest}`);
      const b = schemaAt(files['transform-job-request.schema.json'], `#/properties/${inTransformJobRequest}`);
      expect(a.$ref, inRunRequest).toBe(definitionRef(definition));
      expect(b.$ref, inTransformJobRequest).toBe(definitionRef(definition));
      // Nothing beside the $ref may narrow or widen it: only a default or a description.
      for (const key of Object.keys(a))
        expect(['$ref', 'default', 'description'], inRunRequest).toContain(key);
      for (const key of Object.keys(b)) expect(['$ref'], inTransformJobRequest).toContain(key);
    }
  });
});

/** The run request's problems (ajv through the $refs), or [] when it is valid. */
function runRequestProblems(
  transform: Record<string, unknown>,
  model: Record<string, unknown> = {},
): string[] {
  const request = {
    input: 's3://bucket/in/',
    models: [{ variant: 'a', modelName: 'm', ...model }],
    transform,
  };
  try {
    validateAgainstSchema('run-request', request, 'run request');
    return [];
  } catch (error) {
    return (error as { errors: string[] }).errors;
  }
}

/** The local engine's ValidationException for a CreateTransformJob request, or undefined. */
function transformJobProblem(overrides: Partial<TransformJobRequest>): string | undefined {
  try {
    validateTransformJobRequest(csvTransformRequest({ MaxConcurrentTransforms: 1, ...overrides }));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// Limits written by hand from SageMaker's API reference (CreateTransformJob, CreateModel; botocore's
// shapes MaxPayloadInMB, InvocationsTimeoutInSeconds, InvocationsMaxRetries, TransformEnvironmentMap,
// JsonPath, ModelName).
describe("SageMaker's limits, checked in both the run request and the CreateTransformJob request", () => {
  const env = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'x']));
  const cases: Array<{
    what: string;
    ok: Record<string, unknown>;
    bad: Record<string, unknown>;
    runRequest: string;
    transformJob: string;
  }> = [
    {
      what: 'MaxPayloadInMB at most 100',
      ok: { MaxPayloadInMB: 100 },
      bad: { MaxPayloadInMB: 101 },
      runRequest: '/transform/MaxPayloadInMB must be <= 100',
      transformJob:
        "at 'maxPayloadInMB' failed to satisfy constraint: Member must have value less than or equal to 100",
    },
    {
      what: 'InvocationsTimeoutInSeconds 1..3600',
      ok: { ModelClientConfig: { InvocationsTimeoutInSeconds: 3600 } },
      bad: { ModelClientConfig: { InvocationsTimeoutInSeconds: 3601 } },
      runRequest: '/transform/ModelClientConfig/InvocationsTimeoutInSeconds must be <= 3600',
      transformJob: 'modelClientConfig.invocationsTimeoutInSeconds',
    },
    {
      what: 'InvocationsMaxRetries 0..3',
      ok: { ModelClientConfig: { InvocationsMaxRetries: 3 } },
      bad: { ModelClientConfig: { InvocationsMaxRetries: 4 } },
      runRequest: '/transform/ModelClientConfig/InvocationsMaxRetries must be <= 3',
      transformJob: 'modelClientConfig.invocationsMaxRetries',
    },
    {
      what: 'Environment: 16 variables',
      ok: { Environment: env(16) },
      bad: { Environment: env(17) },
      runRequest: '/transform/Environment must NOT have more than 16 properties',
      transformJob: "Value at 'environment' failed to satisfy constraint: Map must have at most 16 entries",
    },
    {
      what: 'Environment: values up to 10240 characters',
      ok: { Environment: { V: 'x'.repeat(10240) } },
      bad: { Environment: { V: 'x'.repeat(10241) } },
      runRequest: '/transform/Environment/V must NOT have more than 10240 characters',
      transformJob:
        "Value at 'environment.V' failed to satisfy constraint: Member must have length less than or equal to 10240",
    },
    {
      what: 'Environment: names are identifiers',
      ok: { Environment: { _A1: 'x' } },
      bad: { Environment: { '1A': 'x' } },
      runRequest: '/transform/Environment must match pattern "^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$"',
      transformJob:
        "Value '1A' at 'environment' failed to satisfy constraint: Map keys must satisfy regular expression pattern",
    },
    {
      what: 'a DataProcessing filter up to 63 characters',
      ok: { DataProcessing: { InputFilter: `$[${'1,'.repeat(29)}12]` } },
      bad: { DataProcessing: { InputFilter: `$[${'1,'.repeat(29)}123]` } },
      runRequest: '/transform/DataProcessing/InputFilter must NOT have more than 63 characters',
      transformJob:
        "Value at 'dataProcessing.inputFilter' failed to satisfy constraint: Member must have length less than or equal to 63",
    },
  ];

  for (const c of cases) {
    it(c.what, () => {
      expect(runRequestProblems(c.ok)).toEqual([]);
      expect(runRequestProblems(c.bad)).toContainEqual(expect.stringContaining(c.runRequest));
      expect(transformJobProblem(c.ok as Partial<TransformJobRequest>)).toBeUndefined();
      expect(transformJobProblem(c.bad as Partial<TransformJobRequest>)).toContain(c.transformJob);
    });
  }

  it('a model name: 1-63 letters, digits and inner hyphens (shape ModelName)', () => {
    for (const name of ['m', 'a-b--c', `${'A1'.repeat(31)}x`]) {
      expect(runRequestProblems({}, { modelName: name }), name).toEqual([]);
      expect(transformJobProblem({ ModelName: name }), name).toBeUndefined();
    }
    for (const name of ['-m', 'm-', 'a_b', 'a.b', 'A1'.repeat(32)]) {
      expect(runRequestProblems({}, { modelName: name }), name).toContainEqual(
        expect.stringMatching(/^\/models\/0\/modelName must /),
      );
      expect(transformJobProblem({ ModelName: name }), name).toContain(
        "at 'modelName' failed to satisfy constraint",
      );
    }
  });
});
