import middy from '@middy/core';
import { getAwsRuntime } from '../src/aws/runtime.js';
import type { ResultsTableRef } from '../src/core/build-manifest.js';
import { registerResultsTable } from '../src/core/register-table.js';
import { type JobResult, uniquePartitions } from '../src/core/summarize-run.js';
import { validation } from '../src/middleware/validation.js';
import type { Catalog } from '../src/ports.js';

export interface RegisterTableEvent {
  table: ResultsTableRef;
  jobResults: JobResult[];
}

/** RegisterTable over the given catalog (Glue on AWS, DuckDB locally). */
export const createRegisterTableHandler = (deps: () => { catalog: Catalog }) =>
  middy<RegisterTableEvent, Awaited<ReturnType<typeof registerResultsTable>>>()
    .use(validation({ event: 'register-table-event', eventName: 'RegisterTable event' }))
    .handler((event) =>
      registerResultsTable({ ...event.table, partitions: uniquePartitions(event.jobResults) }, deps()),
    );

export const handler = createRegisterTableHandler(() => getAwsRuntime());
