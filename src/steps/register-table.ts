import middy from '@middy/core';
import type { ResultsTableRef } from '../core/build-manifest.js';
import type { JobListPointer } from '../core/job-results.js';
import { registerRunResults } from '../core/register-table.js';
import { validation } from '../middleware/validation.js';
import type { Catalog, ObjectStore } from '../ports.js';

export interface RegisterTableEvent {
  table: ResultsTableRef;
  runId: string;
  runDate: string;
  runPrefix: string;
  attemptId: string;
  jobList: JobListPointer;
}

/**
 * RegisterTable over the given catalog (Glue on AWS, DuckDB locally) and store (the job results it
 * reads; earlier attempts' files deleted after the switch).
 */
export const createRegisterTableHandler = (deps: () => { catalog: Catalog; store: ObjectStore }) =>
  middy<RegisterTableEvent, Awaited<ReturnType<typeof registerRunResults>>>()
    .use(
      validation({
        event: 'register-table-event',
        eventName: 'RegisterTable event',
        result: 'register-table-result',
        resultName: 'RegisterTable result',
      }),
    )
    .handler((event) => registerRunResults(event, deps()));
