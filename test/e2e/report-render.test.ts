import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { runCli } from '../helpers/cli.js';

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MODEL = join(PROJECT_ROOT, 'examples/model/xgboost-model.json');

/** Headless Chromium as the environment allows it: no sandbox as root, no background network calls. */
async function chromium(args: string[], profile: string): Promise<string> {
  const { stdout } = await run(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { maxBuffer: 16 << 20, timeout: 60_000 },
  );
  return stdout;
}

describe('report.html of a run with two model variants, rendered in Chromium', () => {
  let home: string;
  let reportPath: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium)`,
      );
    }
    home = await mkdtemp(join(tmpdir(), 'report-'));
    const result = await runCli(
      [
        'run',
        join(PROJECT_ROOT, 'examples/sample/input'),
        '--model',
        MODEL,
        '--model',
        MODEL,
        '--request',
        join(PROJECT_ROOT, 'examples/sample/run-request.json'),
        '--run-id',
        'two-variants',
      ],
      home,
    );
    if (result.code !== 0) throw new Error(`the two-variant run failed: ${result.stderr}`);
    reportPath = join(home, 's3/local-pipeline/runs/two-variants/report.html');
  }, 120_000);
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('renders the run, both variants, their histograms and their comparison', async () => {
    const dom = await chromium(['--dump-dom', `file://${reportPath}`], join(home, 'profile-dom'));
    expect(dom).toContain('<h1>Run two-variants</h1>');
    expect(dom).toContain('<b id="records-in">1138</b>');
    expect(dom).toContain('<b id="records-out">1138</b>');
    expect(dom).toContain('aria-label="Score histogram of xgboost-model"');
    expect(dom).toContain('aria-label="Score histogram of xgboost-model-2"');
    // The same model twice: every record gets the same label and the same score.
    expect(dom).toMatch(
      /<td>xgboost-model<\/td><td>xgboost-model-2<\/td><td class="n">569<\/td><td>100\.0%<\/td><td>0\.0000<\/td><td>0\.0000<\/td>/,
    );
  }, 60_000);

  it('takes a screenshot of the page', async () => {
    const png = join(home, 'report.png');
    await chromium(
      ['--window-size=1100,1600', `--screenshot=${png}`, `file://${reportPath}`],
      join(home, 'profile-png'),
    );
    const bytes = await readFile(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.length).toBeGreaterThan(20_000);
  }, 60_000);
});
