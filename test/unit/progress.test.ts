import { describe, expect, it } from 'vitest';
import type { ParseProgressEvent } from '../../src/core/result-parsing.js';
import { RunProgress } from '../../src/local/progress.js';
import type { TransformProgressEvent } from '../../src/local/transform-engine.js';

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

const batch = (jobName: string, file: string, records: number, read: number): TransformProgressEvent => ({
  type: 'batch-written',
  jobName,
  inputUri: `s3://b/in/${file}`,
  records,
  bytesRead: read,
  bytesTotal: 100,
  jobRecords: records,
  jobBytesRead: read,
  jobBytesTotal: 100,
});

describe('RunProgress', () => {
  it('writes one plain line per finished file, labelled with its variant, when not on a terminal', () => {
    const lines: string[] = [];
    const progress = new RunProgress({ isTTY: false, write: (t) => lines.push(t) });
    progress.labelJob('j', 'xgb-a');
    progress.onTransformEvent({ type: 'job-started', jobName: 'j', objects: 1, totalBytes: 100, settings });
    progress.onTransformEvent(batch('j', 'a.csv', 5, 50));
    progress.onTransformEvent({
      type: 'object-completed',
      jobName: 'j',
      inputUri: 's3://b/in/a.csv',
      outputUri: 's3://b/out/a.csv.out',
      records: 1234,
    });
    expect(lines).toEqual(['  [xgb-a] a.csv: 1,234 records transformed\n']);
    expect(progress.recordsByVariant.get('xgb-a')).toBe(1234);
  });

  it('writes a line at least every interval while a big file is read, without a terminal', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = new RunProgress(
      { isTTY: false, write: (t) => lines.push(t) },
      { now: () => now, logIntervalMs: 5000 },
    );
    progress.labelJob('j', 'xgb');
    progress.onTransformEvent({ type: 'job-started', jobName: 'j', objects: 1, totalBytes: 100, settings });
    now = 1000;
    progress.onTransformEvent(batch('j', 'big.csv', 100, 10));
    expect(lines).toEqual([]);
    now = 5200;
    progress.onTransformEvent(batch('j', 'big.csv', 500, 40));
    now = 6000;
    progress.onTransformEvent(batch('j', 'big.csv', 600, 50));
    now = 10_300;
    progress.onTransformEvent(batch('j', 'big.csv', 900, 80));
    expect(lines).toEqual([
      '  [xgb] big.csv: 500 records so far (40% read)\n',
      '  [xgb] big.csv: 900 records so far (80% read)\n',
    ]);
  });

  it('draws one line per running job on a terminal, each with its variant and file, and keeps stage lines above', () => {
    const writes: string[] = [];
    let now = 0;
    const progress = new RunProgress(
      { isTTY: true, columns: 120, write: (t) => writes.push(t) },
      { now: () => now },
    );
    progress.labelJob('ja', 'xgb-a');
    progress.labelJob('jb', 'xgb-b');
    progress.onTransformEvent({ type: 'job-started', jobName: 'ja', objects: 1, totalBytes: 100, settings });
    progress.onTransformEvent({ type: 'job-started', jobName: 'jb', objects: 1, totalBytes: 100, settings });
    now = 2000;
    progress.onTransformEvent(batch('ja', 'a.csv', 4000, 25));
    now = 2200;
    progress.onTransformEvent(batch('jb', 'b.csv', 1000, 50));
    // The last draw: cursor up over the two lines, clear, then both jobs' lines.
    const last = writes.at(-1) ?? '';
    const lines = last.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^ {2}\[xgb-a\] \[#{4}-{12}\] {2}25% a\.csv: 4,000 records, 2\.0k rec\/s, ETA 6s$/,
    );
    expect(lines[1]).toMatch(/^ {2}\[xgb-b\] \[#{8}-{8}\] {2}50% b\.csv: 1,000 records/);
    expect(writes.at(-2)).toBe('\u001b[2A\r\u001b[0J');
    progress.print('  table registered');
    expect(writes.slice(-3)).toEqual([
      '\u001b[2A\r\u001b[0J',
      '  table registered\n',
      expect.stringMatching(/\[xgb-a\].*\n.*\[xgb-b\]/),
    ]);
    progress.onTransformEvent({ type: 'job-ended', jobName: 'ja', status: 'Completed' });
    expect(writes.at(-1)).toMatch(/^ {2}\[xgb-b\][^\n]*\n$/);
  });

  const parsed = (
    type: ParseProgressEvent['type'],
    records: number,
    bytesRead: number,
    variant = 'xgb',
  ): ParseProgressEvent => ({
    type,
    variant,
    shardId: '0000',
    inputUri: 's3://b/in/big.csv',
    object: 1,
    objects: 1,
    records,
    jobRecords: records,
    bytesRead,
    bytesTotal: 1000,
  });

  it('writes a parse line at least every interval while a big file is parsed, without a terminal', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = new RunProgress(
      { isTTY: false, write: (t) => lines.push(t) },
      { now: () => now, logIntervalMs: 5000 },
    );
    progress.onParseEvent(parsed('object-started', 0, 0));
    now = 2000;
    progress.onParseEvent(parsed('records-joined', 8192, 200));
    now = 5100;
    progress.onParseEvent(parsed('records-joined', 16_384, 400));
    now = 9000;
    progress.onParseEvent(parsed('records-joined', 24_576, 600));
    now = 10_200;
    progress.onParseEvent(parsed('records-joined', 32_768, 800));
    progress.onParseEvent(parsed('object-joined', 40_000, 1000));
    progress.parseEnded('xgb', '0000');
    expect(lines).toEqual([
      '  [xgb] parsing big.csv: 16,384 records so far (40% read)\n',
      '  [xgb] parsing big.csv: 32,768 records so far (80% read)\n',
    ]);
  });

  it('draws a line per job being parsed on a terminal and removes it when its state ends', () => {
    const writes: string[] = [];
    let now = 0;
    const progress = new RunProgress(
      { isTTY: true, columns: 120, write: (t) => writes.push(t) },
      { now: () => now },
    );
    progress.onParseEvent(parsed('object-started', 0, 0, 'a'));
    progress.onParseEvent(parsed('object-started', 0, 0, 'b'));
    now = 2000;
    progress.onParseEvent(parsed('records-joined', 8192, 500, 'a'));
    const lines = (writes.at(-1) ?? '').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^ {2}\[a\] parsing \[#{8}-{8}\] {2}50% big\.csv: 8,192 records, 4\.1k rec\/s, ETA 2s$/,
    );
    expect(lines[1]).toBe('  [b] parsing big.csv…');
    progress.parseEnded('a', '0000');
    expect(writes.at(-1)).toBe('  [b] parsing big.csv…\n');
  });

  it('names each query as it starts and as it ends with its time; in a log, both as lines', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = new RunProgress({ isTTY: false, write: (t) => lines.push(t) }, { now: () => now });
    progress.onQueryEvent({ type: 'query-started', name: 'summary' });
    now = 1250;
    progress.onQueryEvent({ type: 'query-finished', name: 'summary', rows: 4 });
    progress.onQueryEvent({ type: 'query-started', name: 'drift' });
    now = 1300;
    progress.onQueryEvent({ type: 'query-failed', name: 'drift' });
    expect(lines).toEqual([
      '  query summary started\n',
      '  query summary: 4 rows (1.25s)\n',
      '  query drift started\n',
      '  query drift failed (0.05s)\n',
    ]);
  });

  it('shows a running query as a live line on a terminal and prints it above once done', () => {
    const writes: string[] = [];
    let now = 0;
    const progress = new RunProgress(
      { isTTY: true, columns: 80, write: (t) => writes.push(t) },
      { now: () => now },
    );
    progress.onQueryEvent({ type: 'query-started', name: 'summary' });
    expect(writes).toEqual(['  query summary running…\n']);
    now = 300;
    progress.onQueryEvent({ type: 'query-finished', name: 'summary', rows: 1 });
    expect(writes.slice(1)).toEqual(['\u001b[1A\r\u001b[0J', '  query summary: 1 row (0.30s)\n']);
  });
});
