import { messageOf } from '../errors.js';
import type { Catalog, ObjectStore, PartitionDefinition, TableDefinition } from '../ports.js';
import {
  attemptOf,
  attemptScratchPrefix,
  attemptsPrefix,
  REGISTERING_MARKER,
  runResultsPrefix,
} from './run-attempt.js';
import { joinS3Uri } from './s3-uri.js';

/**
 * What happens to a published attempt after RegisterTable's switch: it stays *provisional* until the
 * whole run succeeded. RegisterTable records in the attempt's registering marker the partitions it
 * replaced and deletes nothing; then either
 *
 * - the run succeeds, and RunQueries' last act {@link commitAttempt}s it: a `published.json` marker,
 *   then the deletion of every other file of the run (earlier attempts, the layout before attempts,
 *   dropped variants) and of the other attempts' scratch; or
 * - a later step fails, and RecordFailure {@link rollBackAttempt}s it: the run's partitions are switched
 *   back to the recorded previous ones (or removed, for a first run), whose files are all still there,
 *   the run's report.html and summary.json are put back if the attempt had written over them
 *   ({@link restoreReplacedRunFiles}), and the failed attempt's files are then cleaned like any failed
 *   attempt's.
 */

/** Written beside the registering marker once the run succeeded: the attempt is no longer rolled back. */
export const PUBLISHED_MARKER = 'published.json';

/** One table's switch, as RegisterTable records it before making it. */
export interface MarkedSwitch {
  definition: TableDefinition;
  /** The partitions the attempt switches the run to. */
  partitions: PartitionDefinition[];
  /** The run's partitions before the switch (empty for a first run): what a rollback restores. */
  previous: PartitionDefinition[];
}

/** The registering marker's content (`runs/<runId>/attempts/<attemptId>/registering.json`). */
export interface RegisteringMarker {
  attemptId: string;
  resultsPrefix: string;
  runDate: string;
  runId: string;
  /** The results table first, then its statistics table, in switch order. */
  tables: MarkedSwitch[];
}

/**
 * The folder in an attempt's scratch where RunQueries keeps the run's report.html and summary.json as
 * they were before it writes its own over them (`runs/<runId>/attempts/<attemptId>/replaced/`).
 */
export const REPLACED_RUN_FILES = 'replaced';

/**
 * Written last in {@link REPLACED_RUN_FILES}: which of the run's files were there to copy (none for a
 * first run). Its presence marks a whole copy, and says that the attempt may have written over them.
 */
const KEPT_LIST = 'kept.json';

/** The run folder's files a successful attempt writes over, with their content types; summary last. */
const RUN_FILES = [
  ['report.html', 'text/html; charset=utf-8'],
  ['summary.json', 'application/json'],
] as const;

/**
 * Keeps a copy of the run's report.html and summary.json (another attempt's: the published run's) in
 * the attempt's scratch, with the list of those there were, before RunQueries writes the attempt's own
 * over them. Until the attempt is committed, a failure (a write refused after the report went, the
 * Lambda timing out before the commit, a local runner killed there) makes RecordFailure switch the
 * catalog back; {@link restoreReplacedRunFiles} then puts these back and removes the attempt's own
 * where there were none (a first run), so the run folder describes the rows the table shows again,
 * never the failed attempt's.
 *
 * Done once per attempt: the list, written last, marks a whole copy, and a retried RunQueries (the
 * run's files possibly already its own) keeps the first. Nothing is kept when the summary is this
 * attempt's own and no list is there (its commit deleted it: the run succeeded with it).
 */
export async function keepReplacedRunFiles(
  store: ObjectStore,
  runPrefix: string,
  attemptId: string,
): Promise<void> {
  const kept = joinS3Uri(attemptScratchPrefix(runPrefix, attemptId), REPLACED_RUN_FILES);
  if (await store.head(joinS3Uri(kept, KEPT_LIST))) return;
  const summaryUri = joinS3Uri(runPrefix, 'summary.json');
  if ((await store.head(summaryUri)) && summaryAttempts(await store.getBytes(summaryUri)).includes(attemptId))
    return;
  const files: string[] = [];
  for (const [name, contentType] of RUN_FILES) {
    const uri = joinS3Uri(runPrefix, name);
    if (!(await store.head(uri))) continue;
    await store.put(joinS3Uri(kept, name), await store.getBytes(uri), { contentType });
    files.push(name);
  }
  await store.put(joinS3Uri(kept, KEPT_LIST), JSON.stringify({ files }, null, 2), {
    contentType: 'application/json',
  });
}

/** What {@link restoreReplacedRunFiles} did to the run folder's report.html and summary.json. */
export interface RestoredRunFiles {
  /** Put back from the attempt's copies (the published run's, or a failed first attempt's report). */
  putBack: string[];
  /** The attempt's own, deleted: the run had none before it (nothing published). */
  removed: string[];
}

/**
 * Puts the run's report.html and summary.json back as {@link keepReplacedRunFiles} found them for the
 * attempt: the ones there were are put back (summary last), and the attempt's own are deleted where
 * there were none (summary first), so a first run that failed leaves no summary and no report of its
 * results. Undefined when the attempt kept nothing (it never reached the report). Called once the
 * attempt was switched back, before its scratch (holding the copies) is deleted.
 */
export async function restoreReplacedRunFiles(
  store: ObjectStore,
  runPrefix: string,
  attemptId: string,
): Promise<RestoredRunFiles | undefined> {
  const kept = joinS3Uri(attemptScratchPrefix(runPrefix, attemptId), REPLACED_RUN_FILES);
  const listUri = joinS3Uri(kept, KEPT_LIST);
  if (!(await store.head(listUri))) return undefined;
  const { files } = JSON.parse(Buffer.from(await store.getBytes(listUri)).toString('utf8')) as {
    files: string[];
  };
  const restored: RestoredRunFiles = { putBack: [], removed: [] };
  // The summary is what says a run is published: it goes first and comes back last.
  for (const [name] of [...RUN_FILES].reverse()) {
    const uri = joinS3Uri(runPrefix, name);
    if (files.includes(name) || !(await store.head(uri))) continue;
    await store.delete(uri);
    restored.removed.unshift(name);
  }
  for (const [name, contentType] of RUN_FILES) {
    if (!files.includes(name)) continue;
    await store.put(joinS3Uri(runPrefix, name), await store.getBytes(joinS3Uri(kept, name)), {
      contentType,
    });
    restored.putBack.push(name);
  }
  return restored;
}

/** The attempts a summary.json's partitions name (none when it is not the JSON a summary is). */
function summaryAttempts(bytes: Uint8Array): string[] {
  try {
    const summary = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      partitions?: { location?: string }[];
    };
    return (summary.partitions ?? []).flatMap((p) => attemptOf(p.location ?? '') ?? []);
  } catch {
    return [];
  }
}

/** The attempt's registering marker, or undefined when it has none (or one from before this layout). */
export async function readRegisteringMarker(
  store: ObjectStore,
  scratch: string,
): Promise<RegisteringMarker | undefined> {
  const uri = joinS3Uri(scratch, REGISTERING_MARKER);
  if (!(await store.head(uri))) return undefined;
  const marker = JSON.parse(
    Buffer.from(await store.getBytes(uri)).toString('utf8'),
  ) as Partial<RegisteringMarker>;
  return Array.isArray(marker.tables) && marker.runDate && marker.runId && marker.resultsPrefix
    ? (marker as RegisteringMarker)
    : undefined;
}

/** What {@link commitAttempt} did. */
export interface CommitResult {
  /** Files of earlier attempts (and dropped variants, the pre-attempt layout) deleted. */
  deletedFiles: number;
  /**
   * Files that could not be deleted (with why): the catalog no longer points at them, so no query reads
   * them; the next successful run of this id deletes them.
   */
  notDeleted: string[];
}

/**
 * Makes a switched attempt final, once the run succeeded: writes its `published.json` marker (from then
 * on a failure reported for this execution no longer rolls it back, since what a rollback would restore
 * is about to be deleted), then deletes every file of the run in its tables that the attempt's
 * partitions do not hold, and the other attempts' scratch (registering markers last, so an interrupted
 * cleanup never leaves an earlier attempt's results unmarked).
 *
 * Never throws: the run has succeeded; what is left is deleted by the next successful run of the id.
 */
export async function commitAttempt(
  store: ObjectStore,
  runPrefix: string,
  attemptId: string,
): Promise<CommitResult> {
  const notDeleted: string[] = [];
  let deletedFiles = 0;
  try {
    const scratch = attemptScratchPrefix(runPrefix, attemptId);
    const marker = await readRegisteringMarker(store, scratch);
    if (!marker)
      return { deletedFiles, notDeleted: [`${scratch}${REGISTERING_MARKER}: missing, nothing deleted`] };
    await store.put(joinS3Uri(scratch, PUBLISHED_MARKER), JSON.stringify({ attemptId }, null, 2), {
      contentType: 'application/json',
    });
    const keep = marker.tables.flatMap((t) => t.partitions.map((p) => p.location));
    const stale: string[] = [];
    for (const table of marker.tables) {
      const prefix = runResultsPrefix(
        marker.resultsPrefix,
        table.definition.name,
        marker.runDate,
        marker.runId,
      );
      for await (const object of store.list(prefix)) {
        if (!keep.some((location) => object.uri.startsWith(location))) stale.push(object.uri);
      }
    }
    const scratchFiles: string[] = [];
    // Its own copies of the run's previous report and summary too: nothing can put them back now.
    const replaced = `${joinS3Uri(scratch, REPLACED_RUN_FILES)}/`;
    for await (const object of store.list(attemptsPrefix(runPrefix))) {
      if (!object.uri.startsWith(scratch) || object.uri.startsWith(replaced)) scratchFiles.push(object.uri);
    }
    const isMarker = (uri: string) =>
      uri.endsWith(`/${REGISTERING_MARKER}`) || uri.endsWith(`/${PUBLISHED_MARKER}`);
    scratchFiles.sort((a, b) => Number(isMarker(a)) - Number(isMarker(b)));
    for (const [index, uri] of [...stale, ...scratchFiles].entries()) {
      try {
        await store.delete(uri);
        if (index < stale.length) deletedFiles += 1;
      } catch (error) {
        notDeleted.push(`${uri}: ${messageOf(error)}`);
      }
    }
  } catch (error) {
    notDeleted.push(`cleanup of run ${runPrefix} stopped: ${messageOf(error)}`);
  }
  return { deletedFiles, notDeleted };
}

/** What {@link rollBackAttempt} found and did. */
export type RollbackOutcome =
  /** The attempt never reached the switch (no marker): nothing to put back. */
  | { state: 'unregistered' }
  /** The run succeeded with this attempt (published marker), or its marker predates rollbacks: kept. */
  | { state: 'published' }
  /** The catalog was switched back to the recorded previous partitions, table by table. */
  | { state: 'rolled back'; restored: { table: string; partitions: number }[] }
  /** Another attempt switched the run since: the catalog is left to it. */
  | { state: 'superseded' }
  /** Putting back failed: the attempt may still be published. */
  | { state: 'failed'; reason: string };

/**
 * Takes a switched but unfinished attempt back out of the catalog after its run failed: every table its
 * marker names is switched back to the partitions it had before (a first run's are removed), in reverse
 * switch order. A table is left alone when the run's partitions there are no longer this attempt's or
 * the previous ones (another execution of the run id switched since).
 *
 * After `rolled back` (and `unregistered`, `superseded`) the attempt's files are no longer read and may
 * be deleted; after `published` and `failed` they must stay.
 */
export async function rollBackAttempt(
  deps: { store: ObjectStore; catalog: Catalog },
  runPrefix: string,
  attemptId: string,
): Promise<RollbackOutcome> {
  const scratch = attemptScratchPrefix(runPrefix, attemptId);
  if (!(await deps.store.head(joinS3Uri(scratch, REGISTERING_MARKER)))) return { state: 'unregistered' };
  if (await deps.store.head(joinS3Uri(scratch, PUBLISHED_MARKER))) return { state: 'published' };
  const marker = await readRegisteringMarker(deps.store, scratch);
  if (!marker) return { state: 'published' };
  const run = [marker.runDate, marker.runId];
  const restored: { table: string; partitions: number }[] = [];
  let superseded = false;
  try {
    for (const table of [...marker.tables].reverse()) {
      const current = await deps.catalog.runPartitions(table.definition, run);
      const known = new Set([...table.partitions, ...table.previous].map((p) => p.location));
      if (!current.every((p) => known.has(p.location))) {
        superseded = true;
        continue;
      }
      await deps.catalog.switchRunPartitions(table.definition, run, table.previous);
      restored.unshift({
        table: `${table.definition.database}.${table.definition.name}`,
        partitions: table.previous.length,
      });
    }
  } catch (error) {
    return { state: 'failed', reason: messageOf(error) };
  }
  return superseded ? { state: 'superseded' } : { state: 'rolled back', restored };
}
