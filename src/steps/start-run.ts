import { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import { type StartRunDeps, type StartRunEvent, type StartRunResult, startRun } from '../core/start-run.js';
import { validation } from '../middleware/validation.js';

const logger = new Logger({ serviceName: 'startRun' });

/**
 * StartRun over the given ports. EventBridge invokes it asynchronously and drops the result, so the
 * decision (started, or why not) is logged as well as returned.
 */
export const createStartRunHandler = (deps: () => StartRunDeps) =>
  middy<StartRunEvent, StartRunResult>()
    // Runs after the logger's `after` (middy runs `after`s in reverse), so a bad result is logged, then fails.
    .use(validation({ result: 'start-run-result', resultName: 'StartRun result' }))
    .use({
      after: (request) => {
        logger.info(request.response?.started ? 'run started' : 'no run started', { ...request.response });
      },
    })
    .handler((event) => startRun(event, deps()));
