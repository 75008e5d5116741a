import { describe, expect, it } from 'vitest';
import { TRANSIENT_ERROR_NAMES } from '../../src/errors.js';
import { DEFINITION_PATH } from '../../src/local/paths.js';
import { loadDefinition } from '../../src/local/state-machine-runner.js';

type State = {
  Type: string;
  Resource?: unknown;
  Parameters?: Record<string, unknown>;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Next?: string;
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

  it('retries transient Lambda errors on every Lambda task', () => {
    const lambdaTasks = Object.entries({ ...definition.States, ...mapStates('RunTransforms') }).filter(
      ([, s]) => s.Type === 'Task' && typeof s.Resource === 'object',
    );
    expect(lambdaTasks.map(([n]) => n).sort()).toEqual(
      ['BuildManifest', 'ParseResults', 'RecordFailure', 'RegisterTable', 'RunQueries'].sort(),
    );
    for (const [, state] of lambdaTasks) {
      expect(state.Retry?.[0]?.ErrorEquals).toEqual(
        expect.arrayContaining([
          ...TRANSIENT_ERROR_NAMES,
          'Lambda.ServiceException',
          'Lambda.TooManyRequestsException',
        ]),
      );
    }
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
