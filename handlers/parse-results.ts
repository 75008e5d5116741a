import middy from '@middy/core';
import { getAwsRuntime } from '../src/aws/runtime.js';
import type { ParseRequest } from '../src/core/build-manifest.js';
import { parseTransformOutput } from '../src/core/result-parsing.js';
import type { JobResult } from '../src/core/summarize-run.js';
import { validation } from '../src/middleware/validation.js';
import type { ObjectStore } from '../src/ports.js';

export interface ParseResultsEvent {
  request: ParseRequest;
  transformJob: { TransformJobName: string; TransformJobStatus: 'Completed' };
}

/** ParseResults over the given store (the local runner passes the local one). */
export const createParseResultsHandler = (deps: () => { store: ObjectStore }) =>
  middy<ParseResultsEvent, JobResult>()
    .use(validation({ event: 'parse-results-event', eventName: 'ParseResults event' }))
    .handler((event) => parseTransformOutput(event.request, deps()));

export const handler = createParseResultsHandler(() => getAwsRuntime());
