/**
 * Progress through `npm start -- run` as a user sees it: a pandas-style CSV of 40,000 records, run with
 * two variants, its output piped (a log: plain lines) and on a terminal (a pseudo-terminal from
 * util-linux `script`: lines redrawn in place). ParseResults and the queries report as they go, not
 * only at their start and end.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { runCli } from '../helpers/cli.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/cli');
const MODEL = join(FIXTURES, 'model.json');
const RECORDS = 40_000;
const ESC = String.fromCharCode(27);
/** What the CLI writes to redraw its live lines: cursor up over them, to column 0, erase below. */
const REDRAW = new RegExp(`${ESC}\\[\\d+A\\r${ESC}\\[0J`);
/** ParseResults reports every 8,192 records (src/core/result-parsing.ts). */
const EVERY = 8192;

/** pandas' default to_csv (header, unnamed index column), the fixture's rows repeated to RECORDS. */
async function writeBigCsv(path: string): Promise<void> {
  const [header, ...rows] = (await readFile(join(FIXTURES, 'test.csv'), 'utf8')).trim().split('\n');
  const features = rows.map((row) => row.slice(row.indexOf(',')));
  const lines = [header];
  for (let i = 0; i < RECORDS; i += 1) lines.push(`${i}${features[i % features.length]}`);
  await writeFile(path, `${lines.join('\n')}\n`);
}

/** The queries the output names, in order, as `[name, 'started' | rows]`. */
function queryLines(stdout: string): [string, string | number][] {
  const out: [string, string | number][] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const started = /^ {2}query (\S+) started$/.exec(line);
    if (started) out.push([started[1] as string, 'started']);
    const done = /^ {2}query (\S+): ([\d,]+) rows? \(\d+\.\d\ds\)$/.exec(line);
    if (done) out.push([done[1] as string, Number((done[2] as string).replaceAll(',', ''))]);
  }
  return out;
}

describe('progress of the parse and query stages, through the CLI', () => {
  let dir: string;
  let big: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-progress-'));
    big = join(dir, 'big.csv');
    await writeBigCsv(big);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('piped: a line per job as it parses, per variant, and each query as it starts and ends with its time', async () => {
    // A short interval stands in for a file big enough to take several of the default 5 s.
    const result = await runCli(['run', big, '--model', MODEL, '--model', MODEL], join(dir, 'home-piped'), {
      PIPELINE_PROGRESS_INTERVAL: '0.001',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain(ESC);
    expect(result.stdout).toMatch(/records: 40,000 in, 40,000 out per variant \(2 variants/);

    for (const variant of ['model', 'model-2']) {
      const escaped = variant.replace('-', '\\-');
      const lines = [
        ...result.stdout.matchAll(
          new RegExp(
            `^ {2}\\[${escaped}\\] parsing big\\.csv: ([\\d,]+) records so far \\((\\d+)% read\\)$`,
            'gm',
          ),
        ),
      ];
      // Every 8,192 records joined, until the file is done (40,000: four reports).
      expect(lines.map((m) => Number((m[1] as string).replaceAll(',', '')))).toEqual([
        EVERY,
        2 * EVERY,
        3 * EVERY,
        4 * EVERY,
      ]);
      const shares = lines.map((m) => Number(m[2]));
      expect(shares).toEqual([...shares].sort((a, b) => a - b));
      // The share of the file read is the records' share (rows are of similar length).
      for (const [i, share] of shares.entries()) {
        expect(Math.abs(share - (100 * (i + 1) * EVERY) / RECORDS)).toBeLessThanOrEqual(2);
      }
      const last = lines.at(-1)?.index ?? 0;
      const parsed = result.stdout.indexOf(`  parsed ${variant}: 40,000 records in → 40,000 result rows`);
      expect(parsed).toBeGreaterThan(last);
    }

    const queries = queryLines(result.stdout);
    const names = queries.filter(([, what]) => what === 'started').map(([name]) => name);
    expect(names).toEqual(expect.arrayContaining(['summary', 'label-counts', 'variant-comparison']));
    // Side by side on DuckDB, one per core at most: each query ends once, after its own start, with
    // its row count; never more running at once than there are cores.
    let running = 0;
    for (const [name, what] of queries) {
      if (what === 'started') running += 1;
      else {
        expect(queries.findIndex(([n, w]) => n === name && w === 'started')).toBeLessThan(
          queries.findIndex(([n, w]) => n === name && w !== 'started'),
        );
        expect(typeof what).toBe('number');
        running -= 1;
      }
      expect(running).toBeGreaterThanOrEqual(0);
      expect(running).toBeLessThanOrEqual(availableParallelism());
    }
    expect(queries).toHaveLength(2 * names.length);
    expect(new Set(queries.filter(([, what]) => what !== 'started').map(([name]) => name))).toEqual(
      new Set(names),
    );
    // The rows the progress line counts are the rows of the query the run prints.
    const summaryRows = queries.find(([name, what]) => name === 'summary' && what !== 'started')?.[1];
    const table = /Query "summary":\n[\s\S]*?\((\d+) rows\)/.exec(result.stdout);
    expect(summaryRows).toBe(Number(table?.[1]));
    // All of it between the stage's first and last lines.
    const stage = result.stdout.indexOf('  running queries and writing the report…');
    const end = result.stdout.indexOf('  queries and report done');
    expect(result.stdout.indexOf('  query summary started')).toBeGreaterThan(stage);
    expect(result.stdout.lastIndexOf('  query ')).toBeLessThan(end);
  }, 300_000);

  it('on a terminal: live lines for the parse and the running query, redrawn in place', async () => {
    const command = [
      process.execPath,
      '--import',
      'tsx',
      join(PROJECT_ROOT, 'src/cli.ts'),
      'run',
      big,
      '--model',
      MODEL,
      '--run-id',
      'tty',
      '--home',
      join(dir, 'home-tty'),
    ]
      .map((word) => `'${word.replaceAll("'", "'\\''")}'`)
      .join(' ');
    // util-linux script gives the CLI a pseudo-terminal of 100 columns; it copies what is drawn to stdout.
    const child = spawn('script', ['-qec', `stty cols 100; ${command}`, '/dev/null'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
    });
    const [code] = await once(child, 'close');
    expect(code).toBe(0);
    expect(output).toMatch(/Run tty SUCCEEDED/);
    // In place: the cursor goes up over the live lines before they are redrawn.
    expect(output).toMatch(REDRAW);
    // The parse's live line (its first form; the bar follows when the terminal is redrawn in time).
    expect(output).toMatch(/ {2}\[model\] parsing (big\.csv…|\[[#-]{16}\] +\d+% big\.csv: [\d,]+ records)/);
    // A running query is a live line, and its end is printed once, with its time and rows.
    expect(output).toContain('  query summary running…');
    expect(output).toMatch(/ {2}query summary: \d+ rows? \(\d+\.\d\ds\)/);
    // No log-style heartbeat lines on a terminal.
    expect(output).not.toContain('records so far');
    // Live lines are cut to the terminal's width.
    for (const line of output.split(new RegExp(`\\r?\\n|${REDRAW.source}`))) {
      if (line.includes('parsing') || line.includes('running…')) expect(line.length).toBeLessThanOrEqual(99);
    }
  }, 300_000);
});
