import { InvalidInputError } from '../errors.js';
import type { PipelineSettings, RunRequest } from './run-request.js';

/**
 * Plan-time checks of a run request against the deployment's safety settings (on AWS: the inputPrefix
 * and imageRepositories parameters). They run in BuildManifest before any model is created or job
 * started; locally the settings are unset and nothing is checked. The same allow-list limits the
 * SageMaker execution role's ECR pulls, so this check is the early, readable half of the rule.
 *
 * @throws InvalidInputError naming the request field, the allowed values and the fix.
 */
export function checkRequestAgainstDeployment(request: RunRequest, settings: PipelineSettings): void {
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
