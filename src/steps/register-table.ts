import middy from '@middy/core';
import type { ResultsTableRef } from '../core/build-manifest.js';
import { registerResultsTable } from '../core/register-table.js';
import { type JobResult, uniquePartitions } from '../core/summarize-run.js';
import { validation } from '../middleware/validation.js';
import type { Catalog } from '../ports.js';

export interface RegisterTableEvent {
  table: ResultsTableRef;
  jobResults: JobResult[];
}

/** RegisterTable over the given catalog (Glue on AWS, DuckDB locally). */
export const createRegisterTableHandler = (deps: () => { catalog: Catalog }) =>
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
      registerResultsTable({ ...event.table, partitions: uniquePartitions(event.jobResults) }, deps()),
    );
