import type { ObjectStore, PartitionDefinition, QueryEngine, QueryRow } from '../ports.js';
import type { ResultsTableRef } from './build-manifest.js';
import { runNamedQueries } from './run-queries.js';
import { REPORT_QUERIES, renderRunReport } from './run-report.js';
import type { RunRequest } from './run-request.js';
import { joinS3Uri } from './s3-uri.js';

/** One job's ParseResults output, as the Map collects it. */
export interface JobResult {
  recordsIn: number;
  recordsOut: number;
  partition: PartitionDefinition;
  files: string[];
}

/** What the Map keeps per job (its JobResult Pass state): the parse result plus where it came from. */
export interface MapJobResult extends JobResult {
  variant: string;
  shardId: string;
  transformJob?: { TransformJobName?: string; TransformStartTime?: string; TransformEndTime?: string };
}

export interface SummarizeRunEvent {
  runId: string;
  runDate: string;
  runPrefix: string;
  executionName: string;
  executionStartTime: string;
  table: ResultsTableRef;
  queries: string[];
  jobResults: MapJobResult[];
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
  reportUri: string;
}

/**
 * Runs the run's named queries over its registered results, then writes the run summary and a
 * self-contained report.html next to the run. The report's own queries run whatever the request asked
 * for; the summary lists only the requested ones. Record counts come from ParseResults, which checked
 * every input record has its prediction.
 */
export async function summarizeRun(
  event: SummarizeRunEvent,
  deps: {
    store: ObjectStore;
    queryEngine: QueryEngine;
    loadQuery: (name: string) => Promise<string>;
    now?: () => Date;
  },
): Promise<RunSummary> {
  const names = [...new Set([...event.queries, ...REPORT_QUERIES])];
  const results = await runNamedQueries(
    { runId: event.runId, table: event.table.table, queries: names },
    { queryEngine: deps.queryEngine, loadQuery: deps.loadQuery },
  );
  const summaryUri = joinS3Uri(event.runPrefix, 'summary.json');
  const reportUri = joinS3Uri(event.runPrefix, 'report.html');
  const recordsIn = sum(event.jobResults.map((j) => j.recordsIn));
  const recordsOut = sum(event.jobResults.map((j) => j.recordsOut));
  const table = `${event.table.database}.${event.table.table}`;
  const empty = { columns: [], rows: [] };

  const report = renderRunReport({
    runId: event.runId,
    runDate: event.runDate,
    executionName: event.executionName,
    startedAt: event.executionStartTime,
    finishedAt: (deps.now ?? (() => new Date()))().toISOString(),
    request: await readRequest(deps.store, event.runPrefix),
    recordsIn,
    recordsOut,
    table,
    jobs: event.jobResults,
    histogram: results['score-histogram']?.rows ?? [],
    labelCounts: results['label-counts']?.rows ?? [],
    comparison: results['variant-comparison']?.rows ?? [],
    summary: results.summary ?? empty,
  });
  await deps.store.put(reportUri, report, { contentType: 'text/html; charset=utf-8' });

  const summary: RunSummary = {
    runId: event.runId,
    runDate: event.runDate,
    status: 'SUCCEEDED',
    recordsIn,
    recordsOut,
    jobs: event.jobResults.length,
    table,
    partitions: uniquePartitions(event.jobResults),
    resultFiles: event.jobResults.flatMap((j) => j.files),
    queries: Object.fromEntries(event.queries.map((name) => [name, results[name] ?? empty])),
    summaryUri,
    reportUri,
  };
  await deps.store.put(summaryUri, JSON.stringify(summary, null, 2), { contentType: 'application/json' });
  return summary;
}

/** The request BuildManifest saved for the run; the report shows its parameters. */
async function readRequest(store: ObjectStore, runPrefix: string): Promise<RunRequest | undefined> {
  const uri = joinS3Uri(runPrefix, 'request.json');
  if (!(await store.head(uri))) return undefined;
  return JSON.parse(Buffer.from(await store.getBytes(uri)).toString('utf8')) as RunRequest;
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
