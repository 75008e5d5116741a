import pLimit from 'p-limit';
import { InvalidInputError } from '../errors.js';
import type {
  JobListPointer as GeneratedJobListPointer,
  ParseJobEvent as GeneratedParseJobEvent,
} from '../generated/schema-types.js';
import type { ObjectStore } from '../ports.js';
import type { PlannedJob } from './build-manifest-jobs.js';
import { type ParseTransformOutputDeps, parseTransformOutput } from './result-parsing.js';
import { joinS3Uri, parseS3Uri } from './s3-uri.js';
import type { MapJobResult } from './summarize-run.js';

/**
 * A run's per-job data lives in S3, never in the state machine's state (256 KiB, whatever the number
 * of jobs): BuildManifest writes the planned jobs as one JSON array that RunTransforms' Distributed Map
 * reads with its ItemReader; each job's ParseResults writes its small result beside it; RegisterTable
 * and RunQueries list and read those results. The state carries only pointers and counts.
 *
 * Layout under the attempt's scratch (`runs/<runId>/attempts/<attemptId>/`):
 * - `jobs.json`: the planned jobs, each with its `jobResultUri`;
 * - `job-results/<variant>/shard-<shardId>.json`: one {@link MapJobResult} per finished job;
 * - `map-runs/<MapRunId>/`: the Distributed Map's ResultWriter files (manifest.json, SUCCEEDED_0.json,
 *   FAILED_0.json).
 */

/**
 * Where the job list is, as the Distributed Map's ItemReader (Bucket/Key) and the later states need it:
 * the definition `jobList` of schemas/definitions.schema.json.
 */
export type JobListPointer = GeneratedJobListPointer;

/** A planned job as the job list holds it: the plan plus where its result goes. */
export type JobListItem = PlannedJob & { jobResultUri: string };

const READ_CONCURRENCY = 16;

/** The job result URI of one job: `<scratch>job-results/<variant>/shard-<shardId>.json`. */
export function jobResultUri(scratchPrefix: string, variant: string, shardId: string): string {
  return joinS3Uri(scratchPrefix, 'job-results', variant, `shard-${shardId}.json`);
}

/**
 * Writes the job list to `<scratch>jobs.json` and returns the pointer the state carries instead.
 *
 * @throws InvalidInputError when the scratch prefix is not an `s3://bucket/…/` prefix.
 */
export async function writeJobList(
  store: ObjectStore,
  scratchPrefix: string,
  jobs: readonly PlannedJob[],
  maxConcurrency: number,
): Promise<JobListPointer> {
  const uri = joinS3Uri(scratchPrefix, 'jobs.json');
  const { bucket, key } = parseS3Uri(uri);
  const items: JobListItem[] = jobs.map((job) => ({
    ...job,
    jobResultUri: jobResultUri(scratchPrefix, job.variant, job.shardId),
  }));
  await store.put(uri, JSON.stringify(items), { contentType: 'application/json' });
  return {
    bucket,
    key,
    jobs: jobs.length,
    maxConcurrency,
    resultsPrefix: `${joinS3Uri(scratchPrefix, 'job-results')}/`,
    mapRunsKeyPrefix: `${parseS3Uri(joinS3Uri(scratchPrefix, 'map-runs')).key}/`,
  };
}

/**
 * ParseResults' input in RunTransforms' child execution: the job's parse request and where its result
 * goes. Generated from schemas/parse-results-event.schema.json (the Lambda validates it).
 */
export type ParseJobEvent = GeneratedParseJobEvent;

/**
 * The ParseResults step: joins one job's inputs with its predictions into result rows, then writes the
 * job's result (counts, partition, files, transform job times) to `jobResultUri`, where RegisterTable
 * and RunQueries list it. Returns the same result (a few hundred bytes) to the child execution.
 */
export async function parseJobOutput(
  event: ParseJobEvent,
  deps: ParseTransformOutputDeps,
): Promise<MapJobResult> {
  const parsed = await parseTransformOutput(event.request, deps);
  const { TransformJobName, TransformStartTime, TransformEndTime } = event.transformJob;
  const result: MapJobResult = {
    variant: event.variant,
    shardId: event.shardId,
    ...parsed,
    transformJob: {
      TransformJobName,
      ...(TransformStartTime !== undefined ? { TransformStartTime } : {}),
      ...(TransformEndTime !== undefined ? { TransformEndTime } : {}),
    },
  };
  await writeJobResult(deps.store, event.jobResultUri, result);
  return result;
}

/** Writes one job's result where RegisterTable and RunQueries will list it. */
export async function writeJobResult(store: ObjectStore, uri: string, result: MapJobResult): Promise<void> {
  await store.put(uri, JSON.stringify(result), { contentType: 'application/json' });
}

/**
 * Lists and reads every job result under `resultsPrefix`, in key order (variant, then shard).
 *
 * @throws InvalidInputError when the number of results differs from the number of planned jobs (a job
 *   whose result is missing would silently drop its records), or a result is not a job result.
 */
export async function readJobResults(
  store: ObjectStore,
  resultsPrefix: string,
  expectedJobs: number,
): Promise<MapJobResult[]> {
  const uris: string[] = [];
  for await (const object of store.list(resultsPrefix)) {
    if (object.uri.endsWith('.json')) uris.push(object.uri);
  }
  if (uris.length !== expectedJobs) {
    throw new InvalidInputError(
      `Expected ${expectedJobs} job result(s) under ${resultsPrefix}, found ${uris.length}: every planned transform job must have parsed its output`,
    );
  }
  const limit = pLimit(READ_CONCURRENCY);
  return Promise.all(
    uris.map((uri) =>
      limit(async () => {
        const text = Buffer.from(await store.getBytes(uri)).toString('utf8');
        let result: MapJobResult;
        try {
          result = JSON.parse(text) as MapJobResult;
        } catch (error) {
          throw new InvalidInputError(`Job result ${uri} is not valid JSON: ${(error as Error).message}`, {
            cause: error,
          });
        }
        if (typeof result?.recordsIn !== 'number' || typeof result.partition?.location !== 'string') {
          throw new InvalidInputError(`Job result ${uri} is not a job result (recordsIn, partition, files)`);
        }
        return result;
      }),
    ),
  );
}

/** The first job that failed a Distributed Map Run, as its ResultWriter recorded it. */
export interface FailedJob {
  error: string;
  cause: string;
  /** The child execution's input: the planned job (variant, shardId, transformRequest…). */
  job?: Partial<JobListItem>;
}

/**
 * Finds why RunTransforms failed. A Distributed Map that exceeds its tolerated failures fails with
 * States.ExceedToleratedFailureThreshold, which says nothing of the job; its ResultWriter wrote each
 * failed child's Error and Cause to `map-runs/<MapRunId>/FAILED_0.json`. Returns the first failed (not
 * aborted) child found, or undefined when the Map wrote no such file.
 */
export async function firstFailedJob(
  store: ObjectStore,
  jobList: JobListPointer,
): Promise<FailedJob | undefined> {
  const base = `s3://${jobList.bucket}/`;
  const manifests: string[] = [];
  for await (const object of store.list(`${base}${jobList.mapRunsKeyPrefix}`)) {
    if (object.uri.endsWith('/manifest.json')) manifests.push(object.uri);
  }
  for (const manifestUri of manifests) {
    const manifest = JSON.parse(Buffer.from(await store.getBytes(manifestUri)).toString('utf8')) as {
      ResultFiles?: { FAILED?: { Key: string }[] };
    };
    for (const file of manifest.ResultFiles?.FAILED ?? []) {
      const entries = JSON.parse(
        Buffer.from(await store.getBytes(`${base}${file.Key}`)).toString('utf8'),
      ) as {
        Status?: string;
        Error?: string;
        Cause?: string;
        Input?: string;
      }[];
      const failed = entries.find((entry) => entry.Status === 'FAILED') ?? entries[0];
      if (!failed) continue;
      let job: Partial<JobListItem> | undefined;
      try {
        job = failed.Input ? (JSON.parse(failed.Input) as Partial<JobListItem>) : undefined;
      } catch {
        job = undefined;
      }
      return { error: failed.Error ?? 'unknown', cause: failed.Cause ?? '', ...(job ? { job } : {}) };
    }
  }
  return undefined;
}
