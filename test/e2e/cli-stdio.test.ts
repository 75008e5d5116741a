/**
 * The command line when its reader goes away (`npm start -- runs | head`) and on Ctrl-C, as a user
 * meets them: a child process whose stdout pipe is closed early, or which gets SIGINT mid-run.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERRUPTED_RUN_MESSAGE } from '../../src/cli/stdio.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { type CliProcess, runCli, spawnCli } from '../helpers/cli.js';

const SAMPLE = join(PROJECT_ROOT, 'examples/sample/input');

/** The read end of the CLI's stdout pipe (spawnCli always pipes it). */
function stdoutOf(cli: CliProcess) {
  if (!cli.child.stdout) throw new Error('spawnCli pipes stdout');
  return cli.child.stdout;
}
const MODEL = join(PROJECT_ROOT, 'examples/model/xgboost-model.json');

describe('the command line when its output or its user goes away', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-stdio-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ends a query quietly when its reader stops reading (| head)', async () => {
    const cli = spawnCli(
      ['query', 'SELECT range AS n FROM range(300000)', '--format', 'csv'],
      join(dir, 'q'),
    );
    await once(stdoutOf(cli), 'data');
    stdoutOf(cli).destroy(); // what head does after its lines
    const result = await cli.done;
    expect(result.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(result.code).toBe(0);
  });

  it('finishes and publishes a run whose reader stopped reading', async () => {
    const home = join(dir, 'piped');
    const cli = spawnCli(['run', SAMPLE, '--model', MODEL, '--run-id', 'piped'], home);
    await once(stdoutOf(cli), 'data');
    stdoutOf(cli).destroy();
    const result = await cli.done;
    expect(result.stderr).not.toMatch(/EPIPE/);
    expect(result.code).toBe(0);
    const count = await runCli(
      ['query', "SELECT count(*) AS n FROM predictions WHERE run_id = 'piped'", '--format', 'csv'],
      home,
    );
    expect(count.stdout.trim().split('\n')).toEqual(['n', '569']);
  });

  it('says what happened on Ctrl-C during a run, then stops as Ctrl-C does', async () => {
    // Enough rows that the run is still going when the signal comes.
    const header = Array.from({ length: 30 }, (_, i) => `f${i}`).join(',');
    const row = Array.from({ length: 30 }, (_, i) => (i * 0.37).toFixed(2)).join(',');
    const input = join(dir, 'big.csv');
    await writeFile(input, `${header}\n${`${row}\n`.repeat(200_000)}`);
    const cli = spawnCli(['run', input, '--model', MODEL, '--run-id', 'stopped'], join(dir, 'interrupted'));
    await once(stdoutOf(cli), 'data'); // the run has begun ("Run stopped: …")
    cli.child.kill('SIGINT');
    const result = await cli.done;
    expect(result.signal).toBe('SIGINT');
    expect(result.stderr).toContain(INTERRUPTED_RUN_MESSAGE);
  });
});
