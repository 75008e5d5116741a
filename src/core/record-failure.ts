import type { ObjectStore } from '../ports.js';
import { runIdFromExecutionName } from './build-manifest.js';
import { joinS3Uri } from './s3-uri.js';

export interface RecordFailureEvent {
  executionName: string;
  /** The state machine's state at the Catch: whatever the failed state had, plus failedState and failure. */
  state: {
    runId?: string;
    request?: { runId?: string };
    failedState?: string;
    failure?: { Error?: string; Cause?: string };
    [key: string]: unknown;
  };
}

export interface FailureRecord {
  runId: string;
  executionName: string;
  failedState: string;
  error: string;
  /** The most useful sentence found in the cause: a Lambda's errorMessage or a job's FailureReason. */
  message: string;
  cause: string;
  recordedAt: string;
  uri: string;
}

/** What schemas/run-request.schema.json allows as a runId. */
const RUN_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * Writes `runs/<runId>/failure.json` for a failed execution, so the reason sits next to the run's
 * other files, and returns it. Causes come in several shapes (a Lambda error's JSON, a failed
 * DescribeTransformJob as JSON, plain text); the message is dug out of whichever it is.
 */
export async function recordFailure(
  event: RecordFailureEvent,
  deps: { store: ObjectStore; bucket: string; now: () => Date },
): Promise<FailureRecord> {
  const { state, executionName } = event;
  // A request that failed its schema may carry any runId (even "../x"): only a valid one names a folder.
  const runId =
    [state.runId, state.request?.runId].find((id) => typeof id === 'string' && RUN_ID.test(id)) ??
    runIdFromExecutionName(executionName);
  const cause = state.failure?.Cause ?? '';
  const uri = joinS3Uri(`s3://${deps.bucket}/runs/${runId}/`, 'failure.json');
  const record: FailureRecord = {
    runId,
    executionName,
    failedState: state.failedState ?? 'unknown',
    error: state.failure?.Error ?? 'unknown',
    message: failureMessage(cause),
    cause,
    recordedAt: deps.now().toISOString(),
    uri,
  };
  await deps.store.put(uri, JSON.stringify(record, null, 2), { contentType: 'application/json' });
  return record;
}

/** Extracts the human sentence from a Step Functions error cause. */
export function failureMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as Record<string, unknown>;
    for (const key of ['errorMessage', 'FailureReason', 'message', 'Message']) {
      if (typeof parsed[key] === 'string') return parsed[key];
    }
  } catch {
    // Not JSON: the cause is the message.
  }
  return cause;
}
