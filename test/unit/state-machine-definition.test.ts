import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import { DEFINITION_PATH } from '../../src/local/paths.js';
import { loadDefinition } from '../../src/local/state-machine-runner.js';

type State = {
  Type: string;
  Resource?: unknown;
  Parameters?: Record<string, unknown>;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Next?: string;
  TimeoutSeconds?: number;
  ItemProcessor?: { States: Record<string, State> };
};

const definition = (await loadDefinition(DEFINITION_PATH)) as unknown as {
  StartAt: string;
  States: Record<string, State>;
};
const mapStates = (name: string) => definition.States[name]?.ItemProcessor?.States ?? {};

describe('the batch-transform state machine', () => {
  it('runs BuildManifest, CreateModels, RunTransforms, RegisterTable, RunQueries, then succeeds', () => {
    const path: string[] = [];
    for (let name: string | undefined = definition.StartAt; name; name = definition.States[name]?.Next)
      path.push(name);
    expect(path).toEqual([
      'BuildManifest',
      'CreateModels',
      'RunTransforms',
      'RegisterTable',
      'RunQueries',
      'Succeeded',
    ]);
  });

  it('runs each transform through the native SageMaker .sync integration, then parses its output', () => {
    const inner = mapStates('RunTransforms');
    expect(inner.RunTransformJob?.Resource).toBe('arn:aws:states:::sagemaker:createTransformJob.sync');
    // A bounded wait: without TimeoutSeconds a stuck job would hold the run for Step Functions' year.
    expect(inner.RunTransformJob?.TimeoutSeconds).toBe(172800);
    expect(inner.RunTransformJob?.Next).toBe('ParseResults');
    expect(inner.ParseResults?.Resource).toEqual({ 'Fn::GetAtt': ['parseResults', 'Arn'] });
  });

  it('passes every CreateTransformJob field the plan fills in, so none is dropped or left unset', () => {
    const parameters = Object.keys(mapStates('RunTransforms').RunTransformJob?.Parameters ?? {}).map((k) =>
      k.replace(/\.\$$/, ''),
    );
    expect(parameters.sort()).toEqual(
      [
        'TransformJobName',
        'ModelName',
        'BatchStrategy',
        'MaxPayloadInMB',
        'MaxConcurrentTransforms',
        'ModelClientConfig',
        'Environment',
        'TransformInput',
        'TransformOutput',
        'TransformResources',
        'DataProcessing',
        'Tags',
      ].sort(),
    );
  });

  /** The `name` of every error class src/errors.ts exports, instantiated, with whether it is transient. */
  const errorClasses = (Object.values(errors) as unknown[])
    .filter(
      (value): value is new (message: string) => Error =>
        typeof value === 'function' && value.prototype instanceof Error,
    )
    .map((ErrorClass) => new ErrorClass('probe'))
    .map((error) => ({ name: error.name, transient: error instanceof errors.TransientError }));

  it('retries, on every Lambda task, the actual names of the transient error classes, and only those', () => {
    const transientNames = errorClasses.filter((e) => e.transient).map((e) => e.name);
    const terminalNames = errorClasses.filter((e) => !e.transient).map((e) => e.name);
    expect(transientNames.length).toBeGreaterThan(0);
    expect(terminalNames.length).toBeGreaterThan(0);
    const lambdaTasks = Object.entries({ ...definition.States, ...mapStates('RunTransforms') }).filter(
      ([, s]) => s.Type === 'Task' && typeof s.Resource === 'object',
    );
    expect(lambdaTasks.map(([n]) => n).sort()).toEqual(
      ['BuildManifest', 'ParseResults', 'RecordFailure', 'RegisterTable', 'RunQueries'].sort(),
    );
    const retried = lambdaTasks.map(([name, state]) => [name, state.Retry?.[0]?.ErrorEquals ?? []] as const);
    for (const [name, names] of retried) {
      expect(names, name).toEqual(
        expect.arrayContaining([
          ...transientNames,
          'Lambda.ServiceException',
          'Lambda.TooManyRequestsException',
        ]),
      );
      // A name in the Retry that no class carries matches nothing; a terminal one would retry a lost cause.
      const ours = names.filter((n) => !n.startsWith('Lambda.') && !n.startsWith('States.'));
      expect(
        ours.filter((n) => !transientNames.includes(n)),
        name,
      ).toEqual([]);
    }
  });

  it('runs the jobs as a Distributed Map over the job list in S3, failing on the first failed job', () => {
    const map = definition.States.RunTransforms as unknown as Record<string, unknown> & {
      ItemProcessor: { ProcessorConfig: unknown };
    };
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(map.ItemReader).toEqual({
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { 'Bucket.$': '$.jobList.bucket', 'Key.$': '$.jobList.key' },
    });
    expect(map.ToleratedFailurePercentage).toBe(0);
    expect(map.MaxConcurrencyPath).toBe('$.jobList.maxConcurrency');
    expect(map).toHaveProperty('ResultWriter.Resource', 'arn:aws:states:::s3:putObject');
    // No per-job data after the map: later states get the job list pointer, never the jobs or their results.
    expect(map.ResultPath).toBe('$.mapRun');
    expect(Object.keys(map.ResultSelector as object).sort()).toEqual([
      'mapRunArn.$',
      'resultWriterDetails.$',
    ]);
    for (const name of ['RegisterTable', 'RunQueries']) {
      const parameters = definition.States[name]?.Parameters ?? {};
      expect(parameters['jobList.$']).toBe('$.jobList');
      expect(Object.values(parameters)).not.toContain('$.jobResults');
    }
    expect(mapStates('RunTransforms').ParseResults?.Parameters?.['jobResultUri.$']).toBe('$.jobResultUri');
  });

  it('sends every failure through RecordFailure to a Fail state that keeps the error and cause', () => {
    for (const name of ['BuildManifest', 'CreateModels', 'RunTransforms', 'RegisterTable', 'RunQueries']) {
      const catcher = definition.States[name]?.Catch?.[0];
      expect(catcher?.ErrorEquals).toEqual(['States.ALL']);
      expect(definition.States[catcher?.Next ?? '']?.Next).toBe('RecordFailure');
    }
    expect(definition.States.RecordFailure?.Next).toBe('Failed');
    expect(definition.States.Failed).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.failure.Error',
      CausePath: '$.failure.Cause',
    });
  });
});
