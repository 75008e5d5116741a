import { createHash } from 'node:crypto';
import { InvalidInputError, ObjectNotFoundError } from '../errors.js';
import type { StartRunResult as GeneratedStartRunResult } from '../generated/schema-types.js';
import type { ObjectStore } from '../ports.js';
import { validateAgainstSchema } from '../schemas.js';
import type { RunRequest } from './run-request.js';

/** Starts executions of the pipeline's state machine (SFN StartExecution on AWS). */
export interface ExecutionStarter {
  /** Starts execution `name` with `input`; a name that exists already is not an error. */
  start(name: string, input: unknown): Promise<StartedExecution>;
}

export interface StartedExecution {
  executionArn: string;
  /** True when an execution of this name existed already, so nothing new was started. */
  alreadyStarted: boolean;
}

/** The EventBridge event S3 sends for a new object (only the fields used here). */
export interface S3ObjectCreatedEvent {
  source: 'aws.s3';
  'detail-type': 'Object Created';
  detail: {
    bucket: { name: string };
    object: { key: string; size?: number; etag?: string; sequencer?: string };
  };
}

export type StartRunEvent = S3ObjectCreatedEvent | RunRequest;

export interface StartRunSettings {
  /** The bucket uploads land in (the pipeline's own bucket). */
  bucket: string;
  /** Only keys under this prefix start runs; ends in `/`. */
  inputPrefix: string;
  /** Only keys ending in one of these start runs; empty means any data object. */
  inputSuffixes: readonly string[];
  /** When set, only an object with this file name starts a run, for the folder it sits in. */
  runMarker?: string | undefined;
  /** `s3://…` of the run request template an upload's run uses (models, transform, results, queries). */
  runTemplateUri: string;
}

export interface StartRunDeps {
  starter: ExecutionStarter;
  store: ObjectStore;
  settings: StartRunSettings;
}

/**
 * Whether a run was started and, if not, why: generated from schemas/start-run-result.schema.json (the
 * Lambda validates its result against it).
 */
export type StartRunResult = GeneratedStartRunResult;

/** Step Functions execution names: at most 80 characters of [A-Za-z0-9-_]. */
export const EXECUTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * Decides whether an event starts a pipeline run, and starts it.
 *
 * - An S3 "Object Created" event starts a run when the key is under the input prefix and is a data
 *   object (not zero bytes, matching a suffix) — or, when a run marker is configured, only when the key
 *   is the marker, and then for the marker's whole folder. The run request is the stored template with
 *   `input` and `runId` filled in.
 * - Anything else is a run request, checked against schemas/run-request.schema.json.
 *
 * The execution name is a hash of what identifies the run (bucket, key and ETag; or the request), so a
 * duplicated event or a re-sent request reaches the existing execution instead of starting another.
 *
 * @example
 * await startRun({ input: 's3://bucket/incoming/day/', models: [{ variant: 'a', modelName: 'm' }] }, deps)
 * // → { started: true, executionName: 'run-3f…', executionArn: 'arn:aws:states:…:execution:…', … }
 * @throws SchemaValidationError for an invalid run request, or an invalid template once filled in.
 * @throws ObjectNotFoundError when an upload should start a run but there is no run template.
 */
export async function startRun(event: StartRunEvent, deps: StartRunDeps): Promise<StartRunResult> {
  if (isObjectCreatedEvent(event)) return startFromUpload(event, deps);
  if (isEventBridgeEvent(event)) {
    return { started: false, reason: `Unsupported event: ${event.source} ${event['detail-type']}` };
  }
  const request = validateAgainstSchema<RunRequest>('run-request', event, 'run request');
  const executionName = manualExecutionName(request);
  return start(executionName, request, deps);
}

/**
 * The execution name (and run id) of an uploaded object: a readable slug of its name, then a hash of
 * bucket, key and ETag. The same upload (a duplicated event) always gets the same name; a re-upload
 * of different content gets another one. At most 32 characters of [a-z0-9-], as run ids must be.
 */
export function uploadRunId(bucket: string, key: string, etag: string, label: string): string {
  const hash = sha256(`${bucket}\n${key}\n${etag}`).slice(0, 16);
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 15)
    .replace(/-+$/, '');
  return `${slug || 'run'}-${hash}`;
}

/**
 * The execution name of a manual run request: `<runId>-<hash>` or `run-<hash>`, the hash over the
 * request's canonical JSON. Re-sending the same request names the same execution (nothing new starts);
 * a changed request for the same runId gets its own name. A name alone would block a corrected re-run
 * for 90 days, because Step Functions refuses to reuse a name with a different input.
 */
export function manualExecutionName(request: RunRequest): string {
  const hash = sha256(canonicalJson(request)).slice(0, 16);
  return `${request.runId ?? 'run'}-${hash}`;
}

async function startFromUpload(event: S3ObjectCreatedEvent, deps: StartRunDeps): Promise<StartRunResult> {
  const { settings } = deps;
  const bucket = event.detail.bucket.name;
  // EventBridge carries the key as stored, not URL-encoded like classic S3 notifications.
  const { key, size, etag, sequencer } = event.detail.object;
  if (bucket !== settings.bucket) {
    return { started: false, reason: `Bucket ${bucket} is not the pipeline bucket ${settings.bucket}` };
  }
  if (!key.startsWith(settings.inputPrefix)) {
    return { started: false, reason: `Key ${key} is outside the input prefix ${settings.inputPrefix}` };
  }
  const slash = key.lastIndexOf('/');
  const fileName = key.slice(slash + 1);
  const folder = key.slice(0, slash + 1);

  let input: string;
  let label: string;
  if (settings.runMarker) {
    if (fileName !== settings.runMarker) {
      return {
        started: false,
        reason: `Key ${key} is not the run marker ${settings.runMarker}; its folder runs when the marker arrives`,
      };
    }
    if (folder === settings.inputPrefix) {
      // A marker at the top would rerun every upload ever made: runs are per folder.
      return {
        started: false,
        reason: `Run marker ${key} must sit in a folder under ${settings.inputPrefix}, not directly in it`,
      };
    }
    input = `s3://${bucket}/${folder}`;
    label = folder.slice(settings.inputPrefix.length).replace(/\/$/, '').split('/').pop() ?? '';
  } else {
    if (fileName === '' || fileName.startsWith('_') || fileName.startsWith('.')) {
      return { started: false, reason: `Key ${key} is a marker or hidden file, not data` };
    }
    if (settings.inputSuffixes.length > 0 && !settings.inputSuffixes.some((s) => key.endsWith(s))) {
      return {
        started: false,
        reason: `Key ${key} does not end in one of ${settings.inputSuffixes.join(', ')}`,
      };
    }
    if (size === 0) return { started: false, reason: `Object ${key} is empty (0 bytes)` };
    input = `s3://${bucket}/${key}`;
    label = stripSuffix(fileName, settings.inputSuffixes);
  }

  const runId = uploadRunId(bucket, key, etag ?? sequencer ?? '', label);
  const template = await loadTemplate(deps);
  const request = validateAgainstSchema<RunRequest>(
    'run-request',
    {
      ...template,
      runId,
      input,
      ...(input.endsWith('/') && !template.inputSuffixes && settings.inputSuffixes.length > 0
        ? { inputSuffixes: [...settings.inputSuffixes] }
        : {}),
    },
    `run request (template ${settings.runTemplateUri} for ${input})`,
  );
  return start(runId, request, deps);
}

async function start(
  executionName: string,
  request: RunRequest,
  deps: StartRunDeps,
): Promise<StartRunResult> {
  const { executionArn, alreadyStarted } = await deps.starter.start(executionName, request);
  if (alreadyStarted) {
    return {
      started: false,
      reason: `Execution ${executionName} exists already (duplicate event or request)`,
      executionName,
      executionArn,
    };
  }
  return { started: true, executionName, executionArn, runId: request.runId, input: request.input };
}

async function loadTemplate(deps: StartRunDeps): Promise<Partial<RunRequest>> {
  const uri = deps.settings.runTemplateUri;
  let bytes: Uint8Array;
  try {
    bytes = await deps.store.getBytes(uri);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) {
      throw new ObjectNotFoundError(
        `No run template at ${uri}: uploads start runs with it (models, transform, results); see docs/aws.md`,
        { cause: error },
      );
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new InvalidInputError(`Run template ${uri} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError(`Run template ${uri} is not a JSON object`);
  }
  return parsed as Partial<RunRequest>;
}

function isEventBridgeEvent(event: unknown): event is { source: string; 'detail-type': string } {
  return typeof event === 'object' && event !== null && 'detail-type' in event && 'source' in event;
}

function isObjectCreatedEvent(event: unknown): event is S3ObjectCreatedEvent {
  return (
    isEventBridgeEvent(event) &&
    event.source === 'aws.s3' &&
    event['detail-type'] === 'Object Created' &&
    typeof (event as S3ObjectCreatedEvent).detail?.object?.key === 'string'
  );
}

function stripSuffix(fileName: string, suffixes: readonly string[]): string {
  const suffix = suffixes.find((s) => fileName.endsWith(s));
  if (suffix) return fileName.slice(0, -suffix.length);
  const dot = fileName.indexOf('.');
  return dot > 0 ? fileName.slice(0, dot) : fileName;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level, so equal requests hash equally. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
