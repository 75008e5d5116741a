import { InvalidInputError, ObjectNotFoundError } from '../errors.js';
import type {
  RegisterResultsTableResult as GeneratedRegisterResultsTableResult,
  RegisterTableEvent as GeneratedRegisterTableEvent,
} from '../generated/schema-types.js';
import type { Catalog, ObjectStore, PartitionDefinition } from '../ports.js';
import { readJobResults } from './job-results.js';
import { type MarkedSwitch, readRegisteringMarker } from './register-table-commit.js';
import { type ModelKind, partitionLocation, resultsTableDefinition } from './results-table.js';
import { attemptLocation, attemptScratchPrefix, REGISTERING_MARKER } from './run-attempt.js';
import { joinS3Uri } from './s3-uri.js';
import { statsLocation, statsTableDefinition } from './stats-table.js';
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

/**
 * RegisterTable's output (the state machine keeps it at `$.registered`): generated from
 * schemas/register-table-result.schema.json (the Lambda validates its result against it).
 */
export type RegisterResultsTableResult = GeneratedRegisterResultsTableResult;

/**
 * RegisterTable's event: the run's attempt and where its job results are. Generated from
 * schemas/register-table-event.schema.json (the Lambda validates it).
 */
export type RegisterTableEvent = GeneratedRegisterTableEvent;

/**
 * The RegisterTable step: reads the run's job results from S3 (one per planned job, written by each
 * job's ParseResults; never carried in the state), then publishes the attempt with the partitions and
 * files they name ({@link registerResultsTable}).
 *
 * @throws InvalidInputError when a planned job has no result, or as {@link registerResultsTable}.
 */
export async function registerRunResults(
  event: RegisterTableEvent,
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
 * 2. Creates or updates the results table and its statistics table (`<table>_stats`, which
 *    ParseResults writes beside the rows), reads the run's partitions in both as they are now, and
 *    records them with the new ones in the attempt's registering marker (from here on no cleanup treats
 *    the attempt as unpublished, and a rollback knows what to restore).
 * 3. Switches the run's partitions to the attempt's locations, one catalog call per table (variants the
 *    attempt no longer has are dropped). Until this call the previous attempt's rows are what queries
 *    see. When the statistics switch fails, the results switch is put back.
 * 4. Deletes nothing: the attempt is published but provisional until the run succeeded. RunQueries'
 *    last act commits it and deletes the earlier attempts (`commitAttempt`); a failed run is switched
 *    back by RecordFailure (`rollBackAttempt`, src/core/register-table-commit.ts).
 *
 * Safe to repeat (a retried Lambda, a re-run after a kill): the switch is idempotent and a repeat keeps
 * the previous partitions its first try recorded.
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
  const stats = statsTableDefinition(definition);
  const switches = [
    { definition, partitions: [...partitions.values()] },
    {
      definition: stats,
      partitions: [...partitions.values()].map((p) => ({
        values: [...p.values],
        location: statsLocation(definition.location, p.location),
      })),
    },
  ];
  await catalog.registerTable(definition);
  await catalog.registerTable(stats);
  const run = [request.runDate, request.runId];
  // A retried step (or a re-run of the same execution) finds its marker: what it recorded as previous
  // is still what the run had before this attempt, while the catalog may already show the attempt.
  const marker = (await readRegisteringMarker(store, scratch)) ?? {
    attemptId: request.attemptId,
    resultsPrefix: request.resultsPrefix,
    runDate: request.runDate,
    runId: request.runId,
    tables: await Promise.all(
      switches.map(async (s) => ({ ...s, previous: await catalog.runPartitions(s.definition, run) })),
    ),
  };
  await store.put(joinS3Uri(scratch, REGISTERING_MARKER), JSON.stringify(marker, null, 2), {
    contentType: 'application/json',
  });
  const done: MarkedSwitch[] = [];
  try {
    for (const table of marker.tables) {
      done.push(table);
      await catalog.switchRunPartitions(table.definition, run, table.partitions);
    }
  } catch (error) {
    // The statistics switch failed after the results switch: put the results back, so the tables
    // never show two attempts. Best effort: RecordFailure rolls back from the marker in any case.
    for (const table of done.slice(0, -1).reverse()) {
      await catalog.switchRunPartitions(table.definition, run, table.previous).catch(() => undefined);
    }
    throw error;
  }

  return {
    table: `${definition.database}.${definition.name}`,
    location: definition.location,
    partitions: partitions.size,
    attemptId: request.attemptId,
    replacedPartitions: marker.tables[0]?.previous.length ?? 0,
  };
}
