import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { runCli } from '../helpers/cli.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/cli');
const MODEL = join(FIXTURES, 'model.json');

/**
 * Input files with nothing to score (scripts/make_cli_fixtures.py: pandas' header of an empty frame, a
 * 0-byte file) are usage errors before anything runs: exit 2, the file named with the fix, no run
 * folder written and nothing in `runs`.
 */
describe('a local input with no records', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cli-bad-input-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function refused(fixture: string): Promise<{ file: string; stderr: string }> {
    const home = join(work, `home-${fixture}`);
    const file = join(work, fixture);
    await copyFile(join(FIXTURES, fixture), file);
    const result = await runCli(['run', file, '--model', MODEL, '--run-id', 'bad'], home);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).not.toContain('FAILED');
    expect(existsSync(join(home, 's3/local-pipeline/runs/bad'))).toBe(false);
    const runs = await runCli(['runs', '--format', 'json'], home);
    expect(runs.stdout).not.toContain('"bad"');
    return { file, stderr: result.stderr };
  }

  it('a CSV with only its header line (df.iloc[:0].to_csv()) names the file: header, no records', async () => {
    const { file, stderr } = await refused('header-only.csv');
    expect(stderr).toContain(
      `${file} has a header line but no records (line 1 names 31 columns; no data line follows): ` +
        'write the rows to score under it',
    );
    expect(stderr).not.toContain('non-numeric value');
  }, 120_000);

  it('an empty file names the file and says what to do', async () => {
    const { file, stderr } = await refused('empty.csv');
    expect(stderr).toContain(`${file} is empty (0 bytes): there are no records to score. Give the file`);
    expect(stderr).not.toContain('Input object is empty');
  }, 120_000);
});

/**
 * Records of the wrong width, found by the model server once the run started (exit 1): the message
 * counts fields as the user's file has them (index column included) and says how to fix it.
 */
describe('a local input with records of the wrong width', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cli-bad-width-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function failed(fixture: string): Promise<{ file: string; stderr: string }> {
    const file = join(work, fixture);
    await copyFile(join(FIXTURES, fixture), file);
    const result = await runCli(['run', file, '--model', MODEL], join(work, `home-${fixture}`));
    expect(result.code, result.stderr).toBe(1);
    return { file, stderr: result.stderr };
  }

  it('a ragged line: counted with the index column, against the header, with the fix', async () => {
    const { file, stderr } = await failed('ragged.csv');
    expect(stderr).toContain(`${file} line 21 `);
    expect(stderr).toContain(
      'Record 20 has 28 fields but the header has 31 columns: every line needs the same number of fields. ' +
        "Check that line's quoting and delimiters",
    );
    expect(stderr).not.toContain('27 values');
  }, 120_000);

  it('a headerless file one feature short: names the file and says what to write', async () => {
    const { file, stderr } = await failed('noheader-29.csv');
    expect(stderr).toContain(file);
    expect(stderr).toContain('Record 1 has 29 values; the model expects 30');
    expect(stderr).toContain(
      "Write all 30 of the model's features in every record, in the order it was trained on; the file has no header",
    );
  }, 120_000);
});
