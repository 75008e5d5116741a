import type { TransformProgressEvent } from './transform-engine.js';

/** Where progress goes: a terminal gets one redrawn bar line per job, anything else plain log lines. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): void;
}

/**
 * Turns the engine's progress events into what a person watching wants: on a terminal, a bar per
 * transform job with records done, rate and ETA (from bytes read, the one total known up front); in a
 * log, one line per finished file, so CI logs stay readable.
 */
export function createTransformProgress(output: ProgressOutput, now: () => number = () => performance.now()) {
  const started = new Map<string, number>();
  let lastDraw = 0;
  return (event: TransformProgressEvent): void => {
    switch (event.type) {
      case 'job-started':
        started.set(event.jobName, now());
        return;
      case 'batch-written': {
        if (!output.isTTY) return;
        const t = now();
        // Redrawing on every batch would spend more time on the terminal than on the work.
        if (t - lastDraw < 100 && event.jobBytesRead < event.jobBytesTotal) return;
        lastDraw = t;
        const seconds = Math.max((t - (started.get(event.jobName) ?? t)) / 1000, 1e-3);
        const fraction = event.jobBytesTotal > 0 ? event.jobBytesRead / event.jobBytesTotal : 1;
        const rate = event.jobRecords / seconds;
        const eta = fraction > 0 ? (seconds * (1 - fraction)) / fraction : Number.NaN;
        const file = event.inputUri.slice(event.inputUri.lastIndexOf('/') + 1);
        const line = `  ${bar(fraction, 20)} ${(fraction * 100).toFixed(0).padStart(3)}% ${event.jobRecords.toLocaleString('en-US')} records ${formatRate(rate)} ETA ${formatSeconds(eta)} ${file}`;
        output.write(`\r${line.slice(0, (output.columns ?? 120) - 1).padEnd((output.columns ?? 120) - 1)}`);
        return;
      }
      case 'object-completed':
        if (!output.isTTY) {
          const file = event.inputUri.slice(event.inputUri.lastIndexOf('/') + 1);
          output.write(`  ${file}: ${event.records.toLocaleString('en-US')} records transformed\n`);
        }
        return;
      case 'job-ended':
        if (output.isTTY) output.write('\r\u001b[2K');
        started.delete(event.jobName);
        return;
      default:
        return;
    }
  };
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
