import type { ObjectStore, PartitionDefinition, QueryEngine, QueryRow } from '../ports.js';
import type { ResultsTableRef } from './build-manifest.js';
import { runNamedQueries } from './run-queries.js';
import { joinS3Uri } from './s3-uri.js';

/** One job's ParseResults output, as the Map collects it. */
export interface JobResult {
  recordsIn: number;
  recordsOut: number;
  partition: PartitionDefinition;
  files: string[];
}

export interface SummarizeRunEvent {
  runId: string;
  runDate: string;
  runPrefix: string;
  table: ResultsTableRef;
  queries: string[];
  jobResults: JobResult[];
}

/** The execution's output and `runs/<runId>/summary.json`. */
export interface RunSummary {
  runId: string;
  runDate: string;
  status: 'SUCCEEDED';
  recordsIn: number;
  recordsOut: number;
  jobs: number;
  table: string;
  partitions: PartitionDefinition[];
  resultFiles: string[];
  queries: Record<string, { columns: string[]; rows: QueryRow[] }>;
  summaryUri: string;
}

/**
 * Runs the run's named queries over its registered results and writes the run summary next to the run.
 * The record counts come from ParseResults, which checked every input record has its prediction.
 */
export async function summarizeRun(
  event: SummarizeRunEvent,
  deps: { store: ObjectStore; queryEngine: QueryEngine; loadQuery: (name: string) => Promise<string> },
): Promise<RunSummary> {
  const queries = await runNamedQueries(
    { runId: event.runId, table: event.table.table, queries: event.queries },
    { queryEngine: deps.queryEngine, loadQuery: deps.loadQuery },
  );
  const summaryUri = joinS3Uri(event.runPrefix, 'summary.json');
  const summary: RunSummary = {
    runId: event.runId,
    runDate: event.runDate,
    status: 'SUCCEEDED',
    recordsIn: sum(event.jobResults.map((j) => j.recordsIn)),
    recordsOut: sum(event.jobResults.map((j) => j.recordsOut)),
    jobs: event.jobResults.length,
    table: `${event.table.database}.${event.table.table}`,
    partitions: uniquePartitions(event.jobResults),
    resultFiles: event.jobResults.flatMap((j) => j.files),
    queries,
    summaryUri,
  };
  await deps.store.put(summaryUri, JSON.stringify(summary, null, 2), { contentType: 'application/json' });
  return summary;
}

/** Shards of one variant share a partition: each partition once, in first-seen order. */
export function uniquePartitions(jobResults: readonly JobResult[]): PartitionDefinition[] {
  const seen = new Map<string, PartitionDefinition>();
  for (const { partition } of jobResults) {
    if (!seen.has(partition.location)) seen.set(partition.location, partition);
  }
  return [...seen.values()];
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
