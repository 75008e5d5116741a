/**
 * `npm start -- runs`: the runs kept in the local home, newest first.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FailureRecord } from '../core/record-failure.js';
import { PUBLISHED_MARKER } from '../core/register-table-commit.js';
import { partitionPath, resultsTableDefinition } from '../core/results-table.js';
import { isRunId } from '../core/run-id.js';
import { statsTableDefinition } from '../core/stats-table.js';
import type { RunSummary } from '../core/summarize-run.js';
import { UsageError } from '../errors.js';
import { FileObjectStore } from '../local/file-object-store.js';
import { attemptFiles } from '../local/interrupted-runs.js';
import { LOCAL_BUCKET, LocalPipeline } from '../local/local-pipeline.js';
import { formatBytes, printRows, type QueryFormat } from './output.js';

/**
 * A run's folder in a local home, `s3/<bucket>/runs/<runId>/` (its summary, failure, reports and
 * scratch); with no run id, the folder of all runs.
 */
export function localRunFolder(home: string, runId = ''): string {
  return join(home, 's3', LOCAL_BUCKET, 'runs', runId);
}

/** One run as `runs` lists it. */
export interface RunListing {
  run_id: string;
  /**
   * SUCCEEDED: its results are published. `SUCCEEDED (last attempt FAILED)`: they still are, though a
   * later re-run of the id failed (its failure.json and failure-report.html sit beside the report).
   * `SUCCEEDED (last attempt interrupted)`: they still are, though a later re-run was stopped (Ctrl-C,
   * a kill) and left an unpublished attempt, which the next run in the home removes. INCOMPLETE: no
   * summary or failure, the run was interrupted (or is running).
   */
  status:
    | 'SUCCEEDED'
    | 'SUCCEEDED (last attempt FAILED)'
    | 'SUCCEEDED (last attempt interrupted)'
    | 'FAILED'
    | 'INCOMPLETE';
  /** When it finished or failed; null for an INCOMPLETE run, which did neither. */
  finished: string | null;
  records: number | null;
  variants: string | null;
  /** Bytes the run takes in the home: its result and statistics files, its scratch, its input copy. */
  bytes: number;
  detail: string | null;
}

/**
 * Reads every run folder of the home (`s3/<bucket>/runs/<id>/`): a run with a summary is published
 * (a newer failure.json is a failed re-run, which left it so); one with only a failure.json failed.
 */
export async function listRuns(home: string): Promise<RunListing[]> {
  const ids = await readdir(localRunFolder(home), { withFileTypes: true }).catch(() => []);
  const runs: RunListing[] = [];
  // The order: when each run finished, or for an INCOMPLETE one (no finish to show) its folder's time.
  const order = new Map<RunListing, string>();
  for (const entry of ids) {
    if (!entry.isDirectory()) continue;
    const dir = localRunFolder(home, entry.name);
    const bytes = await runBytes(home, entry.name);
    const summary = await readJson<Omit<RunSummary, 'finishedAt'> & { finishedAt?: string }>(
      join(dir, 'summary.json'),
    );
    const failure = await readJson<FailureRecord>(join(dir, 'failure.json'));
    // The times the files state, not their mtimes: RecordFailure rewrites a published summary.json when
    // it puts it back after a failed re-run. A summary from before `finishedAt` has only its mtime.
    const finished = summary && (summary.value.finishedAt ?? summary.mtime.toISOString());
    const failedAt = failure && (failure.value.recordedAt ?? failure.mtime.toISOString());
    const failedLast = failure && (!finished || (failedAt ?? '') > finished);
    if (summary) {
      // A failed re-run publishes nothing and takes nothing away: the summary's results are the run's.
      const variants = [...new Set(summary.value.partitions.map((p) => p.values[p.values.length - 1]))];
      // An attempt left unpublished is the last one: any run's opening of the home removes them. (Not
      // a failed attempt whose files RecordFailure had to keep: that one failed, and says so.)
      const left = await leftoverAttemptBytes(home, entry.name, failure?.value.attempt?.attemptId);
      runs.push({
        run_id: entry.name,
        status:
          left !== undefined
            ? 'SUCCEEDED (last attempt interrupted)'
            : failedLast
              ? 'SUCCEEDED (last attempt FAILED)'
              : 'SUCCEEDED',
        finished: finished ?? null,
        records: variants.length > 0 ? summary.value.recordsIn / variants.length : summary.value.recordsIn,
        variants: variants.join(', '),
        bytes,
        detail:
          left !== undefined
            ? `last attempt was interrupted; the next run in this home removes what it left (${formatBytes(left)})`
            : failedLast && failure
              ? `last attempt failed in ${failure.value.failedState}: ${failure.value.message}`
              : `table ${summary.value.table}`,
      });
    } else if (failure) {
      runs.push({
        run_id: entry.name,
        status: 'FAILED',
        finished: failedAt ?? null,
        records: null,
        variants: null,
        bytes,
        detail: `${failure.value.failedState}: ${failure.value.message}`,
      });
    } else {
      const info = await stat(dir);
      const run: RunListing = {
        run_id: entry.name,
        status: 'INCOMPLETE',
        // It never finished: the folder's time is only when it was last written to.
        finished: null,
        records: null,
        variants: null,
        bytes,
        detail: 'no summary or failure (running, or killed)',
      };
      runs.push(run);
      order.set(run, info.mtime.toISOString());
    }
  }
  // ISO 8601 times: their code-unit order is time order (no locale needed to compare them).
  return runs.sort((a, b) => {
    const [x, y] = [order.get(a) ?? a.finished ?? '', order.get(b) ?? b.finished ?? ''];
    return x < y ? 1 : x > y ? -1 : 0;
  });
}

/**
 * The bytes of the run's attempts that were never published (no `published.json`) and left files: a
 * re-run stopped by Ctrl-C or a kill. Counted as the next run's cleanup counts what it frees (scratch
 * and result files: {@link attemptFiles}), so the two say the same size. Undefined when there is none.
 */
async function leftoverAttemptBytes(
  home: string,
  runId: string,
  failedAttempt?: string,
): Promise<number | undefined> {
  const dir = localRunFolder(home, runId);
  const attempts = await readdir(join(dir, 'attempts'), { withFileTypes: true }).catch(() => []);
  const store = new FileObjectStore(join(home, 's3'));
  const runPrefix = `s3://${LOCAL_BUCKET}/runs/${runId}/`;
  let bytes: number | undefined;
  for (const attempt of attempts) {
    if (!attempt.isDirectory() || !/^[0-9a-f]{12}$/.test(attempt.name) || attempt.name === failedAttempt)
      continue;
    if (existsSync(join(dir, 'attempts', attempt.name, PUBLISHED_MARKER))) continue;
    const left = await attemptFiles(store, runPrefix, attempt.name).catch(() => undefined);
    if (left && left.files > 0) bytes = (bytes ?? 0) + left.bytes;
  }
  return bytes;
}

async function readJson<T>(path: string): Promise<{ value: T; mtime: Date } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { value: JSON.parse(text) as T, mtime: info.mtime };
  } catch {
    return undefined;
  }
}

/**
 * The folders of one run in the store (`s3://<bucket>/…/`, each ending in `/`): its partitions' folders
 * in the results and statistics tables (every run date it wrote under, registered or not: a failed
 * attempt's files too), and runs/<id>/: its scratch, summary and reports, and the header-free copies of
 * its input (in each attempt's scratch, `attempts/<attemptId>/input/`). The user's own input, read in
 * place through a link, is in none of them.
 */
async function runFolders(home: string, runId: string): Promise<string[]> {
  const bucket = `s3://${LOCAL_BUCKET}/`;
  const folders: string[] = [];
  for (const definition of await runTables(home, runId)) {
    const tableDir = join(home, 's3', LOCAL_BUCKET, definition.location.slice(bucket.length));
    for (const entry of await readdir(tableDir).catch(() => [] as string[])) {
      if (!entry.startsWith('run_date=')) continue;
      const runDate = entry.slice('run_date='.length);
      folders.push(partitionPath(definition.location, definition.partitionKeys, [runDate, runId]));
    }
  }
  folders.push(`${bucket}runs/${runId}/`);
  return folders;
}

/**
 * The results and statistics tables a run may have written to: the default, its last request's table,
 * and its published summary's (a failed re-run's request.json may name another table).
 */
async function runTables(home: string, runId: string, database = 'local') {
  const bucket = `s3://${LOCAL_BUCKET}/`;
  const dir = localRunFolder(home, runId);
  const request = await readJson<{ results?: { table?: string } }>(join(dir, 'request.json'));
  const summary = await readJson<{ table?: string }>(join(dir, 'summary.json'));
  const tables = new Set(['predictions', request?.value.results?.table ?? 'predictions']);
  const published = summary?.value.table?.split('.')[1];
  if (published) tables.add(published);
  return [...tables].flatMap((table) => {
    const results = resultsTableDefinition({ database, table, resultsPrefix: `${bucket}results/` });
    return [results, statsTableDefinition(results)];
  });
}

/** Bytes of the files under a store folder (links are not followed: a linked input is not the run's). */
async function folderBytes(home: string, folder: string): Promise<number> {
  const dir = join(home, 's3', folder.slice('s3://'.length));
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let bytes = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    bytes += (await stat(join(entry.parentPath, entry.name)).catch(() => undefined))?.size ?? 0;
  }
  return bytes;
}

/** Bytes one run takes in the home: what `runs rm` would free. */
export async function runBytes(home: string, runId: string): Promise<number> {
  let bytes = 0;
  for (const folder of await runFolders(home, runId)) bytes += await folderBytes(home, folder);
  return bytes;
}

/**
 * Prints the runs, with the space each takes (the table view: a total, and how to free it); resolves
 * with exit code 0. csv and json give the size as `bytes`, a number.
 */
export async function runsListCommand(home: string, format: QueryFormat): Promise<number> {
  const runs = await listRuns(home);
  if (runs.length === 0 && format === 'table') {
    process.stdout.write(`No runs in ${home}\n`);
    return 0;
  }
  if (format !== 'table') {
    const columns = ['run_id', 'status', 'finished', 'records', 'variants', 'bytes', 'detail'];
    printRows(
      process.stdout,
      columns,
      runs.map((r) => ({ ...r })),
      format,
    );
    return 0;
  }
  const columns = ['run_id', 'status', 'finished', 'records', 'variants', 'size', 'detail'];
  printRows(
    process.stdout,
    columns,
    runs.map(({ bytes, ...r }) => ({ ...r, size: formatBytes(bytes) })),
    format,
  );
  const total = runs.reduce((sum, r) => sum + r.bytes, 0);
  process.stdout.write(
    `\n${runs.length} run(s) take ${formatBytes(total)} in ${home}; npm start -- runs rm ID deletes one (its files and its partitions in the catalog).\n`,
  );
  return 0;
}

/** What `runs rm` removed. */
export interface RemovedRun {
  partitions: number;
  files: number;
  /** Bytes of the files deleted. */
  bytes: number;
}

/**
 * Deletes one run cleanly: first its partitions from the catalog (results and statistics tables, one
 * switch to "no partitions" per run date, so queries stop seeing it at once), then its result and
 * statistics files, and runs/<id>/ (scratch, summary, reports, and the header-free copies of its input
 * in its attempts' scratch). Files of the user's own input (read in place) are never touched.
 *
 * @throws UsageError when the home holds no such run.
 */
export async function removeRun(home: string, runId: string): Promise<RemovedRun> {
  if (!isRunId(runId)) throw new UsageError(`Not a run id: "${runId}"`);
  const pipeline = await LocalPipeline.open({ home });
  try {
    const { store, catalog, settings } = pipeline;
    let partitions = 0;
    for (const definition of await runTables(home, runId, settings.database)) {
      const registered = (await catalog.listPartitions(definition.database, definition.name)).filter(
        (p) => p.values[1] === runId,
      );
      for (const runDate of new Set(registered.map((p) => p.values[0] as string))) {
        await catalog.switchRunPartitions(definition, [runDate, runId], []);
      }
      partitions += registered.length;
    }
    const folders = await runFolders(home, runId);
    let bytes = 0;
    for (const folder of folders) bytes += await folderBytes(home, folder);
    let files = 0;
    for (const folder of folders) {
      for await (const object of store.list(folder)) {
        await store.delete(object.uri);
        files += 1;
      }
      await rm(store.directoryOf(folder), { recursive: true, force: true });
    }
    if (partitions === 0 && files === 0) {
      throw new UsageError(`No run "${runId}" in ${home}: npm start -- runs lists the runs kept`);
    }
    return { partitions, files, bytes };
  } finally {
    await pipeline.close();
  }
}

/** `runs rm ID`: resolves with exit code 0 once the run is gone. */
export async function runsRemoveCommand(home: string, runId: string): Promise<number> {
  const removed = await removeRun(home, runId);
  process.stdout.write(
    `Removed run ${runId}: ${removed.partitions} partition(s) unregistered, ${removed.files} file(s) deleted, ${formatBytes(removed.bytes)} freed\n`,
  );
  return 0;
}
