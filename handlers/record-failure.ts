import middy from '@middy/core';
import { getAwsRuntime } from '../src/aws/runtime.js';
import { type FailureRecord, type RecordFailureEvent, recordFailure } from '../src/core/record-failure.js';
import { validation } from '../src/middleware/validation.js';
import type { ObjectStore } from '../src/ports.js';

/** RecordFailure over the given store (the local runner passes the local one). */
export const createRecordFailureHandler = (
  deps: () => { store: ObjectStore; bucket: string; now: () => Date },
) =>
  middy<RecordFailureEvent, FailureRecord>()
    .use(validation({ event: 'record-failure-event', eventName: 'RecordFailure event' }))
    .handler((event) => recordFailure(event, deps()));

export const handler = createRecordFailureHandler(() => {
  const runtime = getAwsRuntime();
  return { store: runtime.store, bucket: runtime.settings.bucket, now: () => new Date() };
});
