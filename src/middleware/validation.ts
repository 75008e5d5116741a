import type middy from '@middy/core';
import { type SchemaName, validateAgainstSchema } from '../schemas.js';

/**
 * Validates a Lambda's event before the handler runs and its result after, each against a schema in
 * schemas/: the next state consumes the result, so a bad one should fail here, named, not there.
 */
export function validation<TEvent, TResult>(options: {
  event: SchemaName;
  eventName: string;
  result?: SchemaName;
  resultName?: string;
}): middy.MiddlewareObj<TEvent, TResult> {
  return {
    before: (request) => {
      validateAgainstSchema(options.event, request.event, options.eventName);
    },
    after: (request) => {
      if (options.result) {
        validateAgainstSchema(options.result, request.response, options.resultName ?? 'result');
      }
    },
  };
}
