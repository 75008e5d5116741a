/**
 * Step Functions' payload quota, enforced by the local runner so a run that would die on AWS dies
 * locally at the same state.
 *
 * AWS: "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded
 * string. This quota affects tasks (activity, Lambda function, or integrated service), state or execution
 * output, and input data when scheduling a task, entering a state, or starting an execution."
 * Over it, the execution fails with States.DataLimitExceeded, "a terminal error that can't be caught by
 * the States.ALL error type".
 */
import { formatCount } from '../core/number-format.js';

export const PAYLOAD_LIMIT_BYTES = 262_144;

/** One payload seen by the runner. */
export interface PayloadMeasure {
  bytes: number;
  /** The state (or "the execution") it belongs to. */
  state: string;
  /** input, output, task input (after Parameters), task result. */
  what: string;
}

/**
 * An error of Step Functions itself (`States.*`), as the local interpreter matches it: its `name` is the
 * ASL error name, and `isRetryable`/`isCatchable` say whether a Retry or Catch may match it, the flags
 * aws-local-stepfunctions reads. These are the service's errors, raised by the runner that emulates it,
 * never by pipeline code, so they live here rather than in src/errors.ts.
 */
export interface StepFunctionsError extends Error {
  readonly isRetryable: boolean;
  readonly isCatchable: boolean;
}

/** Builds a `States.*` error; terminal ones (DataLimitExceeded, Runtime) are neither retried nor caught. */
export function stepFunctionsError(
  name: string,
  message: string,
  flags: { retryable?: boolean; catchable?: boolean } = {},
): StepFunctionsError {
  const error = new Error(message) as Error & { isRetryable: boolean; isCatchable: boolean };
  error.name = name;
  error.isRetryable = flags.retryable ?? false;
  error.isCatchable = flags.catchable ?? false;
  return error;
}

/** Measures every payload of one execution, keeps the largest, and throws States.DataLimitExceeded over the quota. */
export class PayloadMeter {
  largest: PayloadMeasure | undefined;
  /** The largest payload of any child execution (Map iterations), reported by {@link recordChild}. */
  largestInChildren: PayloadMeasure | undefined;
  private readonly limit: number;

  constructor(limit = PAYLOAD_LIMIT_BYTES) {
    this.limit = limit;
  }

  /** @throws StepFunctionsError States.DataLimitExceeded, naming the state, when the payload is over the quota. */
  check(state: string, what: string, value: unknown): void {
    const bytes = payloadBytes(value);
    if (!this.largest || bytes > this.largest.bytes) this.largest = { bytes, state, what };
    if (bytes > this.limit) {
      throw stepFunctionsError(
        'States.DataLimitExceeded',
        `The ${what} of ${state === 'the execution' ? state : `state "${state}"`} is ${formatCount(bytes)} bytes, over Step Functions' payload limit of ${formatCount(this.limit)} bytes (256 KiB of UTF-8 JSON); keep large data in S3 and pass a pointer`,
      );
    }
  }

  /** Folds a child execution's largest payloads into this one's view of its children. */
  recordChild(child: { largestPayload?: PayloadMeasure; largestChildPayload?: PayloadMeasure }): void {
    for (const measure of [child.largestPayload, child.largestChildPayload]) {
      if (measure && (!this.largestInChildren || measure.bytes > this.largestInChildren.bytes)) {
        this.largestInChildren = measure;
      }
    }
  }
}

/** The size Step Functions counts: the payload as UTF-8 JSON. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}
