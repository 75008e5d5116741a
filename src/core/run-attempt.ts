import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { partitionPath, RESULT_PARTITION_KEYS } from './results-table.js';
import { joinS3Uri } from './s3-uri.js';

/**
 * The run attempt layout. Every execution of a run id is an *attempt*, named by a hash of the execution
 * name. An attempt writes only to places no reader looks at until RegisterTable publishes it:
 *
 * - scratch: `runs/<runId>/attempts/<attemptId>/` (manifests, job list, transform `.out` outputs,
 *   per-job results, its plan);
 * - result files: `<partition location>attempt=<attemptId>/part-NNNN.json`, i.e.
 *   `results/<table>/run_date=D/run_id=R/variant=V/attempt=<attemptId>/`.
 *
 * RegisterTable switches the run's partitions to the attempt's locations in one catalog call per table
 * and deletes nothing; the previous attempt's files are deleted only once the whole run succeeded
 * (RunQueries commits the attempt), and a run that fails after the switch is switched back by
 * RecordFailure (src/core/register-table-commit.ts). So the previous rows stay queryable until the
 * switch, and a failed or killed re-run leaves them as they were.
 */

/** An attempt id: 12 lower-case hex digits (a path segment needing no escaping anywhere). */
const ATTEMPT_ID = /^[0-9a-f]{12}$/;

/**
 * Written to the attempt's scratch by RegisterTable just before the catalog switch, with the partitions
 * the switch replaces. An attempt without it never reached the switch, so it is certainly unpublished
 * and its files may be deleted; an attempt with it may be published, and is cleaned only by its own
 * RecordFailure after switching it back, or by a later attempt's commit.
 */
export const REGISTERING_MARKER = 'registering.json';

/** The attempt's copy of its plan in its scratch: what cleanup needs (table, run date) to find its files. */
export const ATTEMPT_PLAN = 'plan.json';

/**
 * The attempt id of an execution: the first 12 hex digits of SHA-256 of its name. The same execution
 * (a retried Lambda, a duplicate event with the same execution name) is the same attempt; the transform
 * job names carry its first 6 digits.
 */
export function attemptIdFor(executionName: string): string {
  return createHash('sha256').update(executionName).digest('hex').slice(0, 12);
}

/** @throws InvalidInputError when the id is not one {@link attemptIdFor} makes. */
export function assertAttemptId(attemptId: string): void {
  if (!ATTEMPT_ID.test(attemptId)) {
    throw new InvalidInputError(`Invalid attempt id "${attemptId}": expected 12 hex digits`);
  }
}

/** `runs/<runId>/attempts/` under the run's prefix. */
export function attemptsPrefix(runPrefix: string): string {
  return `${joinS3Uri(runPrefix, 'attempts')}/`;
}

/** The attempt's scratch: `runs/<runId>/attempts/<attemptId>/`. */
export function attemptScratchPrefix(runPrefix: string, attemptId: string): string {
  assertAttemptId(attemptId);
  return `${joinS3Uri(runPrefix, 'attempts', attemptId)}/`;
}

/** Where an attempt's result files for one partition live: `<partitionLocation>attempt=<attemptId>/`. */
export function attemptLocation(partitionLocation: string, attemptId: string): string {
  assertAttemptId(attemptId);
  if (!partitionLocation.endsWith('/')) {
    throw new InvalidInputError(`Partition location must end with "/": "${partitionLocation}"`);
  }
  return `${partitionLocation}attempt=${attemptId}/`;
}

/** The attempt id in a result file's URI or location (`…/attempt=<id>/…`), or undefined. */
export function attemptOf(uri: string): string | undefined {
  return /\/attempt=([0-9a-f]{12})\//.exec(uri)?.[1];
}

/**
 * Every result file of a run (all variants, all attempts) lies under this prefix:
 * `<resultsPrefix><table>/run_date=<d>/run_id=<r>/`.
 *
 * @throws InvalidInputError when the run date or id is not a plain path segment.
 */
export function runResultsPrefix(
  resultsPrefix: string,
  table: string,
  runDate: string,
  runId: string,
): string {
  return partitionPath(`${joinS3Uri(resultsPrefix, table)}/`, RESULT_PARTITION_KEYS, [runDate, runId]);
}
