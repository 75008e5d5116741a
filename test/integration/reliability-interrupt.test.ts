import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_BUCKET, LocalPipeline } from '../../src/local/local-pipeline.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { type FaultyContainer, SAMPLE_INPUT_DIR, startFaultyContainer } from '../helpers/model-containers.js';
import { listFilesUnder, sampleLines, sha256 } from '../helpers/records.js';

const RECORDS = 200;

describe('Ctrl-C (SIGINT) during a re-run of a published run id', () => {
  let work: string;
  let home: string;
  let container: FaultyContainer;
  let args: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'interrupt-'));
    home = join(work, 'home');
    await writeFile(
      join(work, 'records.csv'),
      `${(await sampleLines(SAMPLE_INPUT_DIR, RECORDS)).join('\n')}\n`,
    );
    await writeFile(
      join(work, 'request.json'),
      JSON.stringify({ transform: { BatchStrategy: 'SingleRecord', MaxConcurrentTransforms: 1 } }),
    );
    container = await startFaultyContainer();
    args = [
      'run',
      join(work, 'records.csv'),
      '--container',
      container.url,
      '--request',
      join(work, 'request.json'),
      '--run-id',
      'nightly',
    ];
  });
  afterAll(async () => {
    await container?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** The run's rows as `npm start -- query` sees them, and its files on disk with their hashes. */
  async function state() {
    const s3 = join(home, 's3', LOCAL_BUCKET);
    const pipeline = await LocalPipeline.open({ home, readOnly: true });
    try {
      const { rows } = await pipeline.catalog.runQuery(
        'SELECT source, record, score FROM predictions WHERE run_id = ? ORDER BY source, record',
        ['nightly'],
      );
      const files: Record<string, string> = {};
      for (const f of (await listFilesUnder(join(s3, 'results'))).filter((p) =>
        p.includes('run_id=nightly/'),
      )) {
        files[f] = sha256(await readFile(join(s3, 'results', f)));
      }
      const scratch = await listFilesUnder(join(s3, 'runs', 'nightly', 'attempts'));
      return { rows, files, attempts: new Set(scratch.map((f) => f.split('/')[0])) };
    } finally {
      await pipeline.close();
    }
  }

  it('leaves the published rows exactly as they were, and the next run cleans the interrupted attempt', async () => {
    const first = await runCli(args, home);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const before = await state();
    expect(before.rows).toHaveLength(RECORDS);
    expect(before.attempts.size).toBe(1);

    container.setDelay(50);
    const rerun = spawnCli(args, home);
    try {
      const target = container.invocations.length + 10;
      while (container.invocations.length < target) await once(container, 'invocation');
      rerun.child.kill('SIGINT');
      const ended = await rerun.done;
      expect(ended.code === 0).toBe(false);
    } finally {
      await rerun.kill();
      container.setDelay(0);
    }

    const afterInterrupt = await state();
    expect(afterInterrupt.rows).toEqual(before.rows);
    expect(afterInterrupt.files).toEqual(before.files);

    const [interrupted] = [...afterInterrupt.attempts].filter((a) => !before.attempts.has(a));
    expect(interrupted).toMatch(/^[0-9a-f]{12}$/);

    // `runs` says the last attempt was interrupted (not a plain SUCCEEDED), and that the next run cleans it.
    const listed = await runCli(['runs', '--format', 'json'], home);
    const listing = (JSON.parse(listed.stdout) as Array<Record<string, unknown>>).find(
      (r) => r.run_id === 'nightly',
    );
    expect(listing).toMatchObject({
      status: 'SUCCEEDED (last attempt interrupted)',
      records: RECORDS,
      detail: expect.stringMatching(
        /^last attempt was interrupted; the next run in this home removes what it left \([\d.]+ \w+\)$/,
      ),
    });

    const next = await runCli(args, home);
    expect(next.code).toBe(0);
    // It says what it cleaned: one line, the attempt and the space freed (the copy of the input at least).
    expect(next.stderr).toMatch(
      new RegExp(
        `^run nightly: removed attempt ${interrupted}, left by a run that was interrupted before publishing \\(\\d+ file\\(s\\), [\\d.]+ \\w+ freed\\); nothing published was touched\n$`,
      ),
    );
    // The size `runs` announced is the size the cleanup freed.
    const announced = /\(([\d.]+ \w+)\)$/.exec(String(listing?.detail))?.[1];
    expect(next.stderr).toContain(`, ${announced} freed)`);
    const after = await state();
    expect(after.rows).toHaveLength(RECORDS);
    // Only the newest attempt is left: the interrupted one and the first one are gone.
    expect(after.attempts.size).toBe(1);
    const relisted = await runCli(['runs', '--format', 'json'], home);
    expect(
      (JSON.parse(relisted.stdout) as Array<Record<string, unknown>>).find((r) => r.run_id === 'nightly')
        ?.status,
    ).toBe('SUCCEEDED');
    expect([...after.attempts].some((a) => before.attempts.has(a))).toBe(false);
    expect(Object.keys(after.files).every((f) => f.includes(`/attempt=${[...after.attempts][0]}/`))).toBe(
      true,
    );
  }, 240_000);
});
