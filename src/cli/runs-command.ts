/**
 * `npm start -- runs`: the runs kept in the local home, newest first.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FailureRecord } from '../core/record-failure.js';
import type { RunSummary } from '../core/summarize-run.js';
import { LOCAL_BUCKET } from '../local/local-pipeline.js';
import { printRows, type QueryFormat } from './output.js';

/** One run as `runs` lists it. */
export interface RunListing {
  run_id: string;
  status: 'SUCCEEDED' | 'FAILED' | 'INCOMPLETE';
  finished: string | null;
  records: number | null;
  variants: string | null;
  detail: string | null;
}

/** Reads every run folder of the home (`s3/<bucket>/runs/<id>/`): its summary or failure, whichever is newer. */
export async function listRuns(home: string): Promise<RunListing[]> {
  const runsDir = join(home, 's3', LOCAL_BUCKET, 'runs');
  const ids = await readdir(runsDir, { withFileTypes: true }).catch(() => []);
  const runs: RunListing[] = [];
  for (const entry of ids) {
    if (!entry.isDirectory()) continue;
    const dir = join(runsDir, entry.name);
    const summary = await readJson<RunSummary & { finishedAt?: string }>(join(dir, 'summary.json'));
    const failure = await readJson<FailureRecord>(join(dir, 'failure.json'));
    const useFailure = failure && (!summary || failure.mtime > summary.mtime);
    if (useFailure && failure) {
      runs.push({
        run_id: entry.name,
        status: 'FAILED',
        finished: failure.value.recordedAt ?? failure.mtime.toISOString(),
        records: null,
        variants: null,
        detail: `${failure.value.failedState}: ${failure.value.message}`,
      });
    } else if (summary) {
      const variants = [...new Set(summary.value.partitions.map((p) => p.values[p.values.length - 1]))];
      runs.push({
        run_id: entry.name,
        status: 'SUCCEEDED',
        finished: summary.mtime.toISOString(),
        records: variants.length > 0 ? summary.value.recordsIn / variants.length : summary.value.recordsIn,
        variants: variants.join(', '),
        detail: `table ${summary.value.table}`,
      });
    } else {
      const info = await stat(dir);
      runs.push({
        run_id: entry.name,
        status: 'INCOMPLETE',
        finished: info.mtime.toISOString(),
        records: null,
        variants: null,
        detail: 'no summary or failure (running, or killed)',
      });
    }
  }
  return runs.sort((a, b) => (b.finished ?? '').localeCompare(a.finished ?? ''));
}

async function readJson<T>(path: string): Promise<{ value: T; mtime: Date } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { value: JSON.parse(text) as T, mtime: info.mtime };
  } catch {
    return undefined;
  }
}

/** Prints the runs; resolves with exit code 0. */
export async function runsListCommand(home: string, format: QueryFormat): Promise<number> {
  const runs = await listRuns(home);
  if (runs.length === 0 && format === 'table') {
    process.stdout.write(`No runs in ${home}\n`);
    return 0;
  }
  const columns = ['run_id', 'status', 'finished', 'records', 'variants', 'detail'];
  printRows(
    process.stdout,
    columns,
    runs.map((r) => ({ ...r })),
    format,
  );
  return 0;
}
