import { describe, expect, it } from 'vitest';
import { LineCursor } from '../../src/core/line-cursor.js';
import { splitRecords } from '../../src/core/record-splitting.js';

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** Every line the cursor finds, as [line number, text]. */
async function linesOf(cursor: LineCursor): Promise<[number, string][]> {
  const lines: [number, string][] = [];
  for (;;) {
    if (cursor.find()) {
      lines.push([cursor.line, cursor.buffer.toString('utf8', cursor.start, cursor.end)]);
      cursor.consume();
    } else if (cursor.ended) {
      return lines;
    } else {
      await cursor.fill();
    }
  }
}

describe('LineCursor', () => {
  it('drops CR of CRLF, skips blank lines but counts them, and ends a last line without newline', async () => {
    const text = Buffer.from('a,1\r\n\r\n\nb,2\nc');
    expect(await linesOf(new LineCursor(chunked(text, 2)))).toEqual([
      [1, 'a,1'],
      [4, 'b,2'],
      [5, 'c'],
    ]);
  });

  it('finds SplitType Line records at every chunk size: one CR dropped per line, also on an unterminated last line', async () => {
    const text = Buffer.from('x\r\n\n1,2,3\r\r\n\n\nlonger line with ünïcode\n\r\nlast\r');
    // Written by hand from SplitType Line's rules (a line ends at \n; one \r before it, or before the end
    // of the stream, is the line ending's; blank lines are counted, not returned), not from the product.
    const expected: [number, string][] = [
      [1, 'x'],
      [3, '1,2,3\r'],
      [6, 'longer line with ünïcode'],
      [8, 'last'],
    ];
    for (let size = 1; size <= text.length; size++) {
      expect(await linesOf(new LineCursor(chunked(text, size))), `chunk size ${size}`).toEqual(expected);
    }
  });

  it('gives splitRecords (SplitType Line) the same hand-written records', async () => {
    const records: [number, string][] = [];
    for await (const record of splitRecords(chunked(Buffer.from('a\r\n\nlast\r'), 3), 'Line')) {
      records.push([record.index, Buffer.from(record.data).toString('utf8')]);
    }
    expect(records).toEqual([
      [1, 'a'],
      [3, 'last'],
    ]);
  });

  it('keeps giving the same line until it is consumed, across fills of the other lines', async () => {
    const cursor = new LineCursor(chunked(Buffer.from('one\ntwo\n'), 3));
    await cursor.fill();
    expect(cursor.find()).toBe(true);
    expect(cursor.find()).toBe(true);
    expect(cursor.buffer.toString('utf8', cursor.start, cursor.end)).toBe('one');
    cursor.consume();
    expect(await cursor.countRest()).toBe(1);
  });

  it('joins a line spanning many chunks once', async () => {
    const long = 'z'.repeat(100_000);
    const lines = await linesOf(new LineCursor(chunked(Buffer.from(`${long}\nend\n`), 7)));
    expect(lines.map(([n, text]) => [n, text.length])).toEqual([
      [1, 100_000],
      [2, 3],
    ]);
  });

  it('reports read errors through onError, so they can name the object', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('a\nb');
      throw new Error('disk gone');
    }
    const cursor = new LineCursor(failing(), {
      onError: (error) => new Error(`s3://b/in/x: ${(error as Error).message}`),
    });
    await expect(linesOf(cursor)).rejects.toThrow('s3://b/in/x: disk gone');
  });
});
