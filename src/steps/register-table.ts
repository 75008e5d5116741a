import middy from '@middy/core';
import type { ResultsTableRef } from '../core/build-manifest.js';
import { registerResultsTable } from '../core/register-table.js';
import { type JobResult, uniquePartitions } from '../core/summarize-run.js';
import { validation } from '../middleware/validation.js';
import type { Catalog, ObjectStore } from '../ports.js';

export interface RegisterTableEvent {
  table: ResultsTableRef;
  runId: string;
  runDate: string;
  runPrefix: string;
  attemptId: string;
  jobResults: JobResult[];
}

/** RegisterTable over the given catalog (Glue on AWS, DuckDB locally) and store (deletes after the switch). */
export const createRegisterTableHandler = (deps: () => { catalog: Catalog; store: ObjectStore }) =>
  middy<RegisterTableEvent, Awaited<ReturnType<typeof registerResultsTable>>>()
    .use(
      validation({
        event: 'register-table-event',
        eventName: 'RegisterTable event',
        result: 'register-table-result',
        resultName: 'RegisterTable result',
      }),
    )
    .handler((event) =>
      registerResultsTable(
        {
          ...event.table,
          runId: event.runId,
          runDate: event.runDate,
          runPrefix: event.runPrefix,
          attemptId: event.attemptId,
          partitions: uniquePartitions(event.jobResults),
          files: event.jobResults.flatMap((job) => job.files),
        },
        deps(),
      ),
    );
