/** Record counting and content hashing, to prove a run lost and duplicated nothing. */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatPredictions, parseCsvRecords } from '../../src/model-server/records.js';
import type { XGBoostModel } from '../../src/model-server/xgboost-model.js';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The non-empty lines of a text (a trailing `\r` dropped), as the Line splitter sees records. */
export function recordLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line !== '');
}

/**
 * One digest for a multiset of records: equal exactly when both hold the same records the same number
 * of times, whatever the order.
 */
export function multisetDigest(records: readonly string[]): string {
  return sha256(
    records
      .map((r) => sha256(r))
      .sort()
      .join('\n'),
  );
}

/** The first `n` rows of the sample data (examples/sample/input), as CSV lines. */
export async function sampleLines(inputDir: string, n: number): Promise<string[]> {
  const lines: string[] = [];
  for (const file of (await readdir(inputDir)).sort()) {
    lines.push(...recordLines(await readFile(join(inputDir, file), 'utf8')));
  }
  return lines.slice(0, n);
}

/** What the model answers for these CSV records, one line each: the expected `.out` of a clean job. */
export function expectedOutput(model: XGBoostModel, lines: readonly string[]): string {
  const { values, numRows } = parseCsvRecords(Buffer.from(`${lines.join('\n')}\n`), model.numFeature);
  return formatPredictions(model, model.predictBatch(values, numRows), numRows, 'text/csv');
}

/** Every file under `dir`, relative, with `/` separators; none when `dir` does not exist. */
export async function listFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
