import type { SplitType } from './transform-job.js';

/** One record cut from an input object, with where it came from (1-based) for error messages. */
export interface InputRecord {
  /** The record's bytes without framing (for Line: without the line terminator). */
  data: Uint8Array;
  /** 1-based record number within its object (for Line: the line number, blank lines included). */
  index: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Cuts a byte stream into records as Batch Transform's SplitType does, without holding more than one
 * chunk plus one partial record in memory.
 *
 * Line: records end at `\n`; a trailing `\r` is dropped (CRLF files); a missing final newline still ends
 * the last record; blank lines are not records (their line numbers are still counted).
 * None: the whole object is one record.
 */
export async function* splitRecords(
  source: AsyncIterable<Uint8Array>,
  splitType: SplitType,
): AsyncGenerator<InputRecord> {
  if (splitType === 'None') {
    const chunks: Uint8Array[] = [];
    for await (const chunk of source) chunks.push(chunk);
    yield { data: Buffer.concat(chunks), index: 1 };
    return;
  }
  if (splitType !== 'Line') {
    throw new Error(`SplitType ${splitType} is not supported by splitRecords yet`);
  }
  yield* splitLines(source);
}

async function* splitLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<InputRecord> {
  let carry: Buffer | undefined;
  let line = 0;
  for await (const raw of source) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let start = 0;
    let end = chunk.indexOf(NEWLINE, start);
    while (end !== -1) {
      line += 1;
      const piece = chunk.subarray(start, end);
      const data = carry ? Buffer.concat([carry, piece]) : piece;
      carry = undefined;
      const record = trimCarriageReturn(data);
      if (record.length > 0) yield { data: record, index: line };
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      // Copy: the source may reuse its chunk buffers.
      carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
    }
  }
  if (carry && carry.length > 0) {
    line += 1;
    const record = trimCarriageReturn(carry);
    if (record.length > 0) yield { data: record, index: line };
  }
}

function trimCarriageReturn(data: Buffer): Buffer {
  return data.length > 0 && data[data.length - 1] === CARRIAGE_RETURN
    ? data.subarray(0, data.length - 1)
    : data;
}
