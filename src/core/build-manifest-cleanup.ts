import type { ObjectStore } from '../ports.js';
import type { RunPlan } from './build-manifest.js';
import {
  ATTEMPT_PLAN,
  attemptOf,
  attemptsPrefix,
  REGISTERING_MARKER,
  runResultsPrefix,
} from './run-attempt.js';
import { joinS3Uri } from './s3-uri.js';
import { statsTableName } from './stats-table.js';

/**
 * Deletes the scratch and result files of earlier attempts of this run id that never reached
 * RegisterTable's switch (no registering marker): a failed or killed attempt whose RecordFailure did not
 * run or did not finish. Attempts with the marker may be the published one; only a later RegisterTable,
 * which knows from the catalog what is published, removes them.
 */
export async function cleanUnpublishedAttempts(
  store: ObjectStore,
  runPrefix: string,
  currentAttemptId: string,
): Promise<string[]> {
  const byAttempt = new Map<string, string[]>();
  const prefix = attemptsPrefix(runPrefix);
  for await (const object of store.list(prefix)) {
    const attemptId = object.uri.slice(prefix.length).split('/')[0] ?? '';
    if (attemptId === currentAttemptId || !/^[0-9a-f]{12}$/.test(attemptId)) continue;
    const list = byAttempt.get(attemptId) ?? [];
    list.push(object.uri);
    byAttempt.set(attemptId, list);
  }
  const cleaned: string[] = [];
  for (const [attemptId, scratch] of byAttempt) {
    const scratchPrefix = `${prefix}${attemptId}/`;
    if (scratch.includes(`${scratchPrefix}${REGISTERING_MARKER}`)) continue;
    await deleteAttemptResults(store, scratchPrefix, attemptId);
    // The plan goes last: it is what finds the result files if this cleanup is interrupted.
    const planUri = `${scratchPrefix}${ATTEMPT_PLAN}`;
    for (const uri of scratch) if (uri !== planUri) await store.delete(uri);
    await store.delete(planUri);
    cleaned.push(attemptId);
  }
  return cleaned;
}

/**
 * Deletes one attempt's result files (every variant), found through the plan in its scratch. An attempt
 * whose plan was never written wrote no result files: ParseResults runs only after BuildManifest.
 */
export async function deleteAttemptResults(
  store: ObjectStore,
  scratchPrefix: string,
  attemptId: string,
): Promise<void> {
  const planUri = joinS3Uri(scratchPrefix, ATTEMPT_PLAN);
  if (!(await store.head(planUri))) return;
  const plan = JSON.parse(Buffer.from(await store.getBytes(planUri)).toString('utf8')) as Partial<RunPlan>;
  if (!plan.table || !plan.runDate || !plan.runId) return;
  const files: string[] = [];
  // The results table and the statistics table ParseResults writes beside it.
  for (const table of [plan.table.table, statsTableName(plan.table.table)]) {
    const runResults = runResultsPrefix(plan.table.resultsPrefix, table, plan.runDate, plan.runId);
    for await (const object of store.list(runResults)) {
      if (attemptOf(object.uri) === attemptId) files.push(object.uri);
    }
  }
  for (const uri of files) await store.delete(uri);
}
