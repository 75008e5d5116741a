import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../errors.js';

/** A local stand-in for one Task resource: gets the state's effective Parameters, returns its result. */
export type TaskImplementation = (input: unknown) => Promise<unknown>;

/**
 * Local implementations by resource: `lambda:<serverless function name>` for states whose Resource is
 * `Fn::GetAtt: [<name>, Arn]`, or the service integration ARN (`arn:aws:states:::sagemaker:createModel`).
 */
export type ResourceImplementations = Record<string, TaskImplementation>;

export interface ExecutionResult {
  executionName: string;
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: string;
  cause?: string;
  startTime: Date;
  endTime: Date;
}

export interface RunOptions {
  executionName?: string;
  /** Per-state Retry waits in ms (tests set 0 so retries do not sleep). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  now?: () => Date;
}

type StateDefinition = {
  Type: string;
  Resource?: unknown;
  ItemProcessor?: { States: Record<string, StateDefinition> };
  Iterator?: { States: Record<string, StateDefinition> };
  Branches?: { States: Record<string, StateDefinition> }[];
};
type Definition = { StartAt: string; States: Record<string, StateDefinition> };

/** Reads an ASL definition file (YAML or JSON, as serverless.yml's ${file()} does). */
export async function loadDefinition(path: string): Promise<Definition> {
  return parseYaml(await readFile(path, 'utf8'), { merge: true }) as Definition;
}

/**
 * Runs a state machine definition on this machine with aws-local-stepfunctions, the same file AWS runs.
 * Each Task state is routed to the local implementation of its resource; a definition with a Task this
 * machine cannot run is refused before anything starts.
 */
export async function runStateMachine(
  definition: Definition,
  input: unknown,
  implementations: ResourceImplementations,
  options: RunOptions = {},
): Promise<ExecutionResult> {
  const now = options.now ?? (() => new Date());
  const local = structuredClone(definition);
  const taskHandlers: Record<string, TaskImplementation> = {};
  forEachTask(local.States, (stateName, state) => {
    const resource = resourceKey(state.Resource);
    const implementation = implementations[resource];
    if (!implementation) {
      throw new InvalidInputError(`State "${stateName}" uses ${resource}, which has no local implementation`);
    }
    if (taskHandlers[stateName] && taskHandlers[stateName] !== implementation) {
      throw new InvalidInputError(`State name "${stateName}" is used twice with different resources`);
    }
    taskHandlers[stateName] = implementation;
    // The local interpreter wants a string ARN; the override decides what runs.
    state.Resource = resource.startsWith('lambda:')
      ? `arn:aws:lambda:us-east-1:000000000000:function:${resource.slice('lambda:'.length)}`
      : resource;
  });

  const executionName = options.executionName ?? randomUUID();
  const startTime = now();
  const machine = new StateMachine(local as never, {
    validationOptions: { checkPaths: true, checkArn: true },
  });
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: taskHandlers as never,
      ...(options.retryIntervalOverrides ? { retryIntervalOverrides: options.retryIntervalOverrides } : {}),
    },
    context: {
      Execution: {
        Id: `arn:aws:states:local:000000000000:execution:batch-transform:${executionName}`,
        Name: executionName,
        StartTime: startTime.toISOString(),
        Input: input,
        RoleArn: 'arn:aws:iam::000000000000:role/local',
      },
      StateMachine: {
        Id: 'arn:aws:states:local:000000000000:stateMachine:batch-transform',
        Name: 'batch-transform',
      },
    } as never,
  });
  try {
    const output = await execution.result;
    return { executionName, status: 'SUCCEEDED', output, startTime, endTime: now() };
  } catch (error) {
    if (error instanceof ExecutionError) {
      // The interpreter wraps what ended the execution (a Fail state's Error/Cause, or an uncaught error).
      const ended = error.cause as { name?: string; message?: string } | undefined;
      return {
        executionName,
        status: 'FAILED',
        error: ended?.name ?? 'States.Runtime',
        cause: ended?.message ?? error.message,
        startTime,
        endTime: now(),
      };
    }
    throw error;
  }
}

function forEachTask(
  states: Record<string, StateDefinition>,
  visit: (stateName: string, state: StateDefinition) => void,
): void {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') visit(name, state);
    if (state.ItemProcessor) forEachTask(state.ItemProcessor.States, visit);
    if (state.Iterator) forEachTask(state.Iterator.States, visit);
    for (const branch of state.Branches ?? []) forEachTask(branch.States, visit);
  }
}

function resourceKey(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const getAtt = (resource as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && getAtt[1] === 'Arn')
    return `lambda:${getAtt[0]}`;
  throw new InvalidInputError(`Unsupported Task Resource ${JSON.stringify(resource)}`);
}
