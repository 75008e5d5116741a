import { describe, expect, it } from 'vitest';
import { type BatchRecord, batchLines, batchRecords, type RecordBatch } from '../../src/core/batching.js';
import { encodeTFRecord, splitRecords } from '../../src/core/record-splitting.js';
import type { BatchStrategy, SplitType } from '../../src/core/transform-job.js';
import { RecordTooLargeError } from '../../src/errors.js';

function lineRecords(lines: string[]): BatchRecord[] {
  return lines.map((line, i) => ({ data: Buffer.from(line), index: i + 1 }));
}

async function batch(
  records: BatchRecord[],
  strategy: BatchStrategy,
  maxPayloadBytes: number,
  splitType: SplitType = 'Line',
): Promise<RecordBatch[]> {
  async function* source() {
    // Two chunks, so batches must continue across them.
    const half = Math.ceil(records.length / 2);
    yield records.slice(0, half);
    yield records.slice(half);
  }
  const out: RecordBatch[] = [];
  for await (const b of batchRecords(source(), {
    strategy,
    splitType,
    maxPayloadBytes,
    source: 's3://b/in/f.csv',
  })) {
    out.push(b);
  }
  return out;
}

describe('batchRecords', () => {
  it('packs MultiRecord batches up to the limit, counting the newlines between records', async () => {
    // 4-byte records: "aaaa\nbbbb" is 9 bytes, a third would make 14 > 10.
    const batches = await batch(lineRecords(['aaaa', 'bbbb', 'cccc', 'dddd', 'ee']), 'MultiRecord', 10);
    expect(batches.map((b) => b.body.toString())).toEqual(['aaaa\nbbbb', 'cccc\ndddd', 'ee']);
    expect(batches.map((b) => [b.firstIndex, b.lastIndex])).toEqual([
      [1, 2],
      [3, 4],
      [5, 5],
    ]);
  });

  it('fills a batch exactly to the limit', async () => {
    const batches = await batch(lineRecords(['aaaa', 'bbbb']), 'MultiRecord', 9);
    expect(batches.map((b) => b.body.toString())).toEqual(['aaaa\nbbbb']);
  });

  it('sends one record per batch with SingleRecord', async () => {
    const batches = await batch(lineRecords(['a', 'b', 'c']), 'SingleRecord', 1000);
    expect(batches.map((b) => b.body.toString())).toEqual(['a', 'b', 'c']);
  });

  it('fails naming the file, the record and the sizes when one record is larger than the limit', async () => {
    const error = await batch(lineRecords(['ok', 'x'.repeat(20), 'ok']), 'MultiRecord', 10).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as Error).message).toBe(
      's3://b/in/f.csv: line 2 is 20 bytes, larger than the MaxPayloadInMB limit of 10 bytes (0 MB)',
    );
  });

  it('re-frames TFRecord batches so each batch is a valid TFRecord stream', async () => {
    const records = [Buffer.from('one'), Buffer.from('two'), Buffer.from('three')].map((d, i) => ({
      data: d,
      index: i + 1,
    }));
    const batches = await batch(records, 'MultiRecord', 2 * 16 + 6, 'TFRecord');
    expect(batches).toHaveLength(2);
    const first = batches[0] as RecordBatch;
    expect(
      Buffer.compare(
        first.body,
        Buffer.concat([encodeTFRecord(Buffer.from('one')), encodeTFRecord(Buffer.from('two'))]),
      ),
    ).toBe(0);
    const reread: string[] = [];
    for await (const r of splitRecords([first.body], 'TFRecord')) reread.push(Buffer.from(r.data).toString());
    expect(reread).toEqual(['one', 'two']);
  });

  it('does not limit batches when the payload limit is 0', async () => {
    const batches = await batch(lineRecords(['a'.repeat(100), 'b'.repeat(100)]), 'MultiRecord', 0);
    expect(batches).toHaveLength(1);
  });
});

describe('batchLines', () => {
  async function viaRecords(text: string, strategy: BatchStrategy, limit: number, chunk: number) {
    const out: string[] = [];
    const chunks = chunksOf(Buffer.from(text), chunk);
    async function* records() {
      const all = [];
      for await (const r of splitRecords(chunks, 'Line')) all.push(r);
      yield all;
    }
    for await (const b of batchRecords(records(), {
      strategy,
      splitType: 'Line',
      maxPayloadBytes: limit,
      source: 'x',
    })) {
      out.push(`${b.firstIndex}-${b.lastIndex}:${b.count}:${b.body.toString()}`);
    }
    return out;
  }
  async function viaLines(text: string, strategy: BatchStrategy, limit: number, chunk: number) {
    const out: string[] = [];
    for await (const b of batchLines(chunksOf(Buffer.from(text), chunk), {
      strategy,
      maxPayloadBytes: limit,
      source: 'x',
    })) {
      out.push(`${b.firstIndex}-${b.lastIndex}:${b.count}:${b.body.toString()}`);
    }
    return out;
  }
  /** The batches, or which line was too large: both paths must agree on either. */
  async function outcome(run: Promise<string[]>): Promise<string[] | string> {
    return run.catch((error: RecordTooLargeError) => `too large: line ${error.recordIndex}`);
  }
  function chunksOf(bytes: Buffer, size: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
    return out;
  }

  it('produces the same batches as splitting into records first, whatever the chunking', async () => {
    const samples = [
      'a,1\nb,2\nc,3\n',
      'a,1\r\nbb,2\r\n\r\nccc,3',
      '\n\nx\n\n\ny\r\n',
      'one line without newline',
      `${'long'.repeat(20)}\nshort\n${'m'.repeat(9)}\r\n\nz`,
    ];
    for (const text of samples) {
      for (const chunk of [1, 2, 3, 7, 1000]) {
        for (const [strategy, limit] of [
          ['MultiRecord', 12],
          ['MultiRecord', 0],
          ['SingleRecord', 100],
        ] as const) {
          expect(await outcome(viaLines(text, strategy, limit, chunk))).toEqual(
            await outcome(viaRecords(text, strategy, limit, chunk)),
          );
        }
      }
    }
  });

  it('cuts lines into the batches written by hand, CR of CRLF and of an unterminated last line dropped', async () => {
    // Expected batches written from SplitType Line's and MaxPayloadInMB's rules, not from splitRecords.
    const cases: [string, BatchStrategy, number, string[]][] = [
      ['a,1\r\nbb,2\r\n\r\nccc,3', 'MultiRecord', 12, ['1-2:2:a,1\nbb,2', '4-4:1:ccc,3']],
      ['x\r\nlast\r', 'MultiRecord', 100, ['1-2:2:x\nlast']],
      ['\n\nx\n\n\ny\r\n', 'SingleRecord', 100, ['3-3:1:x', '6-6:1:y']],
      ['aaaa\nbbbb\ncccc\r', 'MultiRecord', 9, ['1-2:2:aaaa\nbbbb', '3-3:1:cccc']],
    ];
    for (const [text, strategy, limit, expected] of cases) {
      for (const chunk of [1, 2, 3, 7, 1000]) {
        expect(
          await viaLines(text, strategy, limit, chunk),
          `${JSON.stringify(text)} in ${chunk}-byte chunks`,
        ).toEqual(expected);
      }
    }
  });

  it('fails naming the line and size of an oversized line', async () => {
    await expect(viaLines(`ok\n${'x'.repeat(30)}\nok\n`, 'MultiRecord', 10, 4)).rejects.toThrow(
      'x: line 2 is 30 bytes, larger than the MaxPayloadInMB limit of 10 bytes',
    );
  });
});
