import middy from '@middy/core';
import type { ParseRequest } from '../core/build-manifest.js';
import { parseTransformOutput } from '../core/result-parsing.js';
import type { JobResult } from '../core/summarize-run.js';
import { validation } from '../middleware/validation.js';
import type { ObjectStore } from '../ports.js';

export interface ParseResultsEvent {
  request: ParseRequest;
  transformJob: { TransformJobName: string; TransformJobStatus: 'Completed' };
}

/** ParseResults over the given store (the local runner passes the local one). */
export const createParseResultsHandler = (deps: () => { store: ObjectStore }) =>
  middy<ParseResultsEvent, JobResult>()
    .use(
      validation({
        event: 'parse-results-event',
        eventName: 'ParseResults event',
        result: 'parse-results-result',
        resultName: 'ParseResults result',
      }),
    )
    .handler((event) => parseTransformOutput(event.request, deps()));
