import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunPlan } from '../core/build-manifest.js';
import { formatBytes } from '../core/number-format.js';
import { takeBackFailedAttempt } from '../core/record-failure.js';
import { PUBLISHED_MARKER } from '../core/register-table-commit.js';
import {
  ATTEMPT_PLAN,
  attemptOf,
  attemptScratchPrefix,
  REGISTERING_MARKER,
  runResultsPrefix,
} from '../core/run-attempt.js';
import { RUN_ID_PATTERN } from '../core/run-id.js';
import { joinS3Uri } from '../core/s3-uri.js';
import { statsTableName } from '../core/stats-table.js';
import { messageOf } from '../errors.js';
import type { Catalog } from '../ports.js';
import type { FileObjectStore } from './file-object-store.js';

const ATTEMPT_ID = /^[0-9a-f]{12}$/;

/** One interrupted attempt found and taken back. */
export interface RecoveredAttempt {
  runId: string;
  attemptId: string;
  /** The sentence said on stderr. */
  message: string;
}

/**
 * The local stand-in for the state machine's Catch after a SIGKILL. On AWS a run that fails after
 * RegisterTable's switch goes to RecordFailure, which switches the run back; a local runner killed there
 * runs nothing more, and the run would stay published though it never succeeded (killed between the two
 * switches, its results table would even show the new attempt and its statistics table the old one).
 *
 * So when a home is opened for a run, every attempt that began publishing (registering marker) but was
 * never committed (no `published.json`) and whose execution is not running is taken back exactly as
 * RecordFailure takes back a failed one ({@link takeBackFailedAttempt}): both tables switched back to the
 * partitions it replaced (removed, for a first run), then its files deleted.
 *
 * Every other attempt that was never published (no `published.json`) and is not running was stopped
 * before publishing began (Ctrl-C, a kill): its scratch, input copy and any result files are deleted
 * the same way, and one line says which attempt and how much was freed. (BuildManifest would delete it
 * only when its run id runs again, and silently.)
 *
 * Call it only while holding the catalog's exclusive (read-write) lock: no other process can then be
 * running an execution on this home. `isRunning` names the attempts this process is running itself.
 * A run's attempts are taken back newest marker first, so each rollback finds the catalog as that
 * attempt left it. A run with an attempt running in this process is left alone.
 *
 * Never throws: what it cannot do is said through `log`, and the next open tries again.
 */
export async function recoverInterruptedRuns(
  deps: { store: FileObjectStore; catalog: Catalog; bucket: string },
  isRunning: (attemptId: string) => boolean,
  log: (message: string) => void,
): Promise<RecoveredAttempt[]> {
  const { store, bucket } = deps;
  const recovered: RecoveredAttempt[] = [];
  let runIds: string[];
  try {
    runIds = await subfolders(store.directoryOf(`s3://${bucket}/runs/`), RUN_ID_PATTERN);
  } catch (error) {
    log(`could not look for runs interrupted after publishing began: ${messageOf(error)}`);
    return recovered;
  }
  for (const runId of runIds) {
    const runPrefix = `s3://${bucket}/runs/${runId}/`;
    try {
      const attempts = await subfolders(join(store.directoryOf(runPrefix), 'attempts'), ATTEMPT_ID);
      if (attempts.some(isRunning)) continue;
      const interrupted: { attemptId: string; markedAt: number }[] = [];
      const stopped: string[] = [];
      for (const attemptId of attempts) {
        const scratch = attemptScratchPrefix(runPrefix, attemptId);
        if (await store.head(joinS3Uri(scratch, PUBLISHED_MARKER))) continue;
        const marker = await store.head(joinS3Uri(scratch, REGISTERING_MARKER));
        if (marker) interrupted.push({ attemptId, markedAt: marker.lastModified?.getTime() ?? 0 });
        else stopped.push(attemptId);
      }
      for (const attemptId of stopped) {
        const left = await attemptFiles(store, runPrefix, attemptId);
        if (left.files === 0) continue;
        const { attempt } = await takeBackFailedAttempt(deps, runPrefix, attemptId);
        const message =
          attempt.files === 'cleaned'
            ? `run ${runId}: removed attempt ${attemptId}, left by a run that was interrupted before publishing (${left.files} file(s), ${formatBytes(left.bytes)} freed); nothing published was touched`
            : `run ${runId}: attempt ${attemptId}, left by a run that was interrupted before publishing, could not be removed (its files were ${attempt.files}); the next run tries again`;
        log(message);
        recovered.push({ runId, attemptId, message });
      }
      interrupted.sort((a, b) => b.markedAt - a.markedAt);
      for (const { attemptId } of interrupted) {
        const { attempt, rollback } = await takeBackFailedAttempt(deps, runPrefix, attemptId);
        const message = recoveryMessage(runId, rollback?.state, attempt.files, attempt.catalog);
        log(message);
        recovered.push({ runId, attemptId, message });
      }
    } catch (error) {
      log(
        `run ${runId} may have been interrupted after publishing began, but could not be checked: ${messageOf(error)}`,
      );
    }
  }
  return recovered;
}

function recoveryMessage(
  runId: string,
  state: string | undefined,
  files: string,
  catalog: string | undefined,
): string {
  const lead = `run ${runId} was interrupted after publishing began`;
  const cleanup = files === 'cleaned' || files === 'kept' ? '' : ` (its files were ${files})`;
  switch (state) {
    case 'rolled back':
      return catalog?.startsWith('switched back')
        ? `${lead}; its previous results were put back${cleanup}`
        : `${lead}; it had no previous results, and its own were removed${cleanup}`;
    case 'superseded':
      return `${lead}; a later run of the id had replaced it, and is kept${cleanup}`;
    default:
      return `${lead}; ${catalog ?? 'its results were not put back'}`;
  }
}

/**
 * The files an attempt left and their bytes: its scratch (plan, manifests, input copy, outputs) and its
 * result files in the results and statistics tables, found through its plan. What the next run's
 * cleanup frees, and what `runs` says it will free (src/cli/runs-command.ts).
 */
export async function attemptFiles(
  store: FileObjectStore,
  runPrefix: string,
  attemptId: string,
): Promise<{ files: number; bytes: number }> {
  const scratch = attemptScratchPrefix(runPrefix, attemptId);
  const total = { files: 0, bytes: 0 };
  const add = (size: number) => {
    total.files += 1;
    total.bytes += size;
  };
  for await (const object of store.list(scratch)) add(object.size);
  const planUri = joinS3Uri(scratch, ATTEMPT_PLAN);
  if (!(await store.head(planUri))) return total;
  const plan = JSON.parse(Buffer.from(await store.getBytes(planUri)).toString('utf8')) as Partial<RunPlan>;
  if (!plan.table || !plan.runDate || !plan.runId) return total;
  for (const table of [plan.table.table, statsTableName(plan.table.table)]) {
    const results = runResultsPrefix(plan.table.resultsPrefix, table, plan.runDate, plan.runId);
    for await (const object of store.list(results)) if (attemptOf(object.uri) === attemptId) add(object.size);
  }
  return total;
}

/** The names of the folders in `dir` matching `name` (none when `dir` does not exist). */
async function subfolders(dir: string, name: RegExp): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && name.test(e.name)).map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
