import { InvalidInputError } from '../errors.js';
import type { Catalog, PartitionDefinition } from '../ports.js';
import { statsLocation, statsTableDefinition } from './feature-stats.js';
import { type ModelKind, partitionLocation, resultsTableDefinition } from './results-table.js';

/** RegisterTable's input: the results table and the run's partitions. */
export interface RegisterResultsTableRequest {
  database: string;
  table: string;
  /** `s3://bucket/results/` */
  resultsPrefix: string;
  /** The run's partitions, as ParseResults reported them. */
  partitions: PartitionDefinition[];
  modelKind?: ModelKind;
}

/** RegisterTable's output (the state machine keeps it at `$.registered`). */
export interface RegisterResultsTableResult {
  /** `database.table` */
  table: string;
  location: string;
  partitions: number;
}

/**
 * The RegisterTable step's core: creates or updates the results table and its statistics table
 * (`<table>_stats`) and adds the run's partitions to both.
 * Safe to repeat: registering the same table and partitions again changes nothing.
 *
 * @throws InvalidInputError when a partition's values or location do not match the table's layout
 *   (ParseResults and the table definition must agree on where files live).
 */
export async function registerResultsTable(
  request: RegisterResultsTableRequest,
  deps: { catalog: Catalog },
): Promise<RegisterResultsTableResult> {
  const definition = resultsTableDefinition({
    database: request.database,
    table: request.table,
    resultsPrefix: request.resultsPrefix,
    ...(request.modelKind ? { modelKind: request.modelKind } : {}),
  });
  const partitions = new Map<string, PartitionDefinition>();
  for (const partition of request.partitions) {
    const expected = partitionLocation(definition, partition.values);
    if (partition.location !== expected) {
      throw new InvalidInputError(
        `Partition ${JSON.stringify(partition.values)} is at ${partition.location}, but table ${definition.name} keeps it at ${expected}`,
      );
    }
    partitions.set(expected, { values: [...partition.values], location: expected });
  }
  await deps.catalog.registerTable(definition);
  if (partitions.size > 0) await deps.catalog.addPartitions(definition, [...partitions.values()]);
  // The statistics ParseResults wrote beside the rows, registered the same way so SQL (drift,
  // evaluation) can read them: <table>_stats, same partitions, same paths under its own folder.
  const stats = statsTableDefinition(definition);
  await deps.catalog.registerTable(stats);
  if (partitions.size > 0) {
    await deps.catalog.addPartitions(
      stats,
      [...partitions.values()].map((p) => ({
        values: [...p.values],
        location: statsLocation(definition.location, p.location),
      })),
    );
  }
  return {
    table: `${definition.database}.${definition.name}`,
    location: definition.location,
    partitions: partitions.size,
  };
}
