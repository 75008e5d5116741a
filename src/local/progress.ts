import { formatCount } from '../core/number-format.js';
import type { ParseProgressEvent } from '../core/result-parsing.js';
import type { QueryProgressEvent } from '../core/run-queries.js';
import type { TransformProgressEvent } from './transform-engine.js';

/** Where progress goes: a terminal gets redrawn lines, one per running job; anything else plain log lines. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): void;
}

export interface ProgressOptions {
  /** Clock in ms (tests pass a fake). */
  now?: () => number;
  /** Without a terminal: a line per running job at least this often (ms). Default 5000. */
  logIntervalMs?: number;
}

/**
 * Progress for a run, as a person watching wants it. On a terminal, one line per running transform job
 * and per job being parsed, labelled with its variant and file (records, share of bytes read, rate, ETA),
 * and one per running query, redrawn in place, with finished files, queries and stage lines printed above
 * them. In a log (CI, a pipe), a line per finished file and query and, for big files, one every
 * `logIntervalMs` while it is transformed or parsed, so a log never goes quiet for long.
 */
export class RunProgress {
  private readonly output: ProgressOutput;
  private readonly now: () => number;
  private readonly logIntervalMs: number;
  private readonly variants = new Map<string, string>();
  /** The live lines: transform jobs by job name, parses by `parse:<variant>/<shard>`, queries by `query:<name>`. */
  private readonly jobs = new Map<string, { started: number; line: string; lastLog: number }>();
  private drawnLines = 0;
  private lastDraw = 0;
  /** Input records transformed, per variant. */
  readonly recordsByVariant = new Map<string, number>();

  constructor(output: ProgressOutput, options: ProgressOptions = {}) {
    this.output = output;
    this.now = options.now ?? (() => performance.now());
    this.logIntervalMs = options.logIntervalMs ?? 5000;
  }

  /** Names the variant a transform job belongs to (from the job's `pipeline-variant` tag). */
  labelJob(jobName: string, variant: string): void {
    this.variants.set(jobName, variant);
  }

  /** The variant of a job named with labelJob, if any. */
  variantOf(jobName: string): string | undefined {
    return this.variants.get(jobName);
  }

  /** Prints a line of its own (a stage starting or ending) above the running jobs' lines. */
  print(line: string): void {
    this.clear();
    this.output.write(`${line}\n`);
    this.draw();
  }

  /** The engine's progress callback. */
  readonly onTransformEvent = (event: TransformProgressEvent): void => {
    switch (event.type) {
      case 'job-started':
        this.jobs.set(event.jobName, {
          started: this.now(),
          line: `${this.label(event.jobName)} starting`,
          lastLog: this.now(),
        });
        this.draw();
        return;
      case 'batch-written': {
        const job = this.jobs.get(event.jobName);
        if (!job) return;
        const t = this.now();
        const seconds = Math.max((t - job.started) / 1000, 1e-3);
        const fraction = event.bytesTotal > 0 ? event.bytesRead / event.bytesTotal : 1;
        const jobFraction = event.jobBytesTotal > 0 ? event.jobBytesRead / event.jobBytesTotal : 1;
        const rate = event.jobRecords / seconds;
        const eta = jobFraction > 0 ? (seconds * (1 - jobFraction)) / jobFraction : Number.NaN;
        const file = fileName(event.inputUri);
        job.line = `${this.label(event.jobName)} ${bar(fraction, 16)} ${percent(fraction)} ${file}: ${formatCount(event.records)} records, ${formatRate(rate)}, ETA ${formatSeconds(eta)}`;
        if (this.output.isTTY) {
          // Redrawing on every batch would spend more time on the terminal than on the work.
          if (t - this.lastDraw >= 100) this.draw();
        } else if (t - job.lastLog >= this.logIntervalMs) {
          job.lastLog = t;
          this.output.write(
            `${this.label(event.jobName)} ${file}: ${formatCount(event.records)} records so far (${percent(fraction).trim()} read)\n`,
          );
        }
        return;
      }
      case 'object-completed': {
        const variant = this.variants.get(event.jobName) ?? '?';
        this.recordsByVariant.set(variant, (this.recordsByVariant.get(variant) ?? 0) + event.records);
        const job = this.jobs.get(event.jobName);
        if (job) job.lastLog = this.now();
        this.print(
          `${this.label(event.jobName)} ${fileName(event.inputUri)}: ${formatCount(event.records)} records transformed`,
        );
        return;
      }
      case 'job-ended':
        this.clear();
        this.jobs.delete(event.jobName);
        this.draw();
        return;
      default:
        return;
    }
  };

  /** ParseResults' progress callback: a line per job being parsed, as for a transform job. */
  readonly onParseEvent = (event: ParseProgressEvent): void => {
    const key = parseKey(event.variant, event.shardId);
    const label = `  [${event.variant}] parsing`;
    const file = fileName(event.inputUri);
    const t = this.now();
    let job = this.jobs.get(key);
    if (!job) {
      job = { started: t, line: '', lastLog: t };
      this.jobs.set(key, job);
    }
    const fraction = event.bytesTotal > 0 ? Math.min(event.bytesRead / event.bytesTotal, 1) : 0;
    if (event.type === 'object-started') {
      job.line = `${label} ${file}${event.objects > 1 ? ` (file ${event.object} of ${event.objects})` : ''}…`;
      this.draw();
      return;
    }
    const seconds = Math.max((t - job.started) / 1000, 1e-3);
    const jobFraction = (event.object - 1 + fraction) / Math.max(event.objects, 1);
    const eta = jobFraction > 0 ? (seconds * (1 - jobFraction)) / jobFraction : Number.NaN;
    const records = formatCount(event.records);
    job.line = `${label} ${bar(fraction, 16)} ${percent(fraction)} ${file}: ${records} records, ${formatRate(event.jobRecords / seconds)}, ETA ${formatSeconds(eta)}`;
    if (this.output.isTTY) {
      if (t - this.lastDraw >= 100) this.draw();
    } else if (event.type === 'records-joined' && t - job.lastLog >= this.logIntervalMs) {
      job.lastLog = t;
      this.output.write(`${label} ${file}: ${records} records so far (${percent(fraction).trim()} read)\n`);
    }
  };

  /** Removes a parsed job's line (its ParseResults state ended, well or not). */
  parseEnded(variant: string, shardId: string): void {
    this.clear();
    this.jobs.delete(parseKey(variant, shardId));
    this.draw();
  }

  /** RunQueries' progress callback: each query named as it starts, and as it ends with its time. */
  readonly onQueryEvent = (event: QueryProgressEvent): void => {
    const key = `query:${event.name}`;
    if (event.type === 'query-started') {
      this.jobs.set(key, {
        started: this.now(),
        line: `  query ${event.name} running…`,
        lastLog: this.now(),
      });
      if (this.output.isTTY) this.draw();
      else this.output.write(`  query ${event.name} started\n`);
      return;
    }
    const started = this.jobs.get(key)?.started ?? this.now();
    this.clear();
    this.jobs.delete(key);
    const took = `${((this.now() - started) / 1000).toFixed(2)}s`;
    this.print(
      event.type === 'query-finished'
        ? `  query ${event.name}: ${formatCount(event.rows)} row${event.rows === 1 ? '' : 's'} (${took})`
        : `  query ${event.name} failed (${took})`,
    );
  };

  private label(jobName: string): string {
    return `  [${this.variants.get(jobName) ?? jobName}]`;
  }

  /** Erases the running jobs' lines (terminal only). */
  private clear(): void {
    if (!this.output.isTTY || this.drawnLines === 0) return;
    this.output.write(`\u001b[${this.drawnLines}A\r\u001b[0J`);
    this.drawnLines = 0;
  }

  /** Draws one line per running job below everything printed (terminal only). */
  private draw(): void {
    if (!this.output.isTTY) return;
    this.clear();
    // A terminal that reports no size (0 columns) gets the usual width.
    const width = (this.output.columns || 120) - 1;
    let text = '';
    for (const job of this.jobs.values()) text += `${job.line.slice(0, width)}\n`;
    if (text !== '') this.output.write(text);
    this.drawnLines = this.jobs.size;
    this.lastDraw = this.now();
  }
}

/**
 * The engine's progress callback alone, for callers that only want transform progress (bench, tests).
 */
export function createTransformProgress(output: ProgressOutput, now?: () => number) {
  return new RunProgress(output, now ? { now } : {}).onTransformEvent;
}

function parseKey(variant: string, shardId: string): string {
  return `parse:${variant}/${shardId}`;
}

function fileName(uri: string): string {
  return uri.slice(uri.lastIndexOf('/') + 1);
}

function percent(fraction: number): string {
  return `${(Math.min(Math.max(fraction, 0), 1) * 100).toFixed(0).padStart(3)}%`;
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function formatRate(recordsPerSecond: number): string {
  if (recordsPerSecond >= 1e6) return `${(recordsPerSecond / 1e6).toFixed(1)}M rec/s`;
  if (recordsPerSecond >= 1e3) return `${(recordsPerSecond / 1e3).toFixed(1)}k rec/s`;
  return `${recordsPerSecond.toFixed(0)} rec/s`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}
