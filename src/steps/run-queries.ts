import middy from '@middy/core';
import type { RunQueriesOptions } from '../core/run-queries.js';
import { type RunSummary, type SummarizeRunEvent, summarizeRun } from '../core/summarize-run.js';
import { validation } from '../middleware/validation.js';
import type { ObjectStore, QueryEngine } from '../ports.js';

export interface RunQueriesDeps {
  store: ObjectStore;
  queryEngine: QueryEngine;
  loadQuery: (name: string) => Promise<string>;
  /** How the user knows a URI (locally: the file's path), for the report. */
  displayUri?: (uri: string) => string;
  /** How many queries run at once, and progress (the local runner sets both). */
  queries?: RunQueriesOptions;
}

/** RunQueries over the given query engine (Athena on AWS, DuckDB locally). */
export const createRunQueriesHandler = (deps: () => RunQueriesDeps) =>
  middy<SummarizeRunEvent, RunSummary>()
    .use(
      validation({
        event: 'run-queries-event',
        eventName: 'RunQueries event',
        result: 'run-summary',
        resultName: 'run summary',
      }),
    )
    .handler((event) => summarizeRun(event, deps()));
