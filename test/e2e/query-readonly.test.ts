import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('npm start -- query cannot change the catalog or the published data', () => {
  let home: string;

  beforeAll(async () => {
    // A home whose path holds [ ] * ? (issue 11, point 7): the sample runs end to end and queries answer.
    home = await mkdtemp(join(tmpdir(), 'query-readonly-[a]*?-'));
    const sample = await runCli([], home);
    expect(sample.stderr).toBe('');
    expect(sample.code).toBe(0);
    expect((await lstat(join(home, 'catalog.duckdb'))).isFile()).toBe(true);
  }, 180_000);
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  const count = async () => {
    const { stdout, code } = await runCli(['query', 'SELECT count(*) AS n FROM predictions'], home);
    expect(code).toBe(0);
    return stdout;
  };

  it('refuses DELETE on the catalog with a clear error, and the published run is intact', async () => {
    const before = await count();
    expect(before).toMatch(/569/);
    for (const sql of [
      'DELETE FROM _pipeline_catalog.partitions WHERE true',
      'DROP VIEW local.predictions',
      `COPY (SELECT 1 AS x) TO '${join(home, 's3', 'local-pipeline', 'results', 'x.json')}'`,
    ]) {
      const refused = await runCli(['query', sql], home);
      expect(refused.code, sql).not.toBe(0);
      expect(refused.stderr, sql).toMatch(/Only read statements \(SELECT, WITH … SELECT, EXPLAIN\)/);
    }
    expect(await count()).toBe(before);
  }, 120_000);
});
