/**
 * `npm start -- run --model … [--labels …]` with models saved by the real XGBoost 1.7.4 in every format
 * the built-in server reads (scripts/make_xgboost_fixtures.py): labels that cannot fit the model file are
 * refused before anything runs, a classifier without labels gets its class index whatever the format, and
 * a binary:logitraw model's margins are cut where the probability threshold lies.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { queryJson, runCli } from '../helpers/cli.js';

const XGB = join(PROJECT_ROOT, 'test/fixtures/xgboost');
const INPUT = join(XGB, 'inputs.csv');
const model = (name: string, file = 'model.json') => join(XGB, name, file);

/** XGBoost's own predictions for inputs.csv (one number a row for binary models), as the script saved them. */
async function xgboostScores(name: string): Promise<number[]> {
  const expected = JSON.parse(await readFile(join(XGB, name, 'expected.json'), 'utf8')) as {
    predictions: number[][];
  };
  return expected.predictions.map((row) => row[0] as number);
}

describe('npm start -- run: labels and the model file', () => {
  let home: string;

  const labelCounts = async (runId: string): Promise<Record<string, number>> => {
    const rows = await queryJson<{ label: string; n: number }>(
      home,
      'SELECT label, count(*)::INTEGER AS n FROM predictions WHERE run_id = ? GROUP BY label',
      [runId],
    );
    return Object.fromEntries(rows.map((r) => [r.label, r.n]));
  };
  /** Nothing of the run is in the store: no run folder, no results, no copy of the input or the model. */
  const expectNothingWritten = (runId: string) => {
    const bucket = join(home, 's3/local-pipeline');
    expect(existsSync(join(bucket, 'runs', runId))).toBe(false);
    expect(existsSync(join(bucket, 'results'))).toBe(false);
    expect(existsSync(join(bucket, 'models'))).toBe(false);
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-labels-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('refuses --labels that do not fit the model file before anything runs, naming the flag, file and objective', async () => {
    const cases: Array<[string, string, string]> = [
      [
        model('gbtree-reg-squarederror'),
        'a,b',
        `--labels a,b: ${model('gbtree-reg-squarederror')} is a regression model (reg:squarederror), not a classifier: its scores get no labels; drop --labels`,
      ],
      [
        model('gbtree-multi-softprob'),
        'a,b',
        `--labels a,b: ${model('gbtree-multi-softprob')} is a 3-class model (multi:softprob): give 3 labels, got 2`,
      ],
      [
        model('gbtree-binary-logistic', 'model.tar.gz'),
        'a,b,c',
        `--labels a,b,c: ${model('gbtree-binary-logistic', 'model.tar.gz')} is a binary model (binary:logistic): give 2 labels, got 3`,
      ],
    ];
    for (const [file, labels, message] of cases) {
      const result = await runCli(
        ['run', INPUT, '--model', file, '--labels', labels, '--run-id', 'refused'],
        home,
      );
      expect({ file, code: result.code }).toEqual({ file, code: 2 });
      expect(result.stderr).toContain(message);
      expect(result.stdout).toBe('');
      expectNothingWritten('refused');
    }
  }, 120_000);

  it("refuses a request file's results.labels that do not fit the --model file, naming the request file", async () => {
    const request = join(home, 'request.json');
    await writeFile(request, JSON.stringify({ results: { labels: ['a', 'b'] } }));
    const result = await runCli(
      [
        'run',
        INPUT,
        '--model',
        model('gbtree-multi-softmax', 'model.ubj'),
        '--request',
        request,
        '--run-id',
        'refused',
      ],
      home,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${request}: results.labels a,b: ${model('gbtree-multi-softmax', 'model.ubj')} is a 3-class model (multi:softmax): give 3 labels, got 2`,
    );
    expectNothingWritten('refused');
  }, 60_000);

  it('labels a classifier by class index without --labels in every format the server reads', async () => {
    const scores = await xgboostScores('gbtree-binary-logistic');
    const positives = scores.filter((p) => p >= 0.5).length;
    for (const [runId, file] of [
      ['json', 'model.json'],
      ['ubj', 'model.ubj'],
      ['legacy', 'xgboost-model'],
      ['targz', 'model.tar.gz'],
    ] as const) {
      const result = await runCli(
        ['run', INPUT, '--model', model('gbtree-binary-logistic', file), '--run-id', runId],
        home,
      );
      expect({ file, code: result.code, stderr: result.stderr }).toEqual({ file, code: 0, stderr: '' });
      expect(result.stdout).toMatch(/labels: none given, so the class index is stored \(0, 1\)/);
      expect(await labelCounts(runId)).toEqual({ '0': scores.length - positives, '1': positives });
    }
  }, 240_000);

  it("cuts a binary:logitraw model's margins where the probability threshold lies (0.5 is a margin of 0)", async () => {
    const margins = await xgboostScores('gbtree-binary-logitraw');
    const probability = (margin: number) => 1 / (1 + Math.exp(-margin));
    for (const [runId, threshold] of [
      ['raw', 0.5],
      ['raw7', 0.7],
    ] as const) {
      const result = await runCli(
        [
          'run',
          INPUT,
          '--model',
          model('gbtree-binary-logitraw', 'xgboost-model'),
          '--labels',
          'no,yes',
          '--threshold',
          String(threshold),
          '--run-id',
          runId,
        ],
        home,
      );
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      const yes = margins.filter((m) => probability(m) >= threshold).length;
      // The fixture has margins between 0 and 0.5, so cutting the margin itself at 0.5 would differ.
      expect(margins.filter((m) => m >= threshold).length).not.toBe(yes);
      expect(await labelCounts(runId)).toEqual({ no: margins.length - yes, yes });
    }
  }, 120_000);
});
