/** Record counting and content hashing, to prove a run lost and duplicated nothing. */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

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

/** Every file under `dir`, relative, with `/` separators; none when `dir` does not exist. */
export async function listFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
