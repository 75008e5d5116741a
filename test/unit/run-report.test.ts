import { describe, expect, it } from 'vitest';
import { completionStatistics, epochMs } from '../../src/core/completion.js';
import { applyRunDefaults } from '../../src/core/run-defaults.js';
import { type RunReportInput, renderRunReport } from '../../src/core/run-report.js';
import { renderFailureReport } from '../../src/core/run-report-failure.js';

const histogram = (variant: string, counts: number[]) =>
  counts.map((records, bucket) => ({
    variant,
    bucket,
    lower_bound: bucket / 10,
    upper_bound: (bucket + 1) / 10,
    records,
  }));

const result = (rows: Record<string, string | number | boolean | null>[]) => ({
  columns: Object.keys(rows[0] ?? {}),
  rows,
});

const input: RunReportInput = {
  runId: 'nightly',
  runDate: '2026-11-21',
  executionName: 'exec-1',
  startedAt: '2026-11-21T10:00:00.000Z',
  finishedAt: '2026-11-21T10:00:12.500Z',
  request: applyRunDefaults({
    input: 's3://b/incoming/x/',
    // As BuildManifest saves the request: each model's objective where it is known.
    models: [
      { variant: 'a', modelName: 'model-a', objective: 'binary:logistic' },
      { variant: 'b', modelName: 'model-b', objective: 'binary:logistic' },
    ],
    transform: { SplitType: 'Line', MaxPayloadInMB: 6 },
    results: { threshold: 0.7, labels: ['no', 'yes'], actualColumn: 'churned' },
  }),
  table: 'db.predictions',
  completion: completionStatistics(
    [
      {
        variant: 'a',
        shardId: '0000',
        recordsIn: 1_250_000,
        recordsOut: 1_250_000,
        transformJob: {
          TransformJobName: 'j-a',
          TransformStartTime: '2026-11-21T10:00:01Z',
          TransformEndTime: '2026-11-21T10:01:31Z',
        },
      },
      {
        variant: 'b',
        shardId: '0000',
        recordsIn: 1_250_000,
        recordsOut: 1_250_000,
        // Epoch milliseconds, as Step Functions may pass them.
        transformJob: {
          TransformJobName: 'j-b',
          TransformStartTime: 1_795_000_000_000,
          TransformEndTime: 1_795_000_030_000,
        },
      },
    ],
    [
      { TransformJobName: 'j-a', TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 2 } },
      { TransformJobName: 'j-b', TransformResources: { InstanceType: 'ml.c5.2xlarge', InstanceCount: 1 } },
    ],
    0.23,
  ),
  queries: {
    'score-histogram': result([
      ...histogram('a', [5, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
      ...histogram('b', [4, 1, 0, 0, 0, 0, 0, 0, 0, 5]),
    ]),
    'label-counts': result([
      { variant: 'a', label: 'yes', records: 5, share: 0.5 },
      { variant: 'a', label: '<script>alert(1)</script>', records: 5, share: 0.5 },
    ]),
    'variant-comparison': result([
      {
        variant_a: 'a',
        variant_b: 'b',
        records: 10,
        label_agreement: 0.9,
        mean_abs_score_diff: 0.05,
        max_abs_score_diff: 0.3,
      },
    ]),
    'variant-agreement': result([
      { variant_a: 'a', variant_b: 'b', label_a: 'no', label_b: 'no', records: 4 },
      { variant_a: 'a', variant_b: 'b', label_a: 'yes', label_b: 'no', records: 1 },
      { variant_a: 'a', variant_b: 'b', label_a: 'yes', label_b: 'yes', records: 5 },
    ]),
    'variant-disagreements': result([
      {
        variant_a: 'a',
        variant_b: 'b',
        rank: 1,
        id: 'cust-42',
        source: 's3://b/incoming/x/p.csv',
        record: 7,
        score_a: 0.9,
        score_b: 0.6,
        score_diff: 0.3,
        label_a: 'yes',
        label_b: 'no',
      },
    ]),
    evaluation: result([
      {
        variant: 'a',
        model_kind: 'binary',
        metric: 'count',
        actual_class: 'no',
        predicted_class: 'no',
        value: 4,
        records: 4,
      },
      {
        variant: 'a',
        model_kind: 'binary',
        metric: 'count',
        actual_class: 'yes',
        predicted_class: 'yes',
        value: 6,
        records: 6,
      },
      {
        variant: 'a',
        model_kind: 'binary',
        metric: 'accuracy',
        actual_class: null,
        predicted_class: null,
        value: 1,
        records: 10,
      },
      {
        variant: 'a',
        model_kind: 'binary',
        metric: 'roc_auc',
        actual_class: null,
        predicted_class: null,
        value: 0.98765,
        records: 10,
      },
    ]),
    drift: result([
      {
        variant: 'a',
        baseline_run_id: 'monday',
        kind: 'score',
        feature: 'score',
        position: 0,
        psi: 0.05,
        drifted: false,
        missing_rate: 0,
        baseline_missing_rate: 0,
        missing_rate_change: 0,
        mean: 0.5,
        baseline_mean: 0.48,
      },
      {
        variant: 'a',
        baseline_run_id: 'monday',
        kind: 'feature',
        feature: 'tenure',
        position: 1,
        psi: 0.8123,
        drifted: true,
        missing_rate: 0.2,
        baseline_missing_rate: 0.02,
        missing_rate_change: 0.18,
        mean: 14_250.5,
        baseline_mean: 12_000,
      },
    ]),
    summary: result([{ variant: 'a', records: 1_250_000 }]),
  },
  paths: {
    input: 'data/churn/',
    results: [
      '.pipeline/s3/local-pipeline/results/predictions/run_date=2026-11-21/run_id=nightly/variant=a/',
    ],
  },
};

describe('renderRunReport', () => {
  const html = renderRunReport(input);

  it('shows record counts with thousands separators, the duration and the user’s own paths', () => {
    expect(html).toContain('<h1>Run nightly</h1>');
    expect(html).toContain('<b id="records-in">2,500,000</b>');
    expect(html).toContain('<b id="records-failed">0</b>');
    expect(html).toContain('<b>12.5 s</b>');
    expect(html).toContain('<td>Input</td><td>data/churn/</td>');
    expect(html).toContain('<td>Threshold</td><td>0.7</td>');
  });

  it('says what the score means and marks the threshold on one overlaid histogram', () => {
    expect(html).toContain('is the probability that the record is <b>yes</b> (class 1)');
    expect(html.match(/<svg /g)).toHaveLength(1);
    expect(html.match(/<rect class="bar"/g)).toHaveLength(20);
    expect(html).toContain('id="threshold-marker"');
  });

  it('sums billable instance-seconds per job and turns them into cost with the given price', () => {
    // j-a: 90 s × 2 instances; j-b: 30 s × 1 instance (epoch milliseconds).
    expect(html).toMatch(
      /<td>j-a<\/td>.*<td class="n">1 min 30 s<\/td><td class="n">180\.0<\/td><td class="n">0\.01<\/td>/,
    );
    expect(html).toMatch(
      /<td>j-b<\/td><td>b<\/td>.*<td>ml\.c5\.2xlarge<\/td><td class="n">1<\/td><td class="n">30\.0 s<\/td><td class="n">30\.0<\/td>/,
    );
    expect(html).toContain('<b id="billable">210 instance-s</b><span id="cost">0.01 at 0.23/h</span>');
  });

  it('shows the evaluation, the drift flags and the variants’ disagreements', () => {
    expect(html).toContain('<td>ROC AUC</td><td class="n">0.9877</td>');
    expect(html).toContain('1 of 2 drifted (PSI over 0.2): tenure.');
    expect(html).toMatch(
      /<tr class="drifted"><td>tenure<\/td><td class="n">0\.8123<\/td><td><span class="flag">drifted<\/span><\/td><td class="n">2\.0% → 20\.0%<\/td><td class="n">\+18\.0 pt<\/td><td class="n">12,000 → 14,250\.5<\/td>/,
    );
    expect(html).toContain('<td>cust-42</td>');
  });

  it('escapes values from the data, and loads nothing from outside the page', () => {
    expect(html).not.toContain('<script');
    expect(html).toContain('&#60;script&#62;');
    expect(html).not.toMatch(/\b(src|href)=/);
  });

  it('fits a regression model: no threshold, a histogram over the scores’ range, the target named', () => {
    const regression = renderRunReport({
      ...input,
      request: applyRunDefaults({
        input: 's3://b/x.csv',
        models: [{ variant: 'a', modelName: 'm', objective: 'reg:squarederror' }],
        results: { actualColumn: 'price' },
      }),
      queries: {
        'score-histogram': result(
          Array.from({ length: 20 }, (_, bucket) => ({
            variant: 'a',
            bucket,
            lower_bound: 100 + 50 * bucket,
            upper_bound: 150 + 50 * bucket,
            records: bucket,
          })),
        ),
        // Variant b has no true outcomes: its scores' range (beyond [0, 1]) says it is a regression too.
        summary: result([{ variant: 'b', records: 10, mean_score: 250, min_score: 100, max_score: 1100 }]),
        evaluation: result([
          {
            variant: 'a',
            model_kind: 'regression',
            metric: 'rmse',
            actual_class: null,
            predicted_class: null,
            value: 1234.5678,
            records: 10,
          },
        ]),
      },
    });
    expect(regression).toContain(
      "is the model's prediction of the regression target (the column <b>price</b>)",
    );
    expect(regression).not.toContain('threshold-marker');
    expect(regression).not.toContain('<td>Threshold</td>');
    expect(regression).toContain('>1,100</text>');
    expect(regression).toContain('<td>Root mean squared error</td><td class="n">1,234.5678</td>');
  });
});

/** A one-variant report of a model with this objective (undefined: nobody could read it). */
function reportOf(
  objective: string | undefined,
  results: { labels?: string[]; threshold?: number; actualColumn?: string } = {},
  queries: RunReportInput['queries'] = {},
): string {
  return renderRunReport({
    ...input,
    request: applyRunDefaults({
      input: 's3://b/x.csv',
      models: [{ variant: 'a', modelName: 'm', ...(objective ? { objective } : {}) }],
      results,
    }),
    completion: { ...input.completion, jobs: input.completion.jobs.filter((j) => j.variant === 'a') },
    queries: {
      'score-histogram': result(histogram('a', [5, 0, 0, 0, 0, 0, 0, 0, 0, 5])),
      summary: result([{ variant: 'a', records: 10, mean_score: 0.5, min_score: 0, max_score: 1 }]),
      ...queries,
    },
  });
}

/** The sentences saying what variant a's score is. */
const meaningOf = (html: string) =>
  /<p class="explain" id="score-meaning-a">(.*?)<\/p>/.exec(html)?.[1] ?? '';

describe('renderRunReport: what the score is, by the model’s objective', () => {
  const twoLabels = { labels: ['no', 'yes'], threshold: 0.7 };
  const threeLabels = { labels: ['setosa', 'versicolor', 'virginica'] };
  const cases: Array<[string | undefined, object, string]> = [
    ['binary:logistic', twoLabels, 'is the probability that the record is <b>yes</b> (class 1)'],
    ['binary:logitraw', twoLabels, 'is the raw margin (log-odds) of <b>yes</b> (class 1), any real number'],
    ['binary:hinge', twoLabels, 'is the predicted class, 0 or 1 (1 is <b>yes</b>)'],
    ['multi:softprob', threeLabels, 'is the probability of the most likely class'],
    ['multi:softmax', threeLabels, 'is the index of the predicted class (0, 1, …)'],
    ['reg:squarederror', {}, "is the model's prediction of the regression target"],
    ['reg:logistic', {}, "is the model's prediction of the regression target"],
    ['count:poisson', {}, 'is the count the model expects'],
    ['survival:cox', {}, 'is the hazard ratio the model predicts'],
    ['survival:aft', {}, 'is the survival time the model predicts'],
    ['rank:ndcg', {}, 'is a ranking score'],
    [undefined, twoLabels, "is the model's own output: this pipeline could not read the model's objective"],
  ];

  it('words each objective’s score as what it is, and only a probability as a probability', () => {
    for (const [objective, results, words] of cases) {
      const html = reportOf(objective, results);
      expect({ objective, meaning: meaningOf(html) }).toEqual({
        objective,
        meaning: expect.stringContaining(words),
      });
      const probability = objective === 'binary:logistic' || objective === 'multi:softprob';
      expect({ objective, probability: /probabilit/i.test(html) }).toEqual({ objective, probability });
    }
  });

  it('cuts a margin at the logit of the threshold and draws the line there', () => {
    const html = reportOf('binary:logitraw', { labels: ['no', 'yes'], threshold: 0.5 });
    expect(meaningOf(html)).toContain(
      '<code>label</code> is yes when the margin is at least 0 (the logit of the threshold 0.5), else no.',
    );
    expect(html).toContain('Scores: a: raw margin (log-odds) of yes');
    expect(html).toContain('the dashed line is the threshold on the margin, 0 (the logit of 0.5)');
    expect(html).toContain('<td>Threshold</td><td>0.5 (a: a margin of 0)</td>');
    expect(html).toContain('id="threshold-marker"');
  });

  it('says n/a for the log loss of a margin, which is no value between 0 and 1', () => {
    const html = reportOf(
      'binary:logitraw',
      { labels: ['no', 'yes'], actualColumn: 'churned' },
      {
        evaluation: result([
          { variant: 'a', model_kind: 'binary', metric: 'log_loss', value: 9.9, records: 10 },
        ]),
      },
    );
    expect(html).toContain('<td>Log loss</td><td>n/a for binary:logitraw</td>');
  });

  it('draws no threshold line when a probability and a margin share the histogram', () => {
    const html = renderRunReport({
      ...input,
      request: applyRunDefaults({
        input: 's3://b/x.csv',
        models: [
          { variant: 'a', modelName: 'm', objective: 'binary:logistic' },
          { variant: 'b', modelName: 'n', objective: 'binary:logitraw' },
        ],
        results: { labels: ['no', 'yes'], threshold: 0.5 },
      }),
    });
    expect(html).not.toContain('threshold-marker');
    expect(html).toContain(
      "no threshold line: the variants' scores are on different scales, so each is cut at its own (a at 0.5, b at 0)",
    );
    expect(html).toContain('Scores: a: probability of yes; b: raw margin (log-odds) of yes');
  });

  it('keeps to neutral words for a model whose objective nobody read, whatever its scores look like', () => {
    const html = reportOf(undefined, {});
    expect(meaningOf(html)).toContain("name it with the model's <code>objective</code> in the run request");
    expect(html).toContain('Scores: a: model score (objective unknown)');
    expect(html).not.toMatch(/probabilit/i);
  });
});

describe('epochMs', () => {
  it('reads ISO text, epoch milliseconds, epoch seconds and numeric text', () => {
    expect(epochMs('2026-11-21T10:00:01Z')).toBe(Date.UTC(2026, 10, 21, 10, 0, 1));
    expect(epochMs(1_795_000_000_000)).toBe(1_795_000_000_000);
    expect(epochMs(1_795_000_000)).toBe(1_795_000_000_000);
    expect(epochMs('1795000000.5')).toBe(1_795_000_000_500);
    expect(epochMs('soon')).toBeUndefined();
    expect(epochMs(undefined)).toBeUndefined();
  });
});

describe('renderFailureReport', () => {
  it('says what failed, where the failure record is, and that nothing was published', () => {
    const html = renderFailureReport({
      runId: 'nightly',
      executionName: 'exec-2',
      failedState: 'ParseResults',
      error: 'PredictionMismatchError',
      message: 'data/a.csv: 200 records but 199 predictions',
      cause: '{"errorMessage":"data/a.csv: 200 records but 199 predictions"}',
      recordedAt: '2026-11-21T10:00:00.000Z',
      failureUri: '.pipeline/s3/local-pipeline/runs/nightly/failure.json',
      request: undefined,
      plannedJobs: [
        { variant: 'a', shardId: '0000', jobName: 'j-a', instanceType: 'ml.m5.xlarge', instanceCount: 1 },
      ],
    });
    expect(html).toContain('<span class="bad">FAILED</span>');
    expect(html).toContain(
      '<p class="explain" id="failure-message">data/a.csv: 200 records but 199 predictions</p>',
    );
    expect(html).toContain('<td>Failed state</td><td>ParseResults (joining inputs with predictions)</td>');
    expect(html).toContain(
      '<td>Failure record</td><td>.pipeline/s3/local-pipeline/runs/nightly/failure.json</td>',
    );
    expect(html).toContain('Nothing of this run was published');
    expect(html).not.toMatch(/<script|\b(src|href)=/);
  });
});
