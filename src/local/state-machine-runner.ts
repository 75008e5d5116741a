import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { InvalidInputError } from '../errors.js';
import type { ObjectStore } from '../ports.js';
import { checkMapSupported, type MapStateDefinition, runMapState } from './local-map.js';
import { PROJECT_ROOT } from './paths.js';
import {
  type PayloadMeasure,
  PayloadMeter,
  type StepFunctionsError,
  stepFunctionsError,
} from './payload-limit.js';

export { PAYLOAD_LIMIT_BYTES, type PayloadMeasure } from './payload-limit.js';

/** What a Task implementation is told besides its input. */
export interface TaskContext {
  /** Aborted when the execution running the task is stopped (a Distributed Map failing fast). */
  signal: AbortSignal;
}

/** A local stand-in for one Task resource: gets the state's effective Parameters, returns its result. */
export type TaskImplementation = (input: unknown, context: TaskContext) => Promise<unknown>;

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
  /** The largest payload of this execution's own states (inputs, outputs, task inputs and results). */
  largestPayload?: PayloadMeasure;
  /** The largest payload of any child execution a Map state of this execution ran. */
  largestChildPayload?: PayloadMeasure;
}

/** The object store a Distributed Map's ItemReader reads from and its ResultWriter writes to. */
export type MapObjectStore = Pick<ObjectStore, 'getBytes' | 'put'>;

export interface RunOptions {
  executionName?: string;
  /** Per-state Retry waits in ms (tests set 0 so retries do not sleep). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  now?: () => Date;
  /** Where `s3://` ItemReader/ResultWriter objects live (required only by definitions that use them). */
  store?: MapObjectStore;
}

export type StateDefinition = {
  Type: string;
  Resource?: unknown;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  ItemProcessor?: Definition & { ProcessorConfig?: { Mode?: string; ExecutionType?: string } };
  Iterator?: Definition;
  Branches?: Definition[];
  [field: string]: unknown;
};
export type Definition = {
  StartAt: string;
  States: Record<string, StateDefinition>;
  [field: string]: unknown;
};

/**
 * AWS runs a Task without TimeoutSeconds for up to 99,999,999 s; the local interpreter would give it
 * 60 s. This is the longest timer Node can set (2^31-1 ms, about 24 days), so a long local transform
 * job is never cut short where AWS would let it run.
 */
const UNLIMITED_TASK_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Reads an ASL definition file (YAML or JSON, as serverless.yml's ${file()} does). */
export async function loadDefinition(path: string): Promise<Definition> {
  const text = await readFile(path, 'utf8');
  // Parsing the YAML is a tenth of a second of a small run: its JSON is kept in the tool cache by the
  // digest of the text (any edit is a new digest).
  const cached = join(CACHE_DIR, 'definitions', `${createHash('sha256').update(text).digest('hex')}.json`);
  try {
    return JSON.parse(await readFile(cached, 'utf8')) as Definition;
  } catch {}
  // Loaded only here: the YAML parser is a quarter of the interpreter's code, and a cached run needs none.
  // yaml is a CommonJS package: its module object is the default export both under Node and in the
  // esbuild bundle, where (unlike Node) the namespace has no named exports.
  const { default: yaml } = await import('yaml');
  const definition = yaml.parse(text, { merge: true }) as Definition;
  writeCache(cached, JSON.stringify(definition));
  return definition;
}

/** The project's tool cache (node_modules/.cache/<name>, the usual home of a tool's cache). */
const CACHE_DIR = join(PROJECT_ROOT, 'node_modules/.cache/sagemaker-batch-pipeline');

/** Writes a cache file whole (a temporary file renamed), or not at all: a read-only install still runs. */
function writeCache(path: string, contents: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, contents);
    renameSync(temp, path);
  } catch {}
}

/**
 * Runs a state machine definition on this machine, the same file AWS runs. aws-local-stepfunctions
 * interprets the states; this runner adds what it lacks:
 *
 * - Map states (INLINE and DISTRIBUTED) run here: a Distributed Map reads its items with its ItemReader
 *   from `options.store`, runs each as a child execution with real concurrency (MaxConcurrency), fails
 *   fast once ToleratedFailureCount/Percentage is exceeded (stopping the running children and waiting
 *   for them), and writes its ResultWriter files as AWS does.
 * - Step Functions' 256 KiB payload quota is enforced on every transition: the execution input, each
 *   state's input and output, each task's effective input and result. Over it, the execution fails
 *   with States.DataLimitExceeded naming the state, which no Catch can catch, as on AWS.
 *
 * Each Task state is routed to the local implementation of its resource; a definition with a Task this
 * machine cannot run is refused before anything starts.
 */
export async function runStateMachine(
  definition: Definition,
  input: unknown,
  implementations: ResourceImplementations,
  options: RunOptions = {},
): Promise<ExecutionResult> {
  const interpreter = new LocalInterpreter(implementations, options);
  const compiled = interpreter.compile(definition, 'the state machine');
  validate(definition);
  const executionName = options.executionName ?? randomUUID();
  return interpreter.execute(compiled, input, {
    name: executionName,
    arn: `arn:aws:states:local:000000000000:execution:batch-transform:${executionName}`,
    signal: new AbortController().signal,
  });
}

/** A definition ready for aws-local-stepfunctions: Map states turned into locally run Tasks. */
export interface CompiledDefinition {
  definition: Definition;
  handlers: Record<string, (input: unknown, run: ExecutionContext) => Promise<unknown>>;
}

/** One execution (the top one or a Map's child) as the runner sees it. */
export interface ExecutionContext {
  name: string;
  arn: string;
  /** Stops the execution's tasks (its Map's fail-fast, or its parent's). */
  signal: AbortSignal;
  /** The execution's payload meter (set by {@link LocalInterpreter.execute}). */
  meter?: PayloadMeter;
  /** The `$$` context object its states see. */
  context?: Record<string, unknown>;
}

export class LocalInterpreter {
  readonly implementations: ResourceImplementations;
  readonly options: RunOptions;

  constructor(implementations: ResourceImplementations, options: RunOptions) {
    this.implementations = implementations;
    this.options = options;
  }

  /**
   * Rewrites a definition for the local interpreter: Task resources become ARNs routed to local
   * implementations, Map states become Tasks this runner executes. Nested processors are compiled now,
   * so a definition that cannot run is refused before anything starts.
   */
  compile(definition: Definition, where: string): CompiledDefinition {
    const local = structuredClone(definition);
    // A Map's processor carries its ProcessorConfig; as a machine of its own it has none.
    delete local.ProcessorConfig;
    const handlers: CompiledDefinition['handlers'] = {};
    for (const [stateName, state] of Object.entries(local.States)) {
      if (state.Type === 'Task') {
        const resource = resourceKey(state.Resource);
        const implementation = this.implementations[resource];
        if (!implementation) {
          throw new InvalidInputError(
            `State "${stateName}" in ${where} uses ${resource}, which has no local implementation`,
          );
        }
        // The local interpreter wants a string ARN; the handler decides what runs.
        state.Resource = resource.startsWith('lambda:')
          ? `arn:aws:lambda:us-east-1:000000000000:function:${resource.slice('lambda:'.length)}`
          : resource;
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = UNLIMITED_TASK_SECONDS;
        }
        handlers[stateName] = (input, run) => this.runTask(stateName, implementation, input, run);
      } else if (state.Type === 'Map') {
        const map = state as unknown as MapStateDefinition;
        const processor = map.ItemProcessor ?? map.Iterator;
        if (!processor)
          throw new InvalidInputError(`Map state "${stateName}" in ${where} has no ItemProcessor`);
        checkMapSupported(stateName, map);
        const compiledProcessor = this.compile(processor, `Map state "${stateName}"`);
        local.States[stateName] = mapAsTask(map);
        handlers[stateName] = (input, run) =>
          runMapState({ interpreter: this, stateName, state: map, processor: compiledProcessor, input, run });
      } else if (state.Type === 'Parallel') {
        throw new InvalidInputError(
          `State "${stateName}" in ${where} is a Parallel state, which the local runner does not run`,
        );
      }
    }
    return { definition: local, handlers };
  }

  /** Runs one execution of a compiled definition; resolves with its result whatever it was. */
  async execute(
    compiled: CompiledDefinition,
    input: unknown,
    run: ExecutionContext,
  ): Promise<ExecutionResult> {
    const now = this.options.now ?? (() => new Date());
    const startTime = now();
    const meter = new PayloadMeter();
    const execution: ExecutionContext = {
      ...run,
      meter,
      context: {
        ...run.context,
        Execution: {
          Id: run.arn,
          Name: run.name,
          StartTime: startTime.toISOString(),
          Input: input,
          RoleArn: 'arn:aws:iam::000000000000:role/local',
        },
        StateMachine: {
          Id: 'arn:aws:states:local:000000000000:stateMachine:batch-transform',
          Name: 'batch-transform',
        },
      },
    };
    const result = (fields: Partial<ExecutionResult>): ExecutionResult => ({
      executionName: run.name,
      status: 'FAILED',
      startTime,
      endTime: now(),
      ...(meter.largest ? { largestPayload: meter.largest } : {}),
      ...(meter.largestInChildren ? { largestChildPayload: meter.largestInChildren } : {}),
      ...fields,
    });
    try {
      meter.check('the execution', 'input', input);
    } catch (error) {
      const failure = error as StepFunctionsError;
      return result({ error: failure.name, cause: failure.message });
    }

    const taskHandlers = Object.fromEntries(
      Object.entries(compiled.handlers).map(([name, handler]) => [
        name,
        (stateInput: unknown) => handler(stateInput, execution),
      ]),
    );
    const machine = new StateMachine(compiled.definition as never, {
      validationOptions: { noValidate: true },
    });
    checkEveryTransition(machine, meter);
    const running = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: taskHandlers as never,
        ...(this.options.retryIntervalOverrides
          ? { retryIntervalOverrides: this.options.retryIntervalOverrides }
          : {}),
      },
      context: execution.context as never,
    });
    try {
      const output = await running.result;
      return result({ status: 'SUCCEEDED', output });
    } catch (error) {
      if (error instanceof ExecutionError) {
        // The interpreter wraps what ended the execution (a Fail state's Error/Cause, or an uncaught error).
        const ended = error.cause as { name?: string; message?: string } | undefined;
        return result({ error: ended?.name ?? 'States.Runtime', cause: ended?.message ?? error.message });
      }
      throw error;
    }
  }

  private async runTask(
    stateName: string,
    implementation: TaskImplementation,
    input: unknown,
    run: ExecutionContext,
  ): Promise<unknown> {
    if (run.signal.aborted) {
      throw stepFunctionsError(
        'States.Aborted',
        `Execution ${run.name} was stopped before "${stateName}" started`,
      );
    }
    run.meter?.check(stateName, 'task input (after Parameters)', input);
    const result = await implementation(input, { signal: run.signal });
    run.meter?.check(stateName, 'task result', result);
    return result;
  }
}

/**
 * Checks the payload of every state transition of one execution of the library's state machine: its
 * interpreter announces each state's input as it enters and its output as it leaves through an event
 * logger, synchronously, inside the loop that runs the states. Throwing there fails the execution at
 * that very transition, before the next state starts: where AWS fails it. Only this machine's own
 * logger is wrapped (no global patching); Map children are separate executions with their own.
 */
function checkEveryTransition(machine: StateMachine, meter: PayloadMeter): void {
  const internals = machine as unknown as {
    execute?: (
      input: unknown,
      options: { eventLogger?: TransitionLogger },
      cleanup: unknown,
    ) => Promise<unknown>;
  };
  const execute = internals.execute;
  if (typeof execute !== 'function') {
    throw new Error(
      'aws-local-stepfunctions no longer has StateMachine.execute: the payload limit cannot be enforced',
    );
  }
  internals.execute = function (this: unknown, input, options, cleanup) {
    const logger = options.eventLogger;
    if (
      typeof logger?.dispatchStateEnteredEvent !== 'function' ||
      typeof logger.dispatchStateExitedEvent !== 'function'
    ) {
      throw new Error(
        'aws-local-stepfunctions changed its event logger: the payload limit cannot be enforced',
      );
    }
    const entered = logger.dispatchStateEnteredEvent.bind(logger);
    const exited = logger.dispatchStateExitedEvent.bind(logger);
    logger.dispatchStateEnteredEvent = (name, type, stateInput) => {
      meter.check(name, 'input', stateInput);
      entered(name, type, stateInput);
    };
    logger.dispatchStateExitedEvent = (name, type, stateInput, output) => {
      meter.check(name, 'output', output);
      exited(name, type, stateInput, output);
    };
    return execute.call(this, input, options, cleanup);
  };
}

interface TransitionLogger {
  dispatchStateEnteredEvent: (name: string, type: string, input: unknown) => void;
  dispatchStateExitedEvent: (name: string, type: string, input: unknown, output: unknown) => void;
}

/**
 * A Map state as the local interpreter sees it: a Task (so its InputPath, ResultSelector, ResultPath,
 * OutputPath, Retry and Catch keep their meaning) whose work this runner does.
 */
function mapAsTask(map: MapStateDefinition): StateDefinition {
  const kept = [
    'Comment',
    'InputPath',
    'ResultSelector',
    'ResultPath',
    'OutputPath',
    'Retry',
    'Catch',
    'Next',
    'End',
  ];
  const task: StateDefinition = { Type: 'Task', Resource: 'arn:aws:states:::local:map' };
  for (const field of kept) {
    if (field in map) task[field] = (map as Record<string, unknown>)[field];
  }
  task.TimeoutSeconds = UNLIMITED_TASK_SECONDS;
  return task;
}

/**
 * Where definitions found valid are remembered (one empty file per digest). Validating compiles
 * asl-validator's JSON schemas: over a second of a 569-row run.
 */
const VALIDATED_DIR = join(CACHE_DIR, 'valid-asl');
const validatedHere = new Set<string>();

/**
 * Validates the definition as written (Distributed Map fields included) with the interpreter's
 * asl-validator, once per definition and interpreter version: the executions then skip validation. A
 * definition found valid is remembered on disk by the digest of its JSON and the interpreter's version,
 * so the same definition is not validated again by the next run (it costs seconds on a loaded
 * machine); an invalid one is never remembered and fails every time.
 */
function validate(definition: Definition): void {
  const key = createHash('sha256')
    .update(`${interpreterVersion()}\n${JSON.stringify(definition)}`)
    .digest('hex');
  if (validatedHere.has(key)) return;
  const marker = join(VALIDATED_DIR, key);
  if (!existsSync(marker)) {
    validateNow(definition);
    writeCache(marker, '');
  }
  validatedHere.add(key);
}

function interpreterVersion(): string {
  try {
    const file = join(PROJECT_ROOT, 'node_modules/aws-local-stepfunctions/package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function validateNow(definition: Definition): void {
  const copy = structuredClone(definition);
  const withStringArns = (states: Record<string, StateDefinition>) => {
    for (const state of Object.values(states)) {
      if (state.Type === 'Task' && typeof state.Resource !== 'string') {
        state.Resource = `arn:aws:lambda:us-east-1:000000000000:function:${resourceKey(state.Resource).slice('lambda:'.length)}`;
      }
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) withStringArns(processor.States);
    }
  };
  withStringArns(copy.States);
  new StateMachine(copy as never, { validationOptions: { checkPaths: true, checkArn: true } });
}

function resourceKey(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const getAtt = (resource as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && getAtt[1] === 'Arn')
    return `lambda:${getAtt[0]}`;
  throw new InvalidInputError(`Unsupported Task Resource ${JSON.stringify(resource)}`);
}
