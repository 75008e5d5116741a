import { describe, expect, it } from 'vitest';
import buildManifestEvent from '../../schemas/build-manifest-event.schema.json' with { type: 'json' };
import parseResultsEvent from '../../schemas/parse-results-event.schema.json' with { type: 'json' };
import parseResultsResult from '../../schemas/parse-results-result.schema.json' with { type: 'json' };
import recordFailureEvent from '../../schemas/record-failure-event.schema.json' with { type: 'json' };
import registerTableEvent from '../../schemas/register-table-event.schema.json' with { type: 'json' };
import runQueriesEvent from '../../schemas/run-queries-event.schema.json' with { type: 'json' };
import { DEFINITION_PATH } from '../../src/local/paths.js';
import { loadDefinition } from '../../src/local/state-machine-runner.js';
import { validateAgainstSchema } from '../../src/schemas.js';

type State = {
  Parameters?: Record<string, unknown>;
  ResultSelector?: Record<string, unknown>;
  ItemProcessor?: { States: Record<string, State> };
};
const definition = (await loadDefinition(DEFINITION_PATH)) as unknown as { States: Record<string, State> };
const states = definition.States;
const mapStates = states.RunTransforms?.ItemProcessor?.States ?? {};

/** The field names a Parameters or ResultSelector block passes (`name.$` is the field `name`). */
const fieldsOf = (block: Record<string, unknown> | undefined): string[] =>
  Object.keys(block ?? {})
    .map((key) => key.replace(/\.\$$/, ''))
    .sort();

const propertiesOf = (schema: { properties: Record<string, unknown> }): string[] =>
  Object.keys(schema.properties).sort();

// Each Lambda's event is what the state machine's Parameters build: its schema (and the type generated
// from it, which the handler and the core use) must name exactly those fields.
describe('each Lambda event schema names exactly what state-machines/batch-transform.asl.yml passes', () => {
  it('BuildManifest', () => {
    expect(propertiesOf(buildManifestEvent)).toEqual(fieldsOf(states.BuildManifest?.Parameters));
  });

  it('ParseResults, and the transform job as RunTransformJob’s ResultSelector keeps it', () => {
    expect(propertiesOf(parseResultsEvent)).toEqual(fieldsOf(mapStates.ParseResults?.Parameters));
    expect(propertiesOf(parseResultsEvent.properties.transformJob)).toEqual(
      fieldsOf(mapStates.RunTransformJob?.ResultSelector),
    );
  });

  it("ParseResults' result (MapJobResult): the variant and shard the ASL passes, the transform job but its status", () => {
    const [, own] = parseResultsResult.allOf;
    const passed = fieldsOf(mapStates.ParseResults?.Parameters);
    for (const name of ['variant', 'shardId']) expect(passed).toContain(name);
    expect(Object.keys(own?.properties ?? {}).sort()).toEqual(['shardId', 'transformJob', 'variant']);
    expect(Object.keys(own?.properties?.transformJob.properties ?? {}).sort()).toEqual(
      fieldsOf(mapStates.RunTransformJob?.ResultSelector).filter((f) => f !== 'TransformJobStatus'),
    );
  });

  it('RegisterTable', () => {
    expect(propertiesOf(registerTableEvent)).toEqual(fieldsOf(states.RegisterTable?.Parameters));
  });

  it('RunQueries', () => {
    expect(propertiesOf(runQueriesEvent)).toEqual(fieldsOf(states.RunQueries?.Parameters));
  });

  it('RecordFailure: the execution name and the whole state', () => {
    expect(propertiesOf(recordFailureEvent)).toEqual(fieldsOf(states.RecordFailure?.Parameters));
    expect(states.RecordFailure?.Parameters?.['state.$']).toBe('$');
  });
});

describe("RecordFailure's event schema", () => {
  // Written by hand from src/core/record-failure.ts: every field of the state it reads.
  it('lists every field of the state RecordFailure reads', () => {
    expect(propertiesOf(recordFailureEvent.properties.state)).toEqual(
      ['failedState', 'failure', 'jobList', 'request', 'runId'].sort(),
    );
  });

  it('accepts the whole state of any failed step, a raw request with a bad run id included', () => {
    const failure = { Error: 'States.TaskFailed', Cause: 'c' };
    const states = [
      // BuildManifest failed: the state is the raw request, whatever it holds.
      {
        input: 'x',
        runId: '../x',
        jobList: 'not a pointer',
        request: 7,
        failure,
        failedState: 'BuildManifest',
      },
      // A later step failed: the state is the plan (with more fields than those read).
      {
        runId: 'r1',
        runDate: '2026-01-01',
        table: { database: 'db', table: 't', resultsPrefix: 's3://b/results/' },
        jobList: { bucket: 'b', key: 'runs/r1/attempts/0123456789ab/jobs.json' },
        mapRun: { mapRunArn: 'arn' },
        failure,
        failedState: 'RunTransforms',
      },
    ];
    for (const state of states) {
      const event = { executionName: 'e-1', state };
      expect(validateAgainstSchema('record-failure-event', event, 'RecordFailure event')).toBe(event);
    }
  });

  it('refuses a state without the failure the Catch puts there, or a failedState that is not a name', () => {
    expect(() =>
      validateAgainstSchema('record-failure-event', { executionName: 'e', state: {} }, 'RecordFailure event'),
    ).toThrow("/state must have required property 'failure'");
    expect(() =>
      validateAgainstSchema(
        'record-failure-event',
        { executionName: 'e', state: { failure: {}, failedState: 1 } },
        'RecordFailure event',
      ),
    ).toThrow('/state/failedState must be string');
  });
});
