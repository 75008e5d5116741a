import {
  type ByteSource,
  encodeRecordIO,
  encodeTFRecord,
  type InputRecord,
  RecordTooLargeError,
} from './record-splitting.js';
import type { BatchStrategy, SplitType } from './transform-job.js';

/** A record on its way to the model: what is sent (`data`), and the untouched input when a join needs it. */
export interface BatchRecord extends InputRecord {
  /** The record as read, before InputFilter; kept only when JoinSource is Input. */
  original?: Uint8Array;
}

/** One mini-batch: the HTTP request body and the records it carries. */
export interface RecordBatch {
  /** The request body: Line records joined with `\n`; RecordIO/TFRecord records re-framed; None as is. */
  body: Buffer;
  /** How many records the body holds. */
  count: number;
  /** The records themselves (absent from {@link batchLines}, which never cuts lines into objects). */
  records?: BatchRecord[];
  /** `index` of the first and last record (for Line: line numbers), for error messages. */
  firstIndex: number;
  lastIndex: number;
}

/** How {@link batchRecords} packs records. */
export interface BatchOptions {
  strategy: BatchStrategy;
  splitType: SplitType;
  /** Largest request body in bytes; 0 means no limit (only meaningful with SplitType None). */
  maxPayloadBytes: number;
  /** Names the object in error messages. */
  source: string;
}

const NEWLINE = Buffer.from('\n');

/**
 * The bytes one record adds to a batch body: its data plus the separator or framing SageMaker uses for
 * the split type. The payload limit applies to the body as sent, so framing counts.
 */
export function framedSize(record: InputRecord, splitType: SplitType, isFirst: boolean): number {
  switch (splitType) {
    case 'Line':
      return record.data.length + (isFirst ? 0 : 1);
    case 'RecordIO':
      return record.framed ? record.framed.length : encodedRecordIOSize(record.data);
    case 'TFRecord':
      return 16 + record.data.length;
    default:
      return record.data.length;
  }
}

function encodedRecordIOSize(data: Uint8Array): number {
  // Exact size including the extra headers dmlc adds where the data contains aligned magic numbers.
  return encodeRecordIO(data).length;
}

/**
 * Packs records into mini-batches as BatchStrategy does: SingleRecord sends each record alone;
 * MultiRecord fills each request up to `maxPayloadBytes`. Batches never span objects (the caller calls
 * this per object). Each batch body is built with one `Buffer.concat`.
 *
 * @throws RecordTooLargeError naming the object, record and sizes when one record alone is larger than
 *   the limit (SageMaker fails the job the same way).
 */
export async function* batchRecords(
  chunks: AsyncIterable<BatchRecord[]>,
  options: BatchOptions,
): AsyncGenerator<RecordBatch> {
  const limit = options.maxPayloadBytes > 0 ? options.maxPayloadBytes : Number.POSITIVE_INFINITY;
  const single = options.strategy === 'SingleRecord' || options.splitType === 'None';
  let pending: BatchRecord[] = [];
  let pendingBytes = 0;
  for await (const records of chunks) {
    const ready: RecordBatch[] = [];
    for (const record of records) {
      const size = framedSize(record, options.splitType, true);
      if (size > limit) {
        throw new RecordTooLargeError(
          options.source,
          record.index,
          size,
          limit,
          options.splitType === 'Line' ? 'line' : 'record',
        );
      }
      if (single) {
        ready.push(buildBatch([record], options.splitType));
        continue;
      }
      const added = pending.length === 0 ? size : framedSize(record, options.splitType, false);
      if (pendingBytes + added > limit) {
        ready.push(buildBatch(pending, options.splitType));
        pending = [record];
        pendingBytes = size;
      } else {
        pending.push(record);
        pendingBytes += added;
      }
    }
    yield* ready;
  }
  if (pending.length > 0) yield buildBatch(pending, options.splitType);
}

/** Builds one request body from records, framing them for the split type. */
export function buildBatch(records: BatchRecord[], splitType: SplitType): RecordBatch {
  const first = records[0];
  const last = records[records.length - 1];
  if (!first || !last) throw new Error('buildBatch needs at least one record');
  let body: Buffer;
  if (records.length === 1 && (splitType === 'Line' || splitType === 'None')) {
    body = toBuffer(first.data);
  } else {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as BatchRecord;
      switch (splitType) {
        case 'Line':
          if (i > 0) parts.push(NEWLINE);
          parts.push(record.data);
          break;
        case 'RecordIO':
          parts.push(record.framed ?? encodeRecordIO(record.data));
          break;
        case 'TFRecord':
          parts.push(record.framed ?? encodeTFRecord(record.data));
          break;
        default:
          parts.push(record.data);
      }
    }
    body = Buffer.concat(parts);
  }
  return { body, count: records.length, records, firstIndex: first.index, lastIndex: last.index };
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * SplitType Line batching straight from the byte stream, for jobs that send records untouched (no
 * InputFilter, no join). It produces exactly what `batchRecords(splitRecords(…, 'Line'))` produces
 * — same bodies, counts, line numbers and errors — but never makes an object per line: a batch is a
 * list of contiguous runs of the input (usually one or two per chunk), joined with one copy. This is
 * what lets the engine keep up with millions of small CSV records per second.
 *
 * @throws RecordTooLargeError as batchRecords does (without holding the oversized line).
 */
export async function* batchLines(
  source: ByteSource,
  options: Omit<BatchOptions, 'splitType'>,
): AsyncGenerator<RecordBatch> {
  const limit = options.maxPayloadBytes > 0 ? options.maxPayloadBytes : Number.POSITIVE_INFINITY;
  const single = options.strategy === 'SingleRecord';
  // The batch being built: its parts (runs of input and separators), size, count and line numbers.
  let parts: Buffer[] = [];
  let size = 0;
  let count = 0;
  let firstIndex = 0;
  let lastIndex = 0;
  // The open run: a contiguous range of the current chunk holding whole lines joined by "\n".
  let runChunk: Buffer | undefined;
  let runStart = 0;
  let runEnd = 0;
  let line = 0;
  // A line spanning chunks, as pieces; `carried` counts bytes even after pieces are dropped (oversize).
  let pieces: Buffer[] = [];
  let carried = 0;
  const ready: RecordBatch[] = [];

  const closeRun = () => {
    if (runChunk) {
      parts.push(runChunk.subarray(runStart, runEnd));
      runChunk = undefined;
    }
  };
  const flush = () => {
    if (count === 0) return;
    closeRun();
    const body = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
    ready.push({ body, count, firstIndex, lastIndex });
    parts = [];
    size = 0;
    count = 0;
  };
  /** Adds one non-empty line; `chunk`/`start`/`end` locate it when it lies inside the current chunk. */
  const add = (length: number, index: number, chunk: Buffer | undefined, start: number, data?: Buffer) => {
    if (length > limit) throw new RecordTooLargeError(options.source, index, length, limit, 'line');
    const added = count === 0 ? length : length + 1;
    if (count > 0 && (single || size + added > limit)) flush();
    if (count === 0) firstIndex = index;
    else {
      // Extend the open run when this line follows it across exactly one "\n".
      if (chunk && runChunk === chunk && start === runEnd + 1) {
        runEnd = start + length;
        size += length + 1;
        count += 1;
        lastIndex = index;
        return;
      }
      closeRun();
      parts.push(NEWLINE);
      size += 1;
    }
    if (chunk) {
      runChunk = chunk;
      runStart = start;
      runEnd = start + length;
    } else {
      parts.push(data as Buffer);
    }
    size += length;
    count += 1;
    lastIndex = index;
  };

  for await (const raw of source) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let start = 0;
    let end = chunk.indexOf(LF, 0);
    while (end !== -1) {
      line += 1;
      if (carried > 0) {
        const total = carried + end;
        let length = total;
        if (end > 0 ? chunk[end - 1] === CR : pieces.length > 0 && lastByte(pieces) === CR) length -= 1;
        if (length > limit) throw new RecordTooLargeError(options.source, line, length, limit, 'line');
        pieces.push(chunk.subarray(0, end));
        const data = Buffer.concat(pieces, total).subarray(0, length);
        pieces = [];
        carried = 0;
        if (length > 0) add(length, line, undefined, 0, data);
      } else {
        const length = end - start - (end > start && chunk[end - 1] === CR ? 1 : 0);
        if (length > 0) add(length, line, chunk, start);
      }
      start = end + 1;
      end = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      carried += rest.length;
      if (carried <= limit + 1) pieces.push(rest);
      else pieces = [];
    }
    // Runs never reach into the next chunk, so the batch cannot extend this run later.
    closeRun();
    if (ready.length > 0) {
      yield* ready;
      ready.length = 0;
    }
  }
  if (carried > 0) {
    line += 1;
    if (carried > limit + 1 || pieces.length === 0) {
      throw new RecordTooLargeError(options.source, line, carried, limit, 'line');
    }
    let data = Buffer.concat(pieces, carried);
    if (data[data.length - 1] === CR) data = data.subarray(0, data.length - 1);
    if (data.length > 0) add(data.length, line, undefined, 0, data);
  }
  flush();
  yield* ready;
}

function lastByte(pieces: Buffer[]): number | undefined {
  const last = pieces[pieces.length - 1];
  return last ? last[last.length - 1] : undefined;
}
