import middy from '@middy/core';
import { type ParseJobEvent, parseJobOutput } from '../core/job-results.js';
import type { ParseTransformOutputDeps } from '../core/result-parsing.js';
import type { MapJobResult } from '../core/summarize-run.js';
import { validation } from '../middleware/validation.js';

export type ParseResultsEvent = ParseJobEvent;

/** ParseResults over the given store (the local runner passes the local one, and a progress callback). */
export const createParseResultsHandler = (deps: () => ParseTransformOutputDeps) =>
  middy<ParseResultsEvent, MapJobResult>()
    .use(
      validation({
        event: 'parse-results-event',
        eventName: 'ParseResults event',
        result: 'parse-results-result',
        resultName: 'ParseResults result',
      }),
    )
    .handler((event) => parseJobOutput(event, deps()));
