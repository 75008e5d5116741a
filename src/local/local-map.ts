import { randomUUID } from 'node:crypto';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { lines } from '../core/line-cursor.js';
import { failureMessage } from '../core/record-failure.js';
import { InvalidInputError } from '../errors.js';
import { stepFunctionsError } from './payload-limit.js';
import type {
  CompiledDefinition,
  Definition,
  ExecutionContext,
  ExecutionResult,
  LocalInterpreter,
} from './state-machine-runner.js';

/** The Map fields the local runner reads (JSONPath flavour). */
export interface MapStateDefinition {
  Type: 'Map';
  Label?: string;
  ItemProcessor?: Definition & { ProcessorConfig?: { Mode?: string; ExecutionType?: string } };
  Iterator?: Definition;
  ItemsPath?: string;
  ItemSelector?: unknown;
  Parameters?: unknown;
  ItemReader?: {
    Resource: string;
    Parameters?: unknown;
    ReaderConfig?: { InputType?: string; MaxItems?: number; [field: string]: unknown };
  };
  ResultWriter?: { Resource: string; Parameters?: unknown; [field: string]: unknown };
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailurePercentage?: number;
  [field: string]: unknown;
}

const S3_GET_OBJECT = 'arn:aws:states:::s3:getObject';
const S3_PUT_OBJECT = 'arn:aws:states:::s3:putObject';
/** AWS: an inline Map runs at most 40 iterations at once; a Distributed Map's default is 10,000 children. */
const INLINE_DEFAULT_CONCURRENCY = 40;
const DISTRIBUTED_DEFAULT_CONCURRENCY = 10_000;
/** Errors Step Functions never lets a Retry or Catch match. */
const TERMINAL_ERRORS = new Set(['States.DataLimitExceeded', 'States.Runtime']);

/**
 * Refuses, before anything runs, the Map fields the local runner does not implement, so a definition
 * never half-runs locally.
 *
 * @throws InvalidInputError naming the state and the field.
 */
export function checkMapSupported(stateName: string, map: MapStateDefinition): void {
  for (const field of [
    'ToleratedFailureCountPath',
    'ToleratedFailurePercentagePath',
    'ItemBatcher',
    'Items',
    'QueryLanguage',
  ]) {
    if (field in map) {
      throw new InvalidInputError(`Map state "${stateName}": the local runner does not support ${field}`);
    }
  }
  if (map.ItemReader) {
    const inputType = map.ItemReader.ReaderConfig?.InputType;
    if (map.ItemReader.Resource !== S3_GET_OBJECT || (inputType !== 'JSON' && inputType !== 'JSONL')) {
      throw new InvalidInputError(
        `Map state "${stateName}": the local runner reads items only with ${S3_GET_OBJECT} and ReaderConfig InputType JSON or JSONL`,
      );
    }
  }
  if (map.ResultWriter) {
    if (map.ResultWriter.Resource !== S3_PUT_OBJECT || 'WriterConfig' in map.ResultWriter) {
      throw new InvalidInputError(
        `Map state "${stateName}": the local runner writes results only with ${S3_PUT_OBJECT} and no WriterConfig`,
      );
    }
  }
  if ((map.ItemReader || map.ResultWriter) && !isDistributed(map)) {
    throw new InvalidInputError(
      `Map state "${stateName}": ItemReader and ResultWriter need ProcessorConfig Mode DISTRIBUTED`,
    );
  }
}

interface MapRunArgs {
  interpreter: LocalInterpreter;
  stateName: string;
  state: MapStateDefinition;
  processor: CompiledDefinition;
  /** The Map state's effective input (after InputPath). */
  input: unknown;
  run: ExecutionContext;
}

interface ChildOutcome {
  index: number;
  input: unknown;
  result: ExecutionResult;
  /** Failed because the Map stopped it (fail-fast), not on its own. */
  aborted: boolean;
  name: string;
  arn: string;
}

/**
 * Runs a Map state's iterations as Step Functions does, and returns the Map's result (before its
 * ResultSelector/ResultPath/OutputPath, which the interpreter applies).
 *
 * INLINE: items from ItemsPath; the first failed iteration fails the Map with its own error, the other
 * iterations are stopped. DISTRIBUTED: items from the ItemReader's S3 object (JSON array or JSON lines)
 * or ItemsPath; each item runs as a child execution with its own payload checks; once more children
 * failed than ToleratedFailureCount/Percentage allow (0 by default), no new child starts, running ones
 * are stopped and awaited, and the Map fails with States.ExceedToleratedFailureThreshold (catchable).
 * With a ResultWriter, the children's results go to S3 (manifest.json, SUCCEEDED_0.json, FAILED_0.json)
 * and the Map's result is only `{MapRunArn, ResultWriterDetails}`, whatever the number of items.
 */
export async function runMapState(args: MapRunArgs): Promise<unknown> {
  const { interpreter, stateName, state, processor, input, run } = args;
  const distributed = isDistributed(state);
  const context = run.context ?? {};
  const items = await readItems(args);
  const selector = state.ItemSelector ?? state.Parameters;
  const maxConcurrency = state.MaxConcurrencyPath
    ? await concurrencyAt(state.MaxConcurrencyPath, stateName, input, context)
    : state.MaxConcurrency;
  const concurrency =
    maxConcurrency && maxConcurrency > 0
      ? maxConcurrency
      : distributed
        ? DISTRIBUTED_DEFAULT_CONCURRENCY
        : INLINE_DEFAULT_CONCURRENCY;
  const tolerated = distributed ? toleratedFailures(state, items.length) : 0;
  const mapRunId = randomUUID();
  const mapRunArn = `arn:aws:states:local:000000000000:mapRun:batch-transform/${state.Label ?? stateName}:${mapRunId}`;

  // Stops every child: on fail-fast, or when this execution itself is stopped.
  const stop = new AbortController();
  const stopChildren = () => stop.abort();
  run.signal.addEventListener('abort', stopChildren, { once: true });
  if (run.signal.aborted) stop.abort();

  const outcomes: ChildOutcome[] = [];
  let failures = 0;
  let firstFailure: ChildOutcome | undefined;
  let next = 0;
  const runChild = async (index: number): Promise<ChildOutcome> => {
    const name = distributed ? `${mapRunId.slice(0, 8)}-${index}` : run.name;
    const arn = distributed
      ? `arn:aws:states:local:000000000000:execution:batch-transform/${state.Label ?? stateName}:${name}`
      : run.arn;
    let childInput: unknown = items[index];
    try {
      if (selector !== undefined) {
        childInput = await evaluate(selector, input, {
          ...context,
          Map: { Item: { Index: index, Value: items[index] } },
        });
      }
    } catch (error) {
      const failed = error as Error;
      const now = new Date();
      return {
        index,
        input: childInput,
        name,
        arn,
        aborted: false,
        result: {
          executionName: name,
          status: 'FAILED',
          error: failed.name,
          cause: failed.message,
          startTime: now,
          endTime: now,
        },
      };
    }
    const result = await interpreter.execute(processor, childInput, {
      name,
      arn,
      signal: stop.signal,
      // An inline iteration sees its parent's $$.Execution; a child execution has its own.
      context: distributed ? {} : context,
    });
    run.meter?.recordChild(result);
    return {
      index,
      input: childInput,
      name,
      arn,
      result,
      aborted: result.status === 'FAILED' && stop.signal.aborted,
    };
  };
  const worker = async () => {
    while (!stop.signal.aborted && next < items.length) {
      const outcome = await runChild(next++);
      outcomes[outcome.index] = outcome;
      if (outcome.result.status === 'FAILED' && !outcome.aborted) {
        failures += 1;
        firstFailure ??= outcome;
        if (failures > tolerated) stop.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  } finally {
    run.signal.removeEventListener('abort', stopChildren);
  }

  const resultWriterDetails = state.ResultWriter
    ? await writeResults(args, mapRunId, mapRunArn, outcomes.filter(Boolean))
    : undefined;
  if (failures > tolerated && firstFailure) {
    const error = firstFailure.result.error ?? 'States.Runtime';
    const cause = firstFailure.result.cause ?? '';
    if (!distributed) {
      const terminal = TERMINAL_ERRORS.has(error);
      throw stepFunctionsError(error, cause, { retryable: !terminal, catchable: !terminal });
    }
    throw stepFunctionsError(
      'States.ExceedToleratedFailureThreshold',
      JSON.stringify({
        message: `${failureMessage(cause) || error} (child execution ${firstFailure.index} of ${items.length} in Distributed Map "${stateName}" failed with ${error}; ${failures} failed, ${tolerated} tolerated)`,
        mapRunArn,
        failedItem: firstFailure.index,
        error,
        cause,
      }),
      { retryable: true, catchable: true },
    );
  }
  if (outcomes.filter(Boolean).length < items.length) {
    throw stepFunctionsError(
      'States.Aborted',
      `Map state "${stateName}" was stopped with its execution ${run.name}`,
    );
  }
  if (resultWriterDetails) return { MapRunArn: mapRunArn, ResultWriterDetails: resultWriterDetails };
  return outcomes.map(({ result }) =>
    result.status === 'SUCCEEDED' ? result.output : { Error: result.error, Cause: result.cause },
  );
}

/** MaxConcurrencyPath's value: a non-negative integer, or States.Runtime as on AWS. */
async function concurrencyAt(
  path: string,
  stateName: string,
  input: unknown,
  context: Record<string, unknown>,
): Promise<number> {
  const { value } = (await evaluate({ 'value.$': path }, input, context)) as { value: unknown };
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw stepFunctionsError(
      'States.Runtime',
      `Map state "${stateName}": MaxConcurrencyPath ${path} is ${JSON.stringify(value)}, not a non-negative integer`,
    );
  }
  return value;
}

function isDistributed(map: MapStateDefinition): boolean {
  return map.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED';
}

/** How many failed children a Distributed Map tolerates: the stricter of its count and percentage. */
function toleratedFailures(map: MapStateDefinition, items: number): number {
  const limits: number[] = [];
  if (map.ToleratedFailureCount !== undefined) limits.push(map.ToleratedFailureCount);
  if (map.ToleratedFailurePercentage !== undefined) {
    limits.push(Math.floor((map.ToleratedFailurePercentage / 100) * items));
  }
  return limits.length === 0 ? 0 : Math.min(...limits);
}

/** The Map's items: the ItemReader's S3 object, or ItemsPath over the effective input. */
async function readItems({ interpreter, stateName, state, input, run }: MapRunArgs): Promise<unknown[]> {
  const context = run.context ?? {};
  if (!state.ItemReader) {
    const items = state.ItemsPath
      ? await evaluate({ 'items.$': state.ItemsPath }, input, context)
      : { items: input };
    const list = (items as { items: unknown }).items;
    if (!Array.isArray(list)) {
      throw stepFunctionsError(
        'States.Runtime',
        `Map state "${stateName}": ${state.ItemsPath ? `ItemsPath ${state.ItemsPath}` : 'its input'} is not an array`,
      );
    }
    return list;
  }
  const reader = state.ItemReader;
  const { Bucket, Key } = (await evaluate(reader.Parameters ?? {}, input, context)) as {
    Bucket?: unknown;
    Key?: unknown;
  };
  const uri = `s3://${String(Bucket)}/${String(Key)}`;
  const store = interpreter.options.store;
  if (!store) {
    throw new InvalidInputError(
      `Map state "${stateName}" reads its items from ${uri}, but the runner was given no object store`,
    );
  }
  const readerFailed = (why: string, cause?: unknown) =>
    Object.assign(
      stepFunctionsError(
        'States.ItemReaderFailed',
        `Map state "${stateName}" could not read its items from ${uri}: ${why}`,
        { retryable: true, catchable: true },
      ),
      { cause },
    );
  let bytes: Uint8Array;
  try {
    bytes = await store.getBytes(uri);
  } catch (error) {
    throw readerFailed((error as Error).message, error);
  }
  let items: unknown[];
  try {
    if (reader.ReaderConfig?.InputType === 'JSONL') {
      // Lines as LineCursor splits them; a line of spaces alone holds no item either.
      items = [...lines(bytes)]
        .filter(({ text }) => text.trim() !== '')
        .map(({ text }) => JSON.parse(text) as unknown);
    } else {
      const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
      if (!Array.isArray(parsed)) throw new Error('a JSON ItemReader object must hold a JSON array');
      items = parsed;
    }
  } catch (error) {
    throw readerFailed((error as Error).message, error);
  }
  const maxItems = reader.ReaderConfig?.MaxItems;
  return maxItems ? items.slice(0, maxItems) : items;
}

/** Writes a Map Run's results as AWS's ResultWriter does; returns its ResultWriterDetails. */
async function writeResults(
  { interpreter, stateName, state, input, run }: MapRunArgs,
  mapRunId: string,
  mapRunArn: string,
  outcomes: ChildOutcome[],
): Promise<{ Bucket: string; Key: string }> {
  const { Bucket, Prefix } = (await evaluate(
    state.ResultWriter?.Parameters ?? {},
    input,
    run.context ?? {},
  )) as {
    Bucket?: unknown;
    Prefix?: unknown;
  };
  const store = interpreter.options.store;
  if (!store)
    throw new InvalidInputError(
      `Map state "${stateName}" writes results, but the runner was given no object store`,
    );
  const prefix = typeof Prefix === 'string' && Prefix !== '' ? `${Prefix.replace(/\/+$/, '')}/` : '';
  const folder = `${prefix}${mapRunId}/`;
  const entries = outcomes.map((outcome) => ({
    ExecutionArn: outcome.arn,
    Input: JSON.stringify(outcome.input),
    InputDetails: { Included: true },
    Name: outcome.name,
    ...(outcome.result.status === 'SUCCEEDED'
      ? { Output: JSON.stringify(outcome.result.output ?? null), OutputDetails: { Included: true } }
      : { Error: outcome.result.error, Cause: outcome.result.cause }),
    StartDate: outcome.result.startTime.toISOString(),
    StateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:batch-transform',
    Status: outcome.result.status === 'SUCCEEDED' ? 'SUCCEEDED' : outcome.aborted ? 'ABORTED' : 'FAILED',
    StopDate: outcome.result.endTime.toISOString(),
  }));
  const resultFiles: Record<'FAILED' | 'PENDING' | 'SUCCEEDED', { Key: string; Size: number }[]> = {
    FAILED: [],
    PENDING: [],
    SUCCEEDED: [],
  };
  try {
    for (const status of ['SUCCEEDED', 'FAILED'] as const) {
      const group = entries.filter((e) =>
        status === 'SUCCEEDED' ? e.Status === 'SUCCEEDED' : e.Status !== 'SUCCEEDED',
      );
      if (group.length === 0) continue;
      const key = `${folder}${status}_0.json`;
      const body = JSON.stringify(group);
      await store.put(`s3://${String(Bucket)}/${key}`, body, { contentType: 'application/json' });
      resultFiles[status].push({ Key: key, Size: Buffer.byteLength(body) });
    }
    const manifest = { DestinationBucket: Bucket, MapRunArn: mapRunArn, ResultFiles: resultFiles };
    await store.put(`s3://${String(Bucket)}/${folder}manifest.json`, JSON.stringify(manifest), {
      contentType: 'application/json',
    });
  } catch (error) {
    throw Object.assign(
      stepFunctionsError(
        'States.ResultWriterFailed',
        `Map state "${stateName}" could not write its results under s3://${String(Bucket)}/${folder}: ${(error as Error).message}`,
        { retryable: true, catchable: true },
      ),
      { cause: error },
    );
  }
  return { Bucket: String(Bucket), Key: `${folder}manifest.json` };
}

/**
 * Evaluates a JSONPath payload template (`"key.$": "$.path"`, `$$.` context paths, intrinsic
 * functions) with the interpreter's own implementation, by running it as a one-state Pass machine.
 *
 * @throws the interpreter's error (States.Runtime for a path that selects nothing).
 */
async function evaluate(
  template: unknown,
  input: unknown,
  context: Record<string, unknown>,
): Promise<unknown> {
  const machine = new StateMachine(
    { StartAt: 'Evaluate', States: { Evaluate: { Type: 'Pass', Parameters: template, End: true } } } as never,
    { validationOptions: { noValidate: true } },
  );
  try {
    return await machine.run(input as never, { context: context as never }).result;
  } catch (error) {
    if (error instanceof ExecutionError && error.cause instanceof Error) throw error.cause;
    throw error;
  }
}
