import { describe, expect, it } from 'vitest';
import { type RunReportInput, renderRunReport } from '../../src/core/run-report.js';

const histogram = (variant: string, counts: number[]) =>
  counts.map((records, bucket) => ({
    variant,
    bucket,
    lower_bound: bucket / 10,
    upper_bound: (bucket + 1) / 10,
    records,
  }));

const input: RunReportInput = {
  runId: 'nightly',
  runDate: '2026-11-21',
  executionName: 'exec-1',
  startedAt: '2026-11-21T10:00:00.000Z',
  finishedAt: '2026-11-21T10:00:12.500Z',
  request: {
    input: 's3://b/incoming/x/',
    models: [
      { variant: 'a', modelName: 'model-a' },
      { variant: 'b', modelName: 'model-b' },
    ],
    transform: { SplitType: 'Line', MaxPayloadInMB: 6 },
    results: { threshold: 0.7, labels: ['no', 'yes'] },
  },
  recordsIn: 20,
  recordsOut: 20,
  table: 'db.predictions',
  jobs: [
    {
      variant: 'a',
      shardId: '0000',
      recordsIn: 10,
      recordsOut: 10,
      transformJob: {
        TransformJobName: 'j-a',
        TransformStartTime: '2026-11-21T10:00:01Z',
        TransformEndTime: '2026-11-21T10:00:04Z',
      },
    },
    { variant: 'b', shardId: '0000', recordsIn: 10, recordsOut: 10 },
  ],
  histogram: [
    ...histogram('a', [5, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
    ...histogram('b', [4, 1, 0, 0, 0, 0, 0, 0, 0, 5]),
  ],
  labelCounts: [
    { variant: 'a', label: 'yes', records: 5, share: 0.5 },
    { variant: 'a', label: '<script>alert(1)</script>', records: 5, share: 0.5 },
  ],
  comparison: [
    {
      variant_a: 'a',
      variant_b: 'b',
      records: 10,
      label_agreement: 0.9,
      mean_abs_score_diff: 0.05,
      max_abs_score_diff: 0.3,
    },
  ],
  summary: { columns: ['variant', 'records'], rows: [{ variant: 'a', records: 10 }] },
};

describe('renderRunReport', () => {
  const html = renderRunReport(input);

  it('shows the run, its record counts, duration and parameters', () => {
    expect(html).toContain('<h1>Run nightly</h1>');
    expect(html).toContain('<b id="records-in">20</b>');
    expect(html).toContain('<b id="records-out">20</b>');
    expect(html).toContain('12.5 s');
    expect(html).toContain('<td>MaxPayloadInMB</td><td>6</td>');
    expect(html).toContain('<td>Threshold</td><td>0.7</td>');
    expect(html).toContain(
      '<td>j-a</td><td>a</td><td>0000</td><td class="n">10</td><td class="n">10</td><td>3.00 s</td>',
    );
  });

  it('draws one histogram per variant with a bar per bucket', () => {
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html.match(/<rect /g)).toHaveLength(20);
    expect(html).toContain('aria-label="Score histogram of b"');
  });

  it('compares the variants', () => {
    expect(html).toContain(
      '<td>a</td><td>b</td><td class="n">10</td><td>90.0%</td><td>0.0500</td><td>0.3000</td>',
    );
  });

  it('escapes values from the data, and loads nothing from outside the page', () => {
    expect(html).not.toContain('<script');
    expect(html).toContain('&#60;script&#62;');
    expect(html).not.toMatch(/\b(src|href)=/);
  });
});
