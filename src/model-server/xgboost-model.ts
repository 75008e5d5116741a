/**
 * The model the built-in server serves: one XGBoost model, or several averaged as the SageMaker XGBoost
 * container's ensemble does (serve_utils.predict: the mean of the members' predictions, or the most
 * frequent value for multi:softmax and binary:hinge). Format readers live in formats/, prediction in
 * predictor.ts; this module puts them together.
 */
import { createHash } from 'node:crypto';
import type { ModelKind } from '../core/model-labels.js';
import { InvalidInputError } from '../errors.js';
import { describeModelFile, type ModelFile, readModelFiles } from './model-artifact.js';
import type { ModelDescription } from './model-description.js';
import { CompiledBooster, type CompileOptions, OBJECTIVES } from './predictor.js';

/** The objectives the predictor implements (XGBoost 1.7's). */
export const SUPPORTED_OBJECTIVES = Object.keys(OBJECTIVES);

/**
 * What one row's output means:
 * - `binary`: one value: a probability (binary:logistic), a margin (logitraw) or 0/1 (hinge);
 * - `multiclass-probabilities`: `numClass` probabilities (multi:softprob);
 * - `multiclass-label`: the predicted class index (multi:softmax);
 * - `regression`: one value (regression, count, survival and ranking objectives).
 */
export type OutputKind = 'binary' | 'multiclass-probabilities' | 'multiclass-label' | 'regression';

/**
 * A loaded model, ready to predict.
 *
 * @example
 * ```ts
 * const model = await loadXGBoostModel('model.tar.gz');
 * const [[probability]] = model.predict([[17.99, 10.38, ...]]);
 * ```
 */
export class XGBoostModel {
  readonly objective: string;
  readonly numFeature: number;
  readonly numClass: number;
  readonly outputsPerRow: number;
  readonly outputKind: OutputKind;
  /** Trees over all members (0 for gblinear). */
  readonly numTrees: number;
  readonly featureNames: readonly string[];
  /** The first member's base_score, as saved. */
  readonly baseScore: number;
  /** Where each member came from and its format, for the start-up line. */
  readonly sources: readonly string[];
  readonly members: readonly CompiledBooster[];

  constructor(members: CompiledBooster[], sources: string[] = []) {
    const first = members[0];
    if (!first) throw new InvalidInputError('A model needs at least one booster');
    for (const member of members) {
      if (member.outputsPerRow !== first.outputsPerRow) {
        throw new InvalidInputError(
          `Ensemble members disagree: ${sources[0] ?? 'the first'} gives ${first.outputsPerRow} values a row, ` +
            `${sources[members.indexOf(member)] ?? 'another'} ${member.outputsPerRow}`,
        );
      }
    }
    this.members = members;
    this.sources = sources;
    this.objective = first.objective;
    this.numFeature = Math.max(...members.map((m) => m.numFeature));
    this.numClass = first.numClass;
    this.outputsPerRow = first.outputsPerRow;
    this.numTrees = members.reduce((sum, m) => sum + m.numTrees, 0);
    this.featureNames = first.featureNames;
    this.baseScore = first.baseScore;
    this.outputKind =
      this.objective === 'multi:softprob'
        ? 'multiclass-probabilities'
        : this.objective === 'multi:softmax'
          ? 'multiclass-label'
          : this.objective.startsWith('binary:')
            ? 'binary'
            : 'regression';
  }

  /** Builds a single model from a parsed JSON model document. */
  static fromJson(document: unknown, source = 'model'): XGBoostModel {
    return parseXGBoostModel(Buffer.from(JSON.stringify(document)), source);
  }

  /**
   * Predicts a batch of rows stored row-major in one array (`numRows × numFeatures`); NaN is a missing
   * value. Returns `numRows × outputsPerRow` numbers. Float64Array input is rounded to float32 first, as
   * XGBoost stores features as float32.
   */
  predictBatch(
    rows: Float32Array | Float64Array,
    numRows: number,
    numFeatures: number = this.numFeature,
  ): Float64Array {
    if (rows.length < numRows * numFeatures) {
      throw new InvalidInputError(
        `${numRows} rows of ${numFeatures} features need ${numRows * numFeatures} values, got ${rows.length}`,
      );
    }
    const features =
      rows instanceof Float32Array ? rows : Float32Array.from(rows.subarray(0, numRows * numFeatures));
    const [first, ...rest] = this.members as [CompiledBooster, ...CompiledBooster[]];
    const out = first.predictBatch(features, numRows, numFeatures);
    if (rest.length === 0) return out;
    const all = [out, ...rest.map((m) => m.predictBatch(features, numRows, numFeatures))];
    if (this.objective === 'multi:softmax' || this.objective === 'binary:hinge') return vote(all);
    // numpy's mean of float32 arrays over the first axis: a float32 running sum, then one float32 division.
    for (let i = 0; i < out.length; i++) {
      let sum = out[i] as number;
      for (let m = 1; m < all.length; m++) sum = Math.fround(sum + ((all[m] as Float64Array)[i] as number));
      out[i] = Math.fround(sum / all.length);
    }
    return out;
  }

  /**
   * Predicts rows given as arrays of numbers (NaN, `null` or `undefined` for a missing value). Returns one
   * array per row: `[probability]`, `[value]`, `[classIndex]`, or the class probabilities for softprob.
   */
  predict(rows: readonly (readonly (number | null | undefined)[])[]): number[][] {
    const flat = new Float32Array(rows.length * this.numFeature);
    rows.forEach((row, r) => {
      if (row.length !== this.numFeature) {
        throw new InvalidInputError(
          `Row ${r + 1} has ${row.length} features; the model expects ${this.numFeature}`,
        );
      }
      for (let f = 0; f < row.length; f++) flat[r * this.numFeature + f] = row[f] ?? Number.NaN;
    });
    const out = this.predictBatch(flat, rows.length);
    const result: number[][] = [];
    for (let r = 0; r < rows.length; r++) {
      result.push(Array.from(out.subarray(r * this.outputsPerRow, (r + 1) * this.outputsPerRow)));
    }
    return result;
  }
}

/** scipy.stats.mode over the members, per value: the most frequent, the smallest on a tie. */
function vote(all: Float64Array[]): Float64Array {
  const out = new Float64Array((all[0] as Float64Array).length);
  for (let i = 0; i < out.length; i++) {
    const counts = new Map<number, number>();
    for (const member of all) counts.set(member[i] as number, (counts.get(member[i] as number) ?? 0) + 1);
    let best = Number.POSITIVE_INFINITY;
    let bestCount = 0;
    for (const [value, count] of counts) {
      if (count > bestCount || (count === bestCount && value < best)) {
        best = value;
        bestCount = count;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Reads and compiles one model file's bytes, in any format XGBoost 1.7 loads. */
export function parseXGBoostModel(
  bytes: string | Uint8Array,
  source = 'model',
  options: CompileOptions = {},
): XGBoostModel {
  const file: ModelFile = { bytes: typeof bytes === 'string' ? Buffer.from(bytes) : bytes, source };
  return new XGBoostModel([new CompiledBooster(describeModelFile(file), source, options)], [source]);
}

/** Every model file at `path`, described (read and checked, not compiled): for plan-time checks. */
export async function describeModelArtifact(
  path: string,
): Promise<{ source: string; model: ModelDescription }[]> {
  const files = await readModelFiles(path);
  return files.map((file) => ({ source: file.source, model: describeModelFile(file) }));
}

/** What a plan-time check of a model artifact tells about the model: its kind, and its feature names. */
export interface CheckedModel extends ModelKind {
  /**
   * The feature names saved with the model (JSON and UBJSON keep them; XGBoost 1.x binary does not):
   * the first member's, as the server's ensemble reports them; empty when the model has none.
   */
  featureNames: readonly string[];
  /** The values a CSV record must have for the server: the model's feature count (an ensemble's largest). */
  numFeature: number;
}

/**
 * Artifacts this process has checked and found sound, by the digest of their files' bytes, with what
 * they said about their labels and features. A local run checks the user's file, then BuildManifest its copy in the
 * store: the same bytes, which need not be described and flattened again (5-10 ms of the sample run).
 */
const soundArtifacts = new Map<string, CheckedModel>();

/**
 * Checks, before a run, that the artifact at `path` loads and compiles as the server would load it;
 * errors name `shownAs` (the URL or path the user gave) instead of `path` (a local copy). Files this
 * process already found sound (the same bytes) are not checked again. Resolves with the model's
 * objective and class count, and the feature names saved with it, read by the server's own readers
 * from any format it serves (JSON, UBJSON, legacy binary, model.tar.gz, a directory): the first
 * member's, as the server's ensemble reports.
 */
export async function checkModelArtifact(path: string, shownAs: string = path): Promise<CheckedModel> {
  try {
    const files = await readModelFiles(path);
    const digest = artifactDigest(files);
    const known = soundArtifacts.get(digest);
    if (known) return known;
    let checked: CheckedModel | undefined;
    // Flattening checks the trees; the kernel's layout is cheap, generating JavaScript is the server's job.
    for (const file of files) {
      const model = describeModelFile(file);
      new CompiledBooster(model, file.source, { trees: 'wasm' });
      checked ??= {
        objective: model.objective,
        numClass: model.numClass,
        featureNames: model.featureNames,
        numFeature: 0,
      };
      checked.numFeature = Math.max(checked.numFeature, model.numFeature);
    }
    // readModelFiles throws when there is no file, so the loop set it.
    soundArtifacts.set(digest, checked as CheckedModel);
    return checked as CheckedModel;
  } catch (error) {
    if (error instanceof Error && shownAs !== path) error.message = error.message.split(path).join(shownAs);
    throw error;
  }
}

/**
 * Loads the model at `path` as the SageMaker XGBoost container does: a model file, a model directory
 * (/opt/ml/model) or a model.tar.gz; JSON, UBJSON or XGBoost 1.x binary; several top-level files are an
 * ensemble unless `ensemble` is false (SAGEMAKER_INFERENCE_ENSEMBLE other than "true"), when only the
 * first is loaded. Throws InvalidInputError or UnsupportedModelError naming the file.
 */
export async function loadXGBoostModel(
  path: string,
  options: { ensemble?: boolean } & CompileOptions = {},
): Promise<XGBoostModel> {
  const files = await readModelFiles(path);
  const used = options.ensemble === false ? files.slice(0, 1) : files;
  return new XGBoostModel(
    used.map((file) => new CompiledBooster(describeModelFile(file), file.source, options)),
    used.map((file) => file.source),
  );
}

/** A digest of model files' bytes, in order (the check depends on nothing else: formats are told by bytes). */
function artifactDigest(files: readonly ModelFile[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file.bytes.byteLength}:`).update(file.bytes);
  return hash.digest('hex');
}
