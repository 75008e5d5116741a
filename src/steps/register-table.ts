import middy from '@middy/core';
import { type RegisterTableEvent, registerRunResults } from '../core/register-table.js';
import { validation } from '../middleware/validation.js';
import type { Catalog, ObjectStore } from '../ports.js';

/**
 * RegisterTable over the given catalog (Glue on AWS, DuckDB locally) and store (the job results it
 * reads; the replaced partitions recorded for RunQueries' commit or RecordFailure's switch back).
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
