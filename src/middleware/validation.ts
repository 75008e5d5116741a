import type middy from '@middy/core';
import { type SchemaName, validateAgainstSchema } from '../schemas.js';

/**
 * Validates a Lambda's event before the handler runs and its result after, each against a schema in
 * schemas/: the next state consumes the result, so a bad one should fail here, named, not there.
 * Every Lambda names a result schema; `event` is left out only where the core validates its own input
 * (StartRun: an EventBridge event or a run request).
 */
export function validation<TEvent, TResult>(options: {
  event?: SchemaName;
  eventName?: string;
  result: SchemaName;
  resultName: string;
}): middy.MiddlewareObj<TEvent, TResult> {
  return {
    before: (request) => {
      if (options.event) validateAgainstSchema(options.event, request.event, options.eventName ?? 'event');
    },
    after: (request) => {
      validateAgainstSchema(options.result, request.response, options.resultName);
    },
  };
}
