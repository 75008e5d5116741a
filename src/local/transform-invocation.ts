/**
 * Talking to a job's container: the health check at start, /execution-parameters, and each invocation
 * with ModelClientConfig's retries.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TransformJobRequest } from '../core/transform-job.js';
import {
  InvocationTimeoutError,
  messageOf,
  TransformJobFailedError,
  TransformJobStoppedError,
} from '../errors.js';
import type { ExecutionParameters, InvocationResult, ModelClient } from '../ports.js';
import type { JobPlan } from './transform-settings.js';

/** SageMaker gives /ping 2 s per attempt. */
const PING_TIMEOUT_MS = 2000;
const EXECUTION_PARAMETERS_TIMEOUT_MS = 5000;

/** What every invocation of a running job shares. */
export interface RunState {
  signal: AbortSignal;
  /** Set by the first failed invocation so no new one starts (the job is lost anyway). */
  failure?: Error;
}

/**
 * Polls the container's /ping until it answers 200, backing off from 50 ms to 2 s.
 *
 * @throws TransformJobFailedError when it has not within `timeoutMs`.
 */
export async function waitUntilHealthy(
  client: ModelClient,
  modelName: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  while (!(await client.ping(PING_TIMEOUT_MS).catch(() => false))) {
    if (Date.now() + delay > deadline) {
      throw new TransformJobFailedError(
        `The container for model ${modelName} did not pass the /ping health check within ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 2000);
  }
}

/** The container's /execution-parameters. @throws TransformJobFailedError when the call fails. */
export async function fetchExecutionParameters(
  client: ModelClient,
): Promise<ExecutionParameters | undefined> {
  try {
    return await client.executionParameters(EXECUTION_PARAMETERS_TIMEOUT_MS);
  } catch (error) {
    throw new TransformJobFailedError(`GET /execution-parameters failed: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

/** Starts the model's container through `resolve`. @throws TransformJobFailedError naming the model. */
export async function startContainer(
  request: TransformJobRequest,
  resolve: () => Promise<ModelClient> | ModelClient,
): Promise<ModelClient> {
  try {
    return await resolve();
  } catch (error) {
    throw new TransformJobFailedError(
      `Could not start the container for model ${request.ModelName}: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

/** One invocation's call and, for a container's rejection, how to name the record it rejected. */
export interface Invocation {
  /** The input object, for messages. */
  uri: string;
  /** The records sent, for messages ("lines 1-100 (100 records)"). */
  range: string;
  call: () => Promise<InvocationResult>;
  locate?: (record: number) => Promise<string | undefined>;
}

/**
 * One invocation with ModelClientConfig's retries: 5xx and 429 (throttled) answers, connection errors
 * and timeouts are retried with exponential backoff and full jitter (first delay `baseDelayMs`,
 * doubling); any other status fails at once.
 *
 * @throws TransformJobFailedError naming the object and records; TransformJobStoppedError when the job
 *   is stopped between attempts.
 */
export async function invokeWithRetries(
  plan: JobPlan,
  state: RunState,
  invocation: Invocation,
  baseDelayMs: number,
): Promise<InvocationResult> {
  const { uri, range, call, locate } = invocation;
  const attempts = plan.maxRetries + 1;
  let problem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (state.signal.aborted) throw new TransformJobStoppedError();
    if (state.failure) throw state.failure;
    let response: InvocationResult | undefined;
    try {
      response = await call();
    } catch (error) {
      problem = isTimeout(error)
        ? `timed out after ${plan.timeoutMs / 1000} s (InvocationsTimeoutInSeconds)`
        : `request failed: ${messageOf(error)}`;
    }
    if (response) {
      if (response.statusCode >= 200 && response.statusCode < 300) return response;
      problem = `HTTP ${response.statusCode}: ${containerMessage(response.body)}`;
      // 429 (throttled) is transient like 5xx: retried within InvocationsMaxRetries, with backoff.
      if (response.statusCode < 500 && response.statusCode !== 429) {
        const record = response.invalidRecord;
        const where = record !== undefined ? await locate?.(record) : undefined;
        throw new TransformJobFailedError(
          where
            ? `Model container rejected ${uri} ${where} (record ${record} of the request for ${range}) with ${problem}`
            : `Model container rejected ${uri} ${range} with ${problem}`,
        );
      }
    }
    if (attempt < attempts) {
      const delay = Math.random() * baseDelayMs * 2 ** (attempt - 1);
      await sleep(delay, undefined, { signal: state.signal }).catch(() => undefined);
    }
  }
  throw new TransformJobFailedError(
    `Invocation for ${uri} ${range} failed after ${attempts} attempt${attempts === 1 ? '' : 's'} (InvocationsMaxRetries ${plan.maxRetries}): ${problem}`,
  );
}

function isTimeout(error: unknown): boolean {
  return error instanceof InvocationTimeoutError;
}

function containerMessage(body: Uint8Array): string {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8').trim();
  if (text === '') return '(empty body)';
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
