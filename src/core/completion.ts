/**
 * Completion statistics and cost basis of a run: per transform job and in total, records in, out and
 * failed, the instances it ran on and the seconds SageMaker bills for them. No price table is built
 * in: a price per instance-hour given with the run (`results.pricePerHour`, `--price-per-hour`) turns
 * seconds into money; without one the report shows seconds only.
 */

/** What the run knows about one job: ParseResults' counts and the job's description. */
export interface JobOutcome {
  variant: string;
  shardId: string;
  recordsIn: number;
  recordsOut: number;
  transformJob?: {
    TransformJobName?: string;
    /** ISO 8601 text, or epoch milliseconds (or seconds) as Step Functions may pass them. */
    TransformStartTime?: string | number;
    TransformEndTime?: string | number;
  };
}

/** The instances a job was planned with (the plan's CreateTransformJob request). */
export interface JobResources {
  TransformJobName: string;
  TransformResources?: { InstanceType?: string; InstanceCount?: number };
}

/** One job's line of the completion table. */
export interface JobCompletion {
  jobName: string;
  variant: string;
  shardId: string;
  recordsIn: number;
  recordsOut: number;
  recordsFailed: number;
  instanceType: string | undefined;
  instanceCount: number;
  /** Transform start to end, in seconds; undefined when a time is missing or unreadable. */
  seconds: number | undefined;
  /** seconds × instances: what SageMaker bills (per instance-second). */
  billableSeconds: number | undefined;
  /** billableSeconds × pricePerHour / 3600, when a price was given. */
  cost: number | undefined;
}

/** The whole run's completion statistics. */
export interface CompletionStatistics {
  jobs: JobCompletion[];
  recordsIn: number;
  recordsOut: number;
  recordsFailed: number;
  billableSeconds: number;
  /** Jobs whose billable time is unknown (missing times): the sum leaves them out. */
  jobsWithoutTimes: number;
  pricePerHour: number | undefined;
  cost: number | undefined;
}

/**
 * Builds the completion statistics of a run from its jobs' outcomes and the plan's resources.
 *
 * @example completionStatistics([{ variant: 'a', shardId: '0000', recordsIn: 10, recordsOut: 10,
 *   transformJob: { TransformJobName: 'j', TransformStartTime: 0, TransformEndTime: 60000 } }],
 *   [{ TransformJobName: 'j', TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 2 } }], 0.23)
 *   // jobs[0].billableSeconds 120, cost 120 × 0.23 / 3600
 */
export function completionStatistics(
  outcomes: readonly JobOutcome[],
  resources: readonly JobResources[],
  pricePerHour?: number,
): CompletionStatistics {
  const byName = new Map(resources.map((r) => [r.TransformJobName, r.TransformResources ?? {}]));
  const price = pricePerHour !== undefined && Number.isFinite(pricePerHour) ? pricePerHour : undefined;
  const jobs = outcomes.map((outcome): JobCompletion => {
    const jobName = outcome.transformJob?.TransformJobName ?? '';
    const planned = byName.get(jobName) ?? {};
    const instanceCount = planned.InstanceCount ?? 1;
    const start = epochMs(outcome.transformJob?.TransformStartTime);
    const end = epochMs(outcome.transformJob?.TransformEndTime);
    const seconds =
      start !== undefined && end !== undefined && end >= start ? (end - start) / 1000 : undefined;
    const billableSeconds = seconds === undefined ? undefined : seconds * instanceCount;
    return {
      jobName,
      variant: outcome.variant,
      shardId: outcome.shardId,
      recordsIn: outcome.recordsIn,
      recordsOut: outcome.recordsOut,
      recordsFailed: Math.max(0, outcome.recordsIn - outcome.recordsOut),
      instanceType: planned.InstanceType,
      instanceCount,
      seconds,
      billableSeconds,
      cost:
        billableSeconds !== undefined && price !== undefined ? (billableSeconds * price) / 3600 : undefined,
    };
  });
  const billableSeconds = sum(jobs.map((j) => j.billableSeconds ?? 0));
  return {
    jobs,
    recordsIn: sum(jobs.map((j) => j.recordsIn)),
    recordsOut: sum(jobs.map((j) => j.recordsOut)),
    recordsFailed: sum(jobs.map((j) => j.recordsFailed)),
    billableSeconds,
    jobsWithoutTimes: jobs.filter((j) => j.billableSeconds === undefined).length,
    pricePerHour: price,
    cost: price === undefined ? undefined : (billableSeconds * price) / 3600,
  };
}

/** Epoch numbers below this are seconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_LIMIT = 1e11;

/**
 * A timestamp as epoch milliseconds: ISO 8601 text (what DescribeTransformJob's JSON gives), or a
 * number of epoch milliseconds or seconds (Step Functions' `.sync` output and SDK serialisations),
 * or numeric text of either. Undefined when absent or unreadable.
 */
export function epochMs(value: string | number | Date | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    return Math.abs(value) < SECONDS_LIMIT ? value * 1000 : value;
  }
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return epochMs(Number(text));
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
