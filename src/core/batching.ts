import { RecordTooLargeError } from '../errors.js';
import { LineCursor } from './line-cursor.js';
import { type ByteSource, encodeRecordIO, encodeTFRecord, type InputRecord } from './record-splitting.js';
import type { BatchStrategy, SplitType } from './transform-job.js';

/** A record on its way to the model: what is sent (`data`), and the untouched input when a join needs it. */
export interface BatchRecord extends InputRecord {
  /** The record as read, before InputFilter; kept only when JoinSource is Input. */
  original?: Uint8Array;
}

/** One mini-batch: the HTTP request body and the records it carries. */
export interface RecordBatch {
  /** The request body: Line records joined with `\n`; RecordIO/TFRecord records re-framed; None as is. */
  readonly body: Buffer;
  /**
   * The body as consecutive pieces, when it was built from several (see {@link batchLines}): sent as they
   * are, so the body is never copied into one buffer unless something reads {@link body}.
   */
  parts?: readonly Buffer[];
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
  const lines = new LineCursor(
    source,
    Number.isFinite(limit)
      ? {
          maxLine: {
            bytes: limit,
            tooLong: (line, bytes) => new RecordTooLargeError(options.source, line, bytes, limit, 'line'),
          },
        }
      : {},
  );
  // The batch being built: its parts (runs of input and separators), size, count and line numbers.
  let parts: Buffer[] = [];
  let size = 0;
  let count = 0;
  let firstIndex = 0;
  let lastIndex = 0;
  // The open run: a contiguous range of one buffer holding whole lines joined by "\n".
  let runBuffer: Buffer | undefined;
  let runStart = 0;
  let runEnd = 0;
  const ready: RecordBatch[] = [];

  const closeRun = () => {
    if (runBuffer) {
      parts.push(runBuffer.subarray(runStart, runEnd));
      runBuffer = undefined;
    }
  };
  const flush = () => {
    if (count === 0) return;
    closeRun();
    if (parts.length === 1) ready.push({ body: parts[0] as Buffer, count, firstIndex, lastIndex });
    else ready.push(partsBatch(parts, size, count, firstIndex, lastIndex));
    parts = [];
    size = 0;
    count = 0;
  };
  /** Adds the non-empty line `buffer[start, end)`. */
  const add = (buffer: Buffer, start: number, end: number, index: number) => {
    const length = end - start;
    const added = count === 0 ? length : length + 1;
    if (count > 0 && (single || size + added > limit)) flush();
    if (count === 0) firstIndex = index;
    else {
      // Extend the open run when this line follows it across exactly one "\n".
      if (runBuffer === buffer && start === runEnd + 1) {
        runEnd = end;
        size += length + 1;
        count += 1;
        lastIndex = index;
        return;
      }
      closeRun();
      parts.push(NEWLINE);
      size += 1;
    }
    runBuffer = buffer;
    runStart = start;
    runEnd = end;
    size += length;
    count += 1;
    lastIndex = index;
  };

  try {
    for (;;) {
      while (lines.find()) {
        add(lines.buffer, lines.start, lines.end, lines.line);
        lines.consume();
      }
      if (ready.length > 0) {
        yield* ready;
        ready.length = 0;
      }
      if (lines.ended) break;
      await lines.fill();
    }
    flush();
    yield* ready;
  } finally {
    await lines.close();
  }
}

/**
 * A batch made of several pieces of the input. Copying 6 MB bodies into fresh buffers was a fifth of
 * the engine's CPU at a million rows; the HTTP client writes the pieces as they are instead, and the
 * joined body is made only if something asks for it (a client that takes one body, tests).
 */
function partsBatch(
  parts: Buffer[],
  size: number,
  count: number,
  firstIndex: number,
  lastIndex: number,
): RecordBatch {
  let joined: Buffer | undefined;
  return {
    get body() {
      joined ??= Buffer.concat(parts, size);
      return joined;
    },
    parts,
    count,
    firstIndex,
    lastIndex,
  };
}
