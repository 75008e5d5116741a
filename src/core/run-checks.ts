import { InvalidInputError } from '../errors.js';
import { isJsonLines, mediaType, resultsFormatOf, xgboostRequestFormatOf } from './media-types.js';
import { actualColumnIndex, idColumnIndex } from './results-table.js';
import { applyRunDefaults, type ResolvedRunRequest } from './run-defaults.js';
import type { ModelVariant, PipelineSettings, RunRequest } from './run-request.js';
import {
  concurrentPayloadProblem,
  MAX_PAYLOAD_IN_MB_LIMIT,
  maxPayloadZeroProblem,
} from './transform-rules.js';
import { XGBOOST_DEFAULT_MAX_CONTENT_LENGTH } from './xgboost-container.js';

/**
 * Plan-time checks: every rule that can be checked from the run request alone runs here, in
 * BuildManifest, before any model is created or transform job started, so a run that would fail after
 * its jobs were billed fails in seconds instead. Each owner adds its rule functions to this module and
 * calls them from {@link checkRunRequest}. Messages name the request field and say the fix.
 */

/** What the checks need besides the request. */
export interface RunCheckContext {
  /** The named queries that exist (queries/*.sql), to check `queries` against. */
  knownQueries?: readonly string[];
  /**
   * The deployment's safety settings (on AWS: the inputPrefix and imageRepositories parameters); unset
   * or without those fields (local runs), nothing is checked against them.
   */
  deployment?: PipelineSettings;
}

/**
 * Runs every plan-time check on a run request (already schema-valid). The rules read the request with
 * its defaults (applyRunDefaults: BuildManifest passes it so; applying them again is a no-op), so no
 * rule here repeats a default.
 *
 * @throws InvalidInputError naming the first field that cannot work and how to fix it.
 */
export function checkRunRequest(given: RunRequest, context: RunCheckContext = {}): RunCheckResult {
  const request = applyRunDefaults(given);
  if (context.deployment) checkRequestAgainstDeployment(request, context.deployment);
  checkVariants(request);
  checkTransformConcurrency(request, given);
  checkQueries(request, context.knownQueries);
  checkResultsSettings(request);
  return checkAwsAndContainerRules(request);
}

/** Two variants with one name would write one partition: the second would silently replace the first. */
function checkVariants(request: ResolvedRunRequest): void {
  const seen = new Set<string>();
  for (const [index, model] of request.models.entries()) {
    if (seen.has(model.variant)) {
      throw new InvalidInputError(
        `models[${index}].variant "${model.variant}" is used twice: give each model variant its own name`,
      );
    }
    seen.add(model.variant);
  }
}

/**
 * SageMaker refuses a CreateTransformJob whose MaxConcurrentTransforms × MaxPayloadInMB exceeds 100 MB:
 * on AWS the run would fail at its first job, after its models were created. The transform settings
 * are shared by every variant, so every variant's jobs would be refused; the message names them. An
 * unset MaxConcurrentTransforms is planned as 0 (the container's /execution-parameters decide), which
 * SageMaker does not count; an unset MaxPayloadInMB is planned as 6.
 */
function checkTransformConcurrency(request: ResolvedRunRequest, given: RunRequest): void {
  const concurrency = request.transform.MaxConcurrentTransforms;
  const payload = request.transform.MaxPayloadInMB;
  // The rule itself is src/core/transform-rules.ts's (0 concurrency: the container decides, not counted).
  if (concurrentPayloadProblem(concurrency || undefined, payload) === undefined) return;
  const payloadText =
    given.transform?.MaxPayloadInMB === undefined
      ? `MaxPayloadInMB (unset: ${payload})`
      : `MaxPayloadInMB ${payload}`;
  const variants = request.models.map((m) => `"${m.variant}"`).join(', ');
  // Over the limit, both are positive: either can be lowered.
  const fixes = [
    `transform.MaxConcurrentTransforms at most ${Math.floor(MAX_PAYLOAD_IN_MB_LIMIT / payload)}`,
    `transform.MaxPayloadInMB at most ${Math.floor(MAX_PAYLOAD_IN_MB_LIMIT / concurrency)}`,
  ];
  throw new InvalidInputError(
    `transform.MaxConcurrentTransforms ${concurrency} × transform.${payloadText} = ${concurrency * payload} MB, ` +
      `over SageMaker's limit of ${MAX_PAYLOAD_IN_MB_LIMIT} MB (CreateTransformJob refuses it, for the jobs ` +
      `of variant${request.models.length > 1 ? 's' : ''} ${variants}): set ${fixes.join(', or ')}`,
  );
}

/** A query name RunQueries cannot load would fail the run after every job ran (and was billed). */
function checkQueries(request: ResolvedRunRequest, known: readonly string[] | undefined): void {
  if (!known || !request.queries) return;
  const unknown = request.queries.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `queries names ${unknown.map((n) => `"${n}"`).join(', ')}, which ${unknown.length > 1 ? 'are' : 'is'} not a named query: use one of ${known.join(', ')} (files in queries/)`,
    );
  }
}

/** Results settings ParseResults would reject after the jobs ran, checked against the transform settings. */
function checkResultsSettings(request: ResolvedRunRequest): void {
  const t = request.transform;
  const contentType = mediaType(t.ContentType);
  const accept = mediaType(t.Accept);
  const splitType = t.SplitType;
  if (splitType !== 'Line') {
    throw new InvalidInputError(
      `transform.SplitType is ${splitType}, but the results are joined record by record with the input: use SplitType Line`,
    );
  }
  if (resultsFormatOf(contentType) === undefined) {
    throw new InvalidInputError(
      `transform.ContentType ${t.ContentType} cannot be joined with the results: use text/csv or application/jsonlines`,
    );
  }
  if (resultsFormatOf(accept) === undefined) {
    throw new InvalidInputError(
      `transform.Accept ${t.Accept} cannot be read by ParseResults: use text/csv or application/jsonlines`,
    );
  }
  const results = request.results;
  if (results.threshold !== undefined && !(results.threshold >= 0 && results.threshold <= 1)) {
    throw new InvalidInputError(
      `results.threshold ${results.threshold} is not a probability: use a number from 0 to 1`,
    );
  }
  if (
    results.labels &&
    (results.labels.length < 2 || new Set(results.labels).size !== results.labels.length)
  ) {
    throw new InvalidInputError(
      `results.labels must name at least two distinct classes, got ${JSON.stringify(results.labels)}`,
    );
  }
  idColumnIndex(results, contentType === 'text/csv');
  actualColumnIndex(results, contentType === 'text/csv');
}

/**
 * Plan-time check on the listed input: Batch Transform writes each input's output at its key relative to
 * the input prefix plus ".out", so an input `a.csv` and an input `a.csv.out/b.csv` would need
 * `a.csv.out` to be both an object and a folder of objects. S3 allows that, the local store (a
 * filesystem) cannot, and any reader of the output folder would confuse the two; the run fails here,
 * before any job starts, naming both input keys.
 *
 * @param prefix the input prefix the relative keys are taken from (as in transformOutputUri)
 * @param inputUris the input objects' URIs, all under `prefix`
 * @throws InvalidInputError naming the two input objects and the output key they share.
 */
export function checkOutputKeyCollisions(prefix: string, inputUris: readonly string[]): void {
  const relative = (uri: string) => (uri.startsWith(prefix) ? uri.slice(prefix.length) : uri);
  // Every folder an input's key passes through, mapped to one input below it.
  const folders = new Map<string, string>();
  for (const uri of inputUris) {
    const key = relative(uri);
    for (let i = key.indexOf('/'); i > 0; i = key.indexOf('/', i + 1)) {
      const folder = key.slice(0, i);
      if (!folders.has(folder)) folders.set(folder, uri);
    }
  }
  for (const uri of inputUris) {
    const output = `${relative(uri)}.out`;
    const other = folders.get(output);
    if (other !== undefined) {
      throw new InvalidInputError(
        `input objects ${uri} and ${other} collide: the transform output of ${uri} is "${output}", ` +
          `which is also the folder holding the output of ${other}. Rename or move one of them ` +
          `(or leave it out with inputSuffixes).`,
      );
    }
  }
}

/** What the checks found: problems refuse the run (thrown), warnings are reported with the plan. */
export interface RunCheckResult {
  warnings: string[];
}

/**
 * AWS's and the XGBoost container's rules (h3-xgboost). Throws InvalidInputError listing every problem
 * found; returns the warnings (things that are allowed but will likely fail on AWS).
 */
function checkAwsAndContainerRules(request: ResolvedRunRequest): RunCheckResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  problems.push(...transformRuleProblems(request));
  problems.push(...jsonPathLimitProblems(request));
  problems.push(...resultsDataProcessingProblems(request));
  const container = builtInXGBoostContainerFindings(request);
  problems.push(...container.problems);
  warnings.push(...container.warnings);
  if (problems.length > 0) {
    throw new InvalidInputError(`The run request cannot run:\n- ${problems.join('\n- ')}`);
  }
  return { warnings };
}

/**
 * CreateTransformJob's MaxPayloadInMB-0 rule (src/core/transform-rules.ts) on the run's transform
 * settings: every job of the run would fail, after its models were created. (The concurrency × payload
 * rule is {@link checkTransformConcurrency}, which names the variants.)
 */
export function transformRuleProblems(request: ResolvedRunRequest): string[] {
  const t = request.transform;
  const problems: string[] = [];
  const zero = maxPayloadZeroProblem(t.MaxPayloadInMB, t.SplitType, 'transform.MaxPayloadInMB');
  if (zero) {
    problems.push(
      `${zero}; the results are joined with the input record by record (SplitType Line): set transform.MaxPayloadInMB from 1 to ${MAX_PAYLOAD_IN_MB_LIMIT}`,
    );
  }
  return problems;
}

/** AWS's limit on DataProcessing JSONPath expressions (CreateTransformJob: JsonPath, max length 63). */
export const JSON_PATH_MAX_LENGTH = 63;

/**
 * AWS's JSONPath limits, which the local engine would otherwise accept: at most 63 characters; no
 * multi-range slices such as `[0:2,246:]` (aws/sagemaker-python-sdk#1112); no `_` in member names for
 * JSON lines input (aws/aws-sdk#184).
 */
export function jsonPathLimitProblems(request: ResolvedRunRequest): string[] {
  const processing = request.transform.DataProcessing;
  const contentType = mediaType(request.transform.ContentType);
  const problems: string[] = [];
  for (const field of ['InputFilter', 'OutputFilter'] as const) {
    const path = processing[field];
    if (path === undefined) continue;
    const name = `transform.DataProcessing.${field}`;
    if (path.length > JSON_PATH_MAX_LENGTH) {
      problems.push(
        `${name} is ${path.length} characters; AWS allows at most ${JSON_PATH_MAX_LENGTH} (CreateTransformJob's JsonPath limit): select fewer, contiguous columns, e.g. "$[1:]"`,
      );
    }
    for (const [, inner] of path.matchAll(/\[([^\]]*)\]/g)) {
      const members = (inner as string).split(',');
      if (members.length > 1 && members.some((m) => m.includes(':'))) {
        problems.push(
          `${name} "${path}" combines a slice with other members ([${inner}]); AWS rejects multi-range selections: use one range ("$[1:]") or a list of indices ("$[0,2,3]")`,
        );
      }
    }
    if (isJsonLines(contentType)) {
      const names = [...path.matchAll(/\.([^.[\]]+)|\['([^']*)'\]|\["([^"]*)"\]/g)].map(
        (m) => m[1] ?? m[2] ?? m[3] ?? '',
      );
      const underscored = names.filter((n) => n.includes('_'));
      if (underscored.length > 0) {
        problems.push(
          `${name} "${path}" names ${underscored.map((n) => `"${n}"`).join(', ')}; AWS rejects "_" in JSONPath member names for application/jsonlines input: rename the key(s) in the input`,
        );
      }
    }
  }
  return problems;
}

/**
 * What ParseResults can read: the joined record (JoinSource Input) and the filtered features
 * (InputFilter) are handled; an OutputFilter would cut the prediction or the input out of the output
 * the results are built from, so it is refused.
 */
export function resultsDataProcessingProblems(request: ResolvedRunRequest): string[] {
  const outputFilter = request.transform.DataProcessing.OutputFilter;
  if (outputFilter.trim() === '$') return [];
  return [
    `transform.DataProcessing.OutputFilter "${outputFilter}": ParseResults builds each result row from the whole output (the prediction, after the input when JoinSource is Input), so an OutputFilter would make rows wrong; leave it unset: the results table already joins each record with its prediction and results.idColumn keeps an id`,
  ];
}

/** Whether a variant runs SageMaker's XGBoost algorithm container (or the local built-in stand-in). */
export function usesXGBoostContainer(model: ModelVariant): boolean {
  const image = model.image ?? '';
  return image.startsWith('builtin:') || /sagemaker-xgboost|\/xgboost:/.test(image);
}

/**
 * Rules of SageMaker's XGBoost container that would fail every job on AWS: it reads text/csv and
 * text/libsvm only (JSON and JSON lines get 415), and bodies over MAX_CONTENT_LENGTH (6 MiB unless the
 * model's Environment raises it) get 413 whatever the job's MaxPayloadInMB.
 */
export function builtInXGBoostContainerFindings(request: ResolvedRunRequest): {
  problems: string[];
  warnings: string[];
} {
  const variants = request.models.filter(usesXGBoostContainer);
  if (variants.length === 0) return { problems: [], warnings: [] };
  const problems: string[] = [];
  const warnings: string[] = [];
  const names = variants.map((v) => `"${v.variant}"`).join(', ');
  const contentType = mediaType(request.transform.ContentType);
  if (xgboostRequestFormatOf(contentType) === undefined) {
    problems.push(
      `transform.ContentType ${request.transform.ContentType}: the SageMaker XGBoost container (variant ${names}) reads text/csv and text/libsvm only and answers 415 to ${contentType}; send CSV (ContentType "text/csv")`,
    );
  }
  const payload = request.transform.MaxPayloadInMB;
  for (const variant of variants) {
    const raised =
      request.transform.Environment.MAX_CONTENT_LENGTH ?? variant.environment?.MAX_CONTENT_LENGTH;
    const limitMiB = Math.trunc(
      (raised === undefined ? XGBOOST_DEFAULT_MAX_CONTENT_LENGTH : Number(raised)) / (1024 * 1024),
    );
    if (payload === 0 || payload > limitMiB) {
      warnings.push(
        `transform.MaxPayloadInMB ${payload}: the SageMaker XGBoost container of variant "${variant.variant}" refuses requests over ${limitMiB} MiB (MAX_CONTENT_LENGTH) with 413; set MaxPayloadInMB to ${limitMiB} or less, or raise MAX_CONTENT_LENGTH in the model's environment`,
      );
    }
  }
  return { problems, warnings };
}

/**
 * Checks of a run request against the deployment's safety settings (on AWS: the inputPrefix
 * and imageRepositories parameters). They run in BuildManifest before any model is created or job
 * started; locally the settings are unset and nothing is checked. The same allow-list limits the
 * SageMaker execution role's ECR pulls, so this check is the early, readable half of the rule.
 *
 * @throws InvalidInputError naming the request field, the allowed values and the fix.
 */
function checkRequestAgainstDeployment(
  request: RunRequest,
  settings: Pick<PipelineSettings, 'inputPrefixUri' | 'imageRepositories'>,
): void {
  const prefix = settings.inputPrefixUri;
  if (prefix !== undefined && !request.input.startsWith(prefix)) {
    throw new InvalidInputError(
      `input ${request.input} is outside this deployment's input prefix ${prefix}: copy the data under it (runs may read only there)`,
    );
  }
  const allowed = settings.imageRepositories;
  if (allowed === undefined) return;
  for (const [index, model] of request.models.entries()) {
    if (model.image === undefined) continue;
    if (!allowed.some((entry) => imageAllowed(model.image as string, entry))) {
      throw new InvalidInputError(
        `models[${index}].image ${model.image} is not in an allowed repository (${allowed.join(', ')}): use an image from one of them, or add its repository to the imageRepositories deployment parameter`,
      );
    }
  }
}

/**
 * Whether an image URI (`<registry>/<repository>[:tag|@digest]`) lies in an allow-list entry
 * (`<registry>/<repository>`, or `<registry>/*` for any repository of the registry).
 *
 * @example imageAllowed('683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
 *   '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost') === true
 */
export function imageAllowed(image: string, entry: string): boolean {
  const slash = image.indexOf('/');
  if (slash < 0) return false;
  const registry = image.slice(0, slash);
  const repository = image
    .slice(slash + 1)
    .replace(/@.*$/, '')
    .replace(/:[^/]*$/, '');
  const entrySlash = entry.indexOf('/');
  const entryRegistry = entry.slice(0, entrySlash);
  const entryRepository = entry.slice(entrySlash + 1);
  if (registry !== entryRegistry) return false;
  return entryRepository === '*' || entryRepository === repository;
}
