import { describe, expect, it } from 'vitest';
import { createTransformProgress } from '../../src/local/progress.js';

const settings = {
  maxConcurrentTransforms: 2,
  batchStrategy: 'MultiRecord' as const,
  maxPayloadInMB: 6,
  source: {
    maxConcurrentTransforms: 'request',
    batchStrategy: 'request',
    maxPayloadInMB: 'request',
  } as const,
};

describe('createTransformProgress', () => {
  it('writes one plain line per finished file when not on a terminal', () => {
    const lines: string[] = [];
    const progress = createTransformProgress({ isTTY: false, write: (t) => lines.push(t) });
    progress({ type: 'job-started', jobName: 'j', objects: 1, totalBytes: 100, settings });
    progress({
      type: 'batch-written',
      jobName: 'j',
      inputUri: 's3://b/in/a.csv',
      records: 5,
      bytesRead: 50,
      bytesTotal: 100,
      jobRecords: 5,
      jobBytesRead: 50,
      jobBytesTotal: 100,
    });
    progress({
      type: 'object-completed',
      jobName: 'j',
      inputUri: 's3://b/in/a.csv',
      outputUri: 's3://b/out/a.csv.out',
      records: 1234,
    });
    expect(lines).toEqual(['  a.csv: 1,234 records transformed\n']);
  });

  it('redraws a bar with records, rate and ETA on a terminal', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = createTransformProgress(
      { isTTY: true, columns: 100, write: (t) => lines.push(t) },
      () => now,
    );
    progress({ type: 'job-started', jobName: 'j', objects: 1, totalBytes: 100, settings });
    now = 2000;
    progress({
      type: 'batch-written',
      jobName: 'j',
      inputUri: 's3://b/in/a.csv',
      records: 4000,
      bytesRead: 25,
      bytesTotal: 100,
      jobRecords: 4000,
      jobBytesRead: 25,
      jobBytesTotal: 100,
    });
    expect(lines[0]).toMatch(/^\r {2}\[#{5}-{15}\] {2}25% 4,000 records 2\.0k rec\/s ETA 6s a\.csv/);
    progress({ type: 'job-ended', jobName: 'j', status: 'Completed' });
    expect(lines.at(-1)).toBe('\r\u001b[2K');
  });
});
