import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/cli/output.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { queryJson, runCli } from '../helpers/cli.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/cli');
const MODEL = join(FIXTURES, 'model.json');

describe('npm start -- runs, and runs rm ID', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-runs-'));
    for (const runId of ['keep', 'drop']) {
      const result = await runCli(
        ['run', join(FIXTURES, 'test.csv'), '--model', MODEL, '--run-id', runId],
        home,
      );
      if (result.code !== 0) throw new Error(`run ${runId} failed: ${result.stderr}`);
    }
  }, 240_000);
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  const count = async (runId: string) =>
    (
      await queryJson<{ n: number }>(home, 'SELECT count(*) AS n FROM predictions WHERE run_id = ?', [runId])
    )[0]?.n;

  /** Bytes of the files in the store whose path names the run (as `du` would count them, links not followed). */
  const storeBytesOf = async (runId: string) => {
    const s3 = join(home, 's3/local-pipeline');
    let bytes = 0;
    for (const f of (await readdir(s3, { recursive: true })).map(String)) {
      if (
        !(
          f.includes(`run_id=${runId}/`) ||
          f.startsWith(`runs/${runId}/`) ||
          f.startsWith(`incoming/${runId}/`)
        )
      )
        continue;
      const info = await lstat(join(s3, f));
      if (info.isFile()) bytes += info.size;
    }
    return bytes;
  };

  it('lists the runs with the space each takes, then deletes one with its partitions and files, leaving the other whole', async () => {
    const listed = await runCli(['runs', '--format', 'json'], home);
    const runs = JSON.parse(listed.stdout) as Array<{ run_id: string; status: string; bytes: number }>;
    expect(runs.map((r) => [r.run_id, r.status]).sort()).toEqual([
      ['drop', 'SUCCEEDED'],
      ['keep', 'SUCCEEDED'],
    ]);
    const dropBytes = await storeBytesOf('drop');
    expect(dropBytes).toBeGreaterThan(0);
    expect(runs.find((r) => r.run_id === 'drop')?.bytes).toBe(dropBytes);
    expect(runs.find((r) => r.run_id === 'keep')?.bytes).toBe(await storeBytesOf('keep'));
    // The table view: a size per run, the total and how to free it.
    const table = await runCli(['runs'], home);
    expect(table.stdout).toMatch(/^run_id +status +finished +records +variants +size +detail/m);
    expect(table.stdout).toMatch(/^drop +SUCCEEDED .* \d+(\.\d)? (B|KB|MB) +table local\.predictions/m);
    expect(table.stdout).toMatch(
      /^2 run\(s\) take \d+(\.\d)? (B|KB|MB) in .*; npm start -- runs rm ID deletes one/m,
    );
    expect(await count('drop')).toBe(40);

    const removed = await runCli(['runs', 'rm', 'drop'], home);
    expect(removed.stderr).toBe('');
    expect(removed.code).toBe(0);
    const line = /^Removed run drop: 2 partition\(s\) unregistered, \d+ file\(s\) deleted, (.*) freed$/m.exec(
      removed.stdout,
    );
    expect(line?.[1]).toBe(formatBytes(dropBytes));

    expect(await count('drop')).toBe(0);
    expect(await count('keep')).toBe(40);
    const s3 = join(home, 's3/local-pipeline');
    const everything = (await readdir(s3, { recursive: true })).map(String);
    expect(
      everything.filter(
        (f) => f.includes('run_id=drop') || f.startsWith('runs/drop') || f.startsWith('incoming/drop'),
      ),
    ).toEqual([]);
    expect(everything.some((f) => f.includes('run_id=keep/'))).toBe(true);
    expect(existsSync(join(s3, 'runs/keep/summary.json'))).toBe(true);
    const after = await runCli(['runs', '--format', 'json'], home);
    expect((JSON.parse(after.stdout) as Array<{ run_id: string }>).map((r) => r.run_id)).toEqual(['keep']);
    // The user's own file is never touched.
    expect((await readFile(join(FIXTURES, 'test.csv'), 'utf8')).startsWith(',mean radius,')).toBe(true);
  }, 240_000);

  it('says there is no such run, exit code 2', async () => {
    const result = await runCli(['runs', 'rm', 'never-ran'], home);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/No run "never-ran" in .*: npm start -- runs lists the runs kept/);
  }, 60_000);
});
