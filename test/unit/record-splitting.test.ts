import { describe, expect, it } from 'vitest';
import {
  crc32c,
  encodeRecordIO,
  encodeTFRecord,
  type InputRecord,
  RECORDIO_MAGIC,
  splitRecords,
} from '../../src/core/record-splitting.js';
import type { SplitType } from '../../src/core/transform-job.js';
import { RecordTooLargeError } from '../../src/errors.js';

/** Feeds bytes in fixed-size chunks, so records straddle chunk boundaries. */
async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield Buffer.from(bytes.subarray(i, i + size));
}

async function split(
  bytes: Uint8Array | string,
  splitType: SplitType,
  chunkSize = 3,
  maxRecordBytes?: number,
): Promise<InputRecord[]> {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const out: InputRecord[] = [];
  const options =
    maxRecordBytes === undefined ? { source: 's3://b/in/x' } : { source: 's3://b/in/x', maxRecordBytes };
  for await (const record of splitRecords(chunked(data, chunkSize), splitType, options)) out.push(record);
  return out;
}

const text = (records: InputRecord[]) => records.map((r) => Buffer.from(r.data).toString());

describe('splitRecords with SplitType Line', () => {
  it('drops the CR of CRLF line ends', async () => {
    expect(text(await split('a,1\r\nb,2\r\n', 'Line'))).toEqual(['a,1', 'b,2']);
  });

  it('ends the last record without a final newline', async () => {
    expect(text(await split('first\nsecond', 'Line'))).toEqual(['first', 'second']);
  });

  it('skips blank lines but keeps counting line numbers', async () => {
    const records = await split('one\n\ntwo\r\n\nthree\n', 'Line', 2);
    expect(text(records)).toEqual(['one', 'two', 'three']);
    expect(records.map((r) => r.index)).toEqual([1, 3, 5]);
  });

  it('rejoins a line spread over many chunks', async () => {
    const long = 'x'.repeat(1000);
    expect(text(await split(`${long}\nshort\n`, 'Line', 7))).toEqual([long, 'short']);
  });

  it('fails naming the line and its size when a line exceeds the limit, without holding it', async () => {
    const error = await split(`ok\n${'y'.repeat(50)}\nok\n`, 'Line', 4, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as Error).message).toContain('s3://b/in/x: line 2 is 50 bytes');
  });
});

describe('splitRecords with SplitType Line and a size limit', () => {
  it('measures a line without its CR wherever chunks end: a line of exactly the limit passes', async () => {
    const input = `ok\r\n${'y'.repeat(10)}\r\n${'z'.repeat(11)}\r\nlast\r\n`;
    for (let size = 1; size <= input.length; size++) {
      const seen: string[] = [];
      const error = await (async () => {
        for await (const r of splitRecords(chunked(Buffer.from(input), size), 'Line', {
          source: 's3://b/in/x',
          maxRecordBytes: 10,
        })) {
          seen.push(Buffer.from(r.data).toString());
        }
      })().catch((e: unknown) => e);
      expect((error as Error).message, `chunk size ${size}`).toContain('s3://b/in/x: line 3 is 11 bytes');
      expect(seen, `chunk size ${size}`).toEqual(['ok', 'y'.repeat(10)].slice(0, seen.length));
    }
  });
});

describe('splitRecords with SplitType None', () => {
  it('yields the whole object as one record', async () => {
    expect(text(await split('a\nb\n', 'None'))).toEqual(['a\nb\n']);
  });
});

describe('splitRecords with SplitType RecordIO', () => {
  it('reads records with 4-byte padding across chunk boundaries', async () => {
    const stream = Buffer.concat([
      encodeRecordIO(Buffer.from('abcde')),
      encodeRecordIO(Buffer.from('')),
      encodeRecordIO(Buffer.from('xyz1')),
    ]);
    // 5 bytes pad to 8; 0 stays 0; 4 needs none.
    expect(stream.length).toBe(8 + 8 + 8 + 8 + 4);
    expect(text(await split(stream, 'RecordIO', 5))).toEqual(['abcde', '', 'xyz1']);
  });

  it('rejoins multi-part records with the magic number between parts, as dmlc does', async () => {
    const magic = Buffer.alloc(4);
    magic.writeUInt32LE(RECORDIO_MAGIC);
    const payload = Buffer.concat([
      Buffer.from('abcd'),
      magic,
      Buffer.from('efgh'),
      magic,
      Buffer.from('ij'),
    ]);
    const framed = encodeRecordIO(payload);
    // Three parts: cflag 1, 2 and 3.
    expect(framed.readUInt32LE(4) >>> 29).toBe(1);
    const records = await split(Buffer.concat([framed, encodeRecordIO(Buffer.from('next'))]), 'RecordIO', 3);
    expect(records).toHaveLength(2);
    expect(Buffer.compare(Buffer.from(records[0]?.data ?? []), payload)).toBe(0);
    expect(records.map((r) => r.index)).toEqual([1, 2]);
  });

  it('fails on a wrong magic number and on a truncated stream', async () => {
    await expect(split(Buffer.from('not recordio at all'), 'RecordIO')).rejects.toThrow(
      /expected magic 0xced7230a/,
    );
    const framed = encodeRecordIO(Buffer.from('abcdefgh'));
    await expect(split(framed.subarray(0, framed.length - 2), 'RecordIO')).rejects.toThrow(
      /truncated: record 1/,
    );
  });
});

describe('splitRecords with SplitType TFRecord', () => {
  it('computes CRC-32C as the standard check value says', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('reads records and keeps their framing for re-batching', async () => {
    const a = encodeTFRecord(Buffer.from('hello'));
    const b = encodeTFRecord(Buffer.from('world!'));
    const records = await split(Buffer.concat([a, b]), 'TFRecord', 5);
    expect(text(records)).toEqual(['hello', 'world!']);
    expect(Buffer.compare(Buffer.from(records[1]?.framed ?? []), b)).toBe(0);
  });

  it('fails naming the record when the data CRC does not match', async () => {
    const good = encodeTFRecord(Buffer.from('fine'));
    const bad = encodeTFRecord(Buffer.from('flipped'));
    bad[14] = (bad[14] as number) ^ 0xff;
    await expect(split(Buffer.concat([good, bad]), 'TFRecord')).rejects.toThrow(
      /s3:\/\/b\/in\/x: TFRecord record 2 at byte 20: data CRC mismatch/,
    );
  });

  it('fails when the length CRC does not match', async () => {
    const bad = encodeTFRecord(Buffer.from('x'));
    bad[8] = (bad[8] as number) ^ 0x01;
    await expect(split(bad, 'TFRecord')).rejects.toThrow(/record 1 at byte 0: length CRC mismatch/);
  });

  it('fails naming the record and size when a record exceeds the limit', async () => {
    const big = encodeTFRecord(Buffer.alloc(100, 1));
    await expect(split(big, 'TFRecord', 7, 64)).rejects.toThrow(
      /record 1 is 100 bytes, larger than the MaxPayloadInMB limit of 64 bytes/,
    );
  });
});
