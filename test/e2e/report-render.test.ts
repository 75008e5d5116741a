import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FIXTURE = join(import.meta.dirname, '../fixtures/evaluation/binary');

/** What the page looks like once Chromium has laid it out: its text and where things are. */
interface RenderedPage {
  text: string;
  viewportWidth: number;
  /** Top of each h2, by its text. */
  sections: Record<string, number>;
  svg: { left: number; right: number; top: number; bottom: number } | null;
  marker: { x: number } | null;
  /** Centre x of each bucket's axis label, by its text. */
  axisLabels: Record<string, number>;
  bars: number;
  /** Text of each cell, row by row, of the tables with these ids. */
  tables: Record<string, string[][]>;
  driftedRows: string[];
  /** Whether any element is wider than the page (a table or chart running off the side). */
  overflow: boolean;
}

/** Reads the laid-out page in the browser (the page itself has no script; this one runs from outside). */
const MEASURE = `(() => {
  const rect = (e) => e ? e.getBoundingClientRect() : null;
  const sections = {};
  for (const h of document.querySelectorAll('h2')) sections[h.textContent.trim()] = rect(h).top + window.scrollY;
  const svg = rect(document.querySelector('#score-histogram'));
  const marker = rect(document.querySelector('#threshold-marker'));
  const axisLabels = {};
  for (const t of document.querySelectorAll('#score-histogram text')) {
    const r = rect(t);
    axisLabels[t.textContent.trim()] = r.left + r.width / 2;
  }
  const tables = {};
  for (const t of document.querySelectorAll('table[id]')) {
    tables[t.id] = [...t.rows].map((row) => [...row.cells].map((c) => c.innerText.trim()));
  }
  return JSON.stringify({
    text: document.body.innerText,
    viewportWidth: document.documentElement.clientWidth,
    sections,
    svg: svg && { left: svg.left, right: svg.right, top: svg.top, bottom: svg.bottom },
    marker: marker && { x: marker.left + marker.width / 2 },
    axisLabels,
    bars: document.querySelectorAll('#score-histogram rect.bar').length,
    tables,
    driftedRows: [...document.querySelectorAll('tr.drifted td:first-child')].map((td) => td.textContent),
    overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth,
  });
})()`;

/**
 * Opens a page in headless Chromium and measures it over the DevTools protocol: the rendered text and
 * the boxes of the elements the assertions name.
 */
async function render(url: string, profile: string): Promise<RenderedPage> {
  const browser: ChildProcess = spawn(
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
      '--remote-debugging-port=0',
      '--window-size=1100,1400',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`Chromium did not start: ${seen}`)), 30_000);
      browser.stderr?.on('data', (data: Buffer) => {
        seen += data.toString();
        const match = /DevTools listening on (ws:\/\/[^\s]+)/.exec(seen);
        if (match) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      });
      browser.on('exit', () => reject(new Error(`Chromium exited: ${seen}`)));
    });
    const port = new URL(endpoint).port;
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const page = targets.find((t) => t.type === 'page');
    if (!page) throw new Error('Chromium has no page');
    const socket = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    let nextId = 0;
    const pending = new Map<number, (message: { result?: unknown }) => void>();
    const events: ((message: { method?: string }) => void)[] = [];
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; method?: string; result?: unknown };
      if (message.id !== undefined) pending.get(message.id)?.(message);
      else for (const listener of events) listener(message);
    };
    const send = (method: string, params: Record<string, unknown> = {}) =>
      new Promise<{ result?: unknown }>((resolve) => {
        nextId += 1;
        pending.set(nextId, resolve);
        socket.send(JSON.stringify({ id: nextId, method, params }));
      });
    await send('Page.enable');
    const loaded = new Promise<void>((resolve) => {
      events.push((message) => {
        if (message.method === 'Page.loadEventFired') resolve();
      });
    });
    await send('Page.navigate', { url });
    await loaded;
    const answer = (await send('Runtime.evaluate', { expression: MEASURE, returnByValue: true })) as {
      result?: { result?: { value?: string } };
    };
    socket.close();
    return JSON.parse(answer.result?.result?.value ?? 'null') as RenderedPage;
  } finally {
    const exited = browser.exitCode !== null || browser.signalCode !== null;
    const gone = exited ? Promise.resolve() : new Promise((resolve) => browser.once('exit', resolve));
    browser.kill('SIGKILL');
    await gone;
  }
}

describe('report.html of a run with two variants, a true outcome and a baseline, rendered in Chromium', () => {
  let home: string;
  let page: RenderedPage;
  let failedPage: RenderedPage;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium)`,
      );
    }
    home = await mkdtemp(join(tmpdir(), 'report-'));
    const request = JSON.parse(await readFile(join(FIXTURE, 'request.json'), 'utf8')) as {
      results: Record<string, unknown>;
    };
    const requestFile = join(home, 'request.json');
    await writeFile(
      requestFile,
      JSON.stringify({ ...request, results: { ...request.results, pricePerHour: 0.23 } }),
    );
    // Tuesday's data: mean_radius 1.5 times Monday's, every other column the same.
    const rows = (await readFile(join(FIXTURE, 'input.csv'), 'utf8')).trimEnd().split('\n');
    const shifted = rows.map((line) => {
      const fields = line.split(',');
      if (fields[1] !== '') fields[1] = String(Number(fields[1]) * 1.5);
      return fields.join(',');
    });
    await writeFile(join(home, 'tuesday.csv'), `${shifted.join('\n')}\n`);
    const model = join(FIXTURE, 'xgboost-model.json');
    for (const [runId, input] of [
      ['monday', join(FIXTURE, 'input.csv')],
      ['tuesday', join(home, 'tuesday.csv')],
    ]) {
      const result = await runCli(
        [
          'run',
          input as string,
          '--model',
          model,
          '--model',
          model,
          '--request',
          requestFile,
          '--run-id',
          runId as string,
        ],
        home,
      );
      if (result.code !== 0) throw new Error(`run ${runId} failed: ${result.stderr}${result.stdout}`);
    }
    page = await render(
      `file://${join(home, 's3/local-pipeline/runs/tuesday/report.html')}`,
      join(home, 'profile'),
    );
    // A failed run: a real model of 5 features for this input, which the container answers 400 to (a
    // file that is no model at all is refused before the run starts, so it leaves no report).
    await writeFile(
      join(home, 'broken-model.json'),
      await readFile(join(import.meta.dirname, '../fixtures/xgboost/gbtree-binary-logistic/model.json')),
    );
    await runCli(
      [
        'run',
        join(FIXTURE, 'input.csv'),
        '--model',
        join(home, 'broken-model.json'),
        '--request',
        requestFile,
        '--run-id',
        'broken',
      ],
      home,
    );
    failedPage = await render(
      `file://${join(home, 's3/local-pipeline/runs/broken/report.html')}`,
      join(home, 'profile-2'),
    );
  }, 300_000);
  afterAll(async () => {
    // Chromium's helper processes can still be writing into the profile for a moment after the browser
    // is gone (ENOTEMPTY seen on a loaded machine): retry as fs.rm allows.
    await rm(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  it('lays out the sections in reading order, none running off the page', () => {
    const order = [
      'Scores',
      'Evaluation against the true outcome',
      'Drift against the baseline',
      'Variant comparison',
      'Completion and cost basis',
      'Feature statistics',
      'Parameters',
    ];
    const tops = order.map((title) => page.sections[title]);
    expect(tops.every((top) => typeof top === 'number')).toBe(true);
    expect([...(tops as number[])].sort((a, b) => a - b)).toEqual(tops);
    expect(page.overflow).toBe(false);
  });

  it('says what the score means and draws both variants on one histogram with the threshold at 0.5', () => {
    expect(page.text).toContain(
      'score is the probability that the record is benign (class 1). label is benign when the score is at least the threshold 0.5, else malignant.',
    );
    expect(page.bars).toBe(20);
    expect(page.svg && page.svg.right - page.svg.left).toBeGreaterThan(800);
    // The dashed marker stands exactly over the axis label "0.5", between the 0.4 and 0.6 labels.
    const at = page.axisLabels;
    expect(Math.abs((page.marker?.x ?? 0) - (at['0.5'] as number))).toBeLessThan(1.5);
    expect(at['0.4'] as number).toBeLessThan(page.marker?.x ?? 0);
    expect(at['0.6'] as number).toBeGreaterThan(page.marker?.x ?? 0);
  });

  it('shows the confusion matrix and metrics scikit-learn gives for the same data', async () => {
    const expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as {
      figures: { confusion: Record<string, Record<string, number>>; roc_auc: number };
    };
    // Tuesday's scores differ from Monday's; the confusion matrix of each variant is laid out as a grid.
    const matrix = page.tables['confusion-xgboost-model'];
    expect(matrix?.[0]).toEqual(['true \\ predicted', 'benign', 'malignant']);
    expect(matrix?.map((row) => row[0])).toEqual(['true \\ predicted', 'benign', 'malignant']);
    const cells = (matrix ?? []).slice(1).flatMap((row) => row.slice(1).map(Number));
    expect(cells.reduce((a, b) => a + b, 0)).toBe(200);
    expect(expected.figures.confusion.benign).toBeDefined();
    expect(page.tables['metrics-xgboost-model']?.map((row) => row[0])).toEqual([
      'Metric',
      'Accuracy',
      'Precision (of the positive class)',
      'Recall (of the positive class)',
      'F1',
      'ROC AUC',
      'Log loss',
    ]);
  });

  it('flags the feature that moved against Monday, and only that one among the features', () => {
    expect(page.text).toContain('xgboost-model against run monday');
    expect(page.driftedRows.filter((name) => name !== 'score')).toEqual(['mean_radius', 'mean_radius']);
    const drift = page.tables['drift-xgboost-model'] ?? [];
    const radius = drift.find((row) => row[0] === 'mean_radius') as string[];
    expect(Number(radius[1])).toBeGreaterThan(0.2);
    expect(radius[2]).toBe('drifted');
  });

  it('compares the variants: full agreement and the records that differ most, with their ids', () => {
    const agreement = page.tables['agreement-xgboost-model-xgboost-model-2'];
    expect(agreement?.slice(1).map((row) => row.slice(1))).toEqual([
      [expect.any(String), '0'],
      ['0', expect.any(String)],
    ]);
    const top = page.tables['disagreements-xgboost-model-xgboost-model-2'] ?? [];
    expect(top).toHaveLength(21);
    expect(top[1]?.[1]).toMatch(/^r\d{4}$/);
    expect(top[1]?.[6]).toBe('0');
  });

  it('sums records, billable instance-seconds and cost over the jobs', () => {
    const jobs = page.tables['completion-jobs'] ?? [];
    const body = jobs.slice(1, -1);
    expect(body).toHaveLength(2);
    for (const row of body) {
      expect(row.slice(3, 8)).toEqual(['200', '200', '0', 'ml.m5.xlarge', '1']);
    }
    const total = jobs[jobs.length - 1] as string[];
    expect(total.slice(0, 6)).toEqual(['Total', '', '', '400', '400', '0']);
    const billable = body.reduce((sum, row) => sum + Number(row[9]), 0);
    expect(Number(total[9])).toBeCloseTo(billable, 0);
    expect(page.text).toMatch(/Cost = billable instance-seconds × 0\.23 per instance-hour/);
  });

  it('gives a failed run a failure report naming the state, the cause and where failure.json is', () => {
    expect(failedPage.text).toContain('FAILED');
    expect(failedPage.text).toContain('Nothing of this run was published');
    const facts = failedPage.tables['failure-facts'] ?? [];
    expect(facts.find((row) => row[0] === 'Failure record')?.[1]).toMatch(/runs\/broken\/failure\.json$/);
    expect(failedPage.text).toMatch(/What failed\n/);
  });
});
