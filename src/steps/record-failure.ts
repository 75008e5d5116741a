import middy from '@middy/core';
import { type FailureRecord, type RecordFailureEvent, recordFailure } from '../core/record-failure.js';
import { validation } from '../middleware/validation.js';
import type { ObjectStore } from '../ports.js';

/** RecordFailure over the given store (the local runner passes the local one). */
export const createRecordFailureHandler = (
  deps: () => { store: ObjectStore; bucket: string; now: () => Date; displayUri?: (uri: string) => string },
) =>
  middy<RecordFailureEvent, FailureRecord>()
    .use(
      validation({
        event: 'record-failure-event',
        eventName: 'RecordFailure event',
        result: 'failure-record',
        resultName: 'failure record',
      }),
    )
    .handler((event) => recordFailure(event, deps()));
