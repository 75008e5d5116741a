import middy from '@middy/core';
import { type FailureRecord, type RecordFailureEvent, recordFailure } from '../core/record-failure.js';
import { validation } from '../middleware/validation.js';
import type { Catalog, ObjectStore } from '../ports.js';

/** RecordFailure over the given store and catalog (the local runner passes the local ones). */
export const createRecordFailureHandler = (
  deps: () => {
    store: ObjectStore;
    bucket: string;
    now: () => Date;
    displayUri?: (uri: string) => string;
    /** Where a failed attempt that reached RegisterTable's switch is switched back. */
    catalog?: Catalog;
    /** Puts messages in the user's terms (the local CLI's run); see recordFailure. */
    userText?: (text: string) => string;
  },
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
