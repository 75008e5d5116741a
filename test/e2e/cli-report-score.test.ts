/**
 * `npm start -- run --model …` and the report.html it writes, with models saved by the real XGBoost
 * 1.7.4 (scripts/make_xgboost_fixtures.py): the report says what each variant's score is by the model's
 * own objective, so a binary:logitraw margin or a reg:squarederror prediction is never called a
 * probability, and a binary:logistic score is.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import { runCli } from '../helpers/cli.js';

const XGB = join(PROJECT_ROOT, 'test/fixtures/xgboost');
const INPUT = join(XGB, 'inputs.csv');
const model = (name: string, file = 'model.json') => join(XGB, name, file);

describe('npm start -- run: what report.html says the score is', () => {
  let home: string;

  /** Runs the input with these models and returns the run's report.html. */
  const reportOf = async (runId: string, models: string[], flags: string[] = []): Promise<string> => {
    const result = await runCli(
      ['run', INPUT, ...models.flatMap((m) => ['--model', m]), ...flags, '--run-id', runId],
      home,
    );
    expect({ runId, code: result.code, stderr: result.stderr }).toEqual({ runId, code: 0, stderr: '' });
    return readFile(join(home, 's3/local-pipeline/runs', runId, 'report.html'), 'utf8');
  };
  /** The sentences saying what one variant's score is. */
  const meaning = (html: string, variant: string) =>
    new RegExp(`<p class="explain" id="score-meaning-${variant}">(.*?)</p>`).exec(html)?.[1];

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cli-report-score-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('calls a binary:logistic score the probability of labels[1]', async () => {
    const html = await reportOf('logistic', [model('gbtree-binary-logistic')], ['--labels', 'no,yes']);
    expect(meaning(html, 'model')).toContain(
      '<code>score</code> is the probability that the record is <b>yes</b> (class 1). <code>label</code> is yes when the score is at least the threshold 0.5, else no.',
    );
    expect(html).toContain('Scores: model: probability of yes');
  }, 60_000);

  it('calls a binary:logitraw score a raw margin cut at the logit of the threshold, and never a probability', async () => {
    const html = await reportOf(
      'logitraw',
      [model('gbtree-binary-logitraw', 'xgboost-model')],
      ['--labels', 'no,yes', '--threshold', '0.7'],
    );
    expect(meaning(html, 'xgboost-model')).toContain(
      "<code>score</code> is the raw margin (log-odds) of <b>yes</b> (class 1), any real number (the model's objective is <code>binary:logitraw</code>",
    );
    // logit(0.7) = ln(0.7 / 0.3) = 0.8473.
    expect(meaning(html, 'xgboost-model')).toContain(
      '<code>label</code> is yes when the margin is at least 0.8473 (the logit of the threshold 0.7), else no.',
    );
    expect(html).toContain('Scores: xgboost-model: raw margin (log-odds) of yes');
    expect(html).toMatch(/id="threshold-marker"/);
    expect(html).not.toMatch(/probabilit/i);
  }, 60_000);

  it('calls a reg:squarederror score a prediction of the target, and never a probability', async () => {
    const html = await reportOf('regression', [model('gbtree-reg-squarederror', 'model.ubj')]);
    expect(meaning(html, 'model')).toContain(
      "<code>score</code> is the model's prediction of the regression target, in the target's own units (the model's objective is <code>reg:squarederror</code>). No label or threshold applies.",
    );
    expect(html).toContain('Scores: model: predicted value');
    expect(html).not.toContain('threshold-marker');
    expect(html).not.toMatch(/probabilit/i);
  }, 60_000);

  it('words each variant of one run by its own model, and draws no threshold line across two scales', async () => {
    const html = await reportOf(
      'both',
      [model('gbtree-binary-logistic'), model('gbtree-binary-logitraw', 'xgboost-model')],
      ['--labels', 'no,yes'],
    );
    expect(meaning(html, 'model')).toContain('is the probability that the record is <b>yes</b>');
    expect(meaning(html, 'xgboost-model')).toContain('is the raw margin (log-odds) of <b>yes</b>');
    expect(meaning(html, 'xgboost-model')).not.toMatch(/probabilit/i);
    expect(html).not.toContain('threshold-marker');
    expect(html).toContain('<td>Models</td><td>model: builtin:xgboost + s3://local-pipeline/models/');
    expect(html).toMatch(/xgboost-model: builtin:xgboost \+ s3:\/\/\S+ \(binary:logitraw\)/);
  }, 60_000);
});
