import { InvalidInputError, ObjectNotFoundError } from '../errors.js';
import type { Catalog, ObjectStore, PartitionDefinition } from '../ports.js';
import type { ResultsTableRef } from './build-manifest.js';
import { statsLocation, statsTableDefinition } from './feature-stats.js';
import { type JobListPointer, readJobResults } from './job-results.js';
import { type ModelKind, partitionLocation, resultsTableDefinition } from './results-table.js';
import {
  attemptLocation,
  attemptScratchPrefix,
  attemptsPrefix,
  REGISTERING_MARKER,
  runResultsPrefix,
} from './run-attempt.js';
import { joinS3Uri } from './s3-uri.js';
import { uniquePartitions } from './summarize-run.js';

/** RegisterTable's input: the results table, the run's attempt and the partitions its jobs wrote. */
export interface RegisterResultsTableRequest {
  database: string;
  table: string;
  /** `s3://bucket/results/` */
  resultsPrefix: string;
  runId: string;
  runDate: string;
  /** The attempt being published (src/core/run-attempt.ts). */
  attemptId: string;
  /** `s3://bucket/runs/<runId>/` */
  runPrefix: string;
  /** The run's partitions, as ParseResults reported them (at the attempt's locations). */
  partitions: PartitionDefinition[];
  /** Every result file ParseResults reported: each must exist before anything is published. */
  files: string[];
  modelKind?: ModelKind;
}

/** RegisterTable's output (the state machine keeps it at `$.registered`). */
export interface RegisterResultsTableResult {
  /** `database.table` */
  table: string;
  location: string;
  partitions: number;
  attemptId: string;
  /** How many partitions the run had before (0 for a first run). */
  replacedPartitions: number;
  /** Files of earlier attempts deleted after the switch. */
  deletedFiles: number;
  /**
   * Earlier files that could not be deleted (with why): the switch has happened, so they are no longer
   * read; the next successful run of this id deletes them.
   */
  notDeleted: string[];
}

/**
 * The RegisterTable step: reads the run's job results from S3 (one per planned job, written by each
 * job's ParseResults; never carried in the state), then publishes the attempt with the partitions and
 * files they name ({@link registerResultsTable}).
 *
 * @throws InvalidInputError when a planned job has no result, or as {@link registerResultsTable}.
 */
export async function registerRunResults(
  event: {
    table: ResultsTableRef;
    runId: string;
    runDate: string;
    runPrefix: string;
    attemptId: string;
    jobList: JobListPointer;
  },
  deps: { catalog: Catalog; store: ObjectStore },
): Promise<RegisterResultsTableResult> {
  const jobResults = await readJobResults(deps.store, event.jobList.resultsPrefix, event.jobList.jobs);
  return registerResultsTable(
    {
      ...event.table,
      runId: event.runId,
      runDate: event.runDate,
      runPrefix: event.runPrefix,
      attemptId: event.attemptId,
      partitions: uniquePartitions(jobResults),
      files: jobResults.flatMap((job) => job.files),
    },
    deps,
  );
}

/**
 * The RegisterTable step's core: publishes one attempt of a run.
 *
 * 1. Checks every partition is at this attempt's location and every reported result file exists, so a
 *    partition is never switched to missing or partial data.
 * 2. Writes the attempt's registering marker (from here on no cleanup treats it as unpublished).
 * 3. Creates or updates the table, then switches the run's partitions to the attempt's locations in one
 *    catalog call (variants the attempt no longer has are dropped). Until this call the previous
 *    attempt's rows are what queries see. The statistics table (`<table>_stats`, which ParseResults
 *    writes beside the rows) is switched the same way, right after.
 * 4. Only then deletes every other file of the run in both tables (earlier attempts, the pre-attempt
 *    layout, variants dropped) and the other attempts' scratch.
 *
 * Safe to repeat (a retried Lambda, a re-run after a kill): the switch is idempotent and step 4 deletes
 * only what the catalog no longer points at.
 *
 * @throws InvalidInputError when a partition's values or location do not match the table's layout and
 *   the attempt (ParseResults and the table definition must agree on where files live).
 * @throws ObjectNotFoundError when a reported result file does not exist: nothing is published.
 */
export async function registerResultsTable(
  request: RegisterResultsTableRequest,
  deps: { catalog: Catalog; store: ObjectStore },
): Promise<RegisterResultsTableResult> {
  const { catalog, store } = deps;
  const definition = resultsTableDefinition({
    database: request.database,
    table: request.table,
    resultsPrefix: request.resultsPrefix,
    ...(request.modelKind ? { modelKind: request.modelKind } : {}),
  });
  const partitions = new Map<string, PartitionDefinition>();
  for (const partition of request.partitions) {
    const [runDate, runId] = partition.values;
    if (runDate !== request.runDate || runId !== request.runId) {
      throw new InvalidInputError(
        `Partition ${JSON.stringify(partition.values)} is not of run ${request.runId} (${request.runDate})`,
      );
    }
    const expected = attemptLocation(partitionLocation(definition, partition.values), request.attemptId);
    if (partition.location !== expected) {
      throw new InvalidInputError(
        `Partition ${JSON.stringify(partition.values)} is at ${partition.location}, but attempt ${request.attemptId} of table ${definition.name} keeps it at ${expected}`,
      );
    }
    partitions.set(expected, { values: [...partition.values], location: expected });
  }
  const locations = [...partitions.keys()];
  for (const file of request.files) {
    if (!locations.some((location) => file.startsWith(location))) {
      throw new InvalidInputError(`Result file ${file} is in none of the run's partitions`);
    }
    if (!(await store.head(file))) {
      throw new ObjectNotFoundError(
        `Result file ${file} of attempt ${request.attemptId} is missing (deleted by another execution of run ${request.runId}?): nothing was published; run it again`,
      );
    }
  }

  const scratch = attemptScratchPrefix(request.runPrefix, request.attemptId);
  await store.put(
    joinS3Uri(scratch, REGISTERING_MARKER),
    JSON.stringify({ attemptId: request.attemptId, partitions: [...partitions.values()] }, null, 2),
    { contentType: 'application/json' },
  );
  await catalog.registerTable(definition);
  const run = [request.runDate, request.runId];
  const previous = await catalog.switchRunPartitions(definition, run, [...partitions.values()]);
  const stats = statsTableDefinition(definition);
  await catalog.registerTable(stats);
  await catalog.switchRunPartitions(
    stats,
    run,
    [...partitions.values()].map((p) => ({
      values: [...p.values],
      location: statsLocation(definition.location, p.location),
    })),
  );

  const keep = [...locations, ...locations.map((l) => statsLocation(definition.location, l))];
  const cleanup = await deleteEarlierAttempts(store, request, [request.table, stats.name], keep, scratch);
  return {
    table: `${definition.database}.${definition.name}`,
    location: definition.location,
    partitions: partitions.size,
    attemptId: request.attemptId,
    replacedPartitions: previous.length,
    ...cleanup,
  };
}

/**
 * After the switch: deletes the run's result files that no published partition points at, then the
 * other attempts' scratch. A failed delete is reported, not thrown: the run is already published, and
 * the next run of this id deletes what is left.
 */
async function deleteEarlierAttempts(
  store: ObjectStore,
  request: RegisterResultsTableRequest,
  tables: readonly string[],
  keep: readonly string[],
  currentScratch: string,
): Promise<{ deletedFiles: number; notDeleted: string[] }> {
  const stale: string[] = [];
  for (const table of tables) {
    const runResults = runResultsPrefix(request.resultsPrefix, table, request.runDate, request.runId);
    for await (const object of store.list(runResults)) {
      if (!keep.some((location) => object.uri.startsWith(location))) stale.push(object.uri);
    }
  }
  const scratch: string[] = [];
  for await (const object of store.list(attemptsPrefix(request.runPrefix))) {
    if (!object.uri.startsWith(currentScratch)) scratch.push(object.uri);
  }
  // An earlier attempt's marker goes last, so an interrupted cleanup never leaves its results unmarked.
  scratch.sort((a, b) => Number(a.endsWith(REGISTERING_MARKER)) - Number(b.endsWith(REGISTERING_MARKER)));
  let deletedFiles = 0;
  const notDeleted: string[] = [];
  for (const [index, uri] of [...stale, ...scratch].entries()) {
    try {
      await store.delete(uri);
      if (index < stale.length) deletedFiles += 1;
    } catch (error) {
      notDeleted.push(`${uri}: ${(error as Error).message}`);
    }
  }
  return { deletedFiles, notDeleted };
}
