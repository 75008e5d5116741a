import middy from '@middy/core';
import {
  type BuildManifestDeps,
  type BuildManifestEvent,
  buildManifest,
  type RunPlan,
} from '../core/build-manifest.js';
import { validation } from '../middleware/validation.js';

/** BuildManifest over the given ports (the local runner passes local ones). */
export const createBuildManifestHandler = (deps: () => BuildManifestDeps) =>
  middy<BuildManifestEvent, RunPlan>()
    .use(
      validation({
        event: 'build-manifest-event',
        eventName: 'BuildManifest event',
        result: 'run-plan',
        resultName: 'run plan',
      }),
    )
    .handler((event) => buildManifest(event, deps()));
