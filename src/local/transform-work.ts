/**
 * A job's work: input objects read in order and cut into batches (work items), each sent to the
 * container, and the answers assembled into output chunks (work results) for the writer.
 */
import { PassThrough, pipeline, type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type BatchRecord, batchLines, batchRecords, type RecordBatch } from '../core/batching.js';
import {
  countPredictions,
  predictionMismatch,
  type RecordProcessor,
  splitPredictions,
} from '../core/data-processing.js';
import { type InputIdentity, verifyInputIdentity } from '../core/input-identity.js';
import { type InputRecord, splitRecordChunks } from '../core/record-splitting.js';
import type { SplitType } from '../core/transform-job.js';
import {
  InvalidInputError,
  messageOf,
  TransformJobFailedError,
  TransformJobStoppedError,
} from '../errors.js';
import type { InvocationResult, ModelClient, ObjectStore } from '../ports.js';
import { isStreamingModelClient } from './http-model-client.js';
import { invokeWithRetries, type RunState } from './transform-invocation.js';
import { invokeOptions, type JobPlan } from './transform-settings.js';

const NEWLINE = Buffer.from('\n');

/** One input object of a job and the output key it owns. */
export interface InputObject {
  uri: string;
  size: number;
  outputUri: string;
  /** What the object was when the run was planned; checked before it is read (absent: not recorded). */
  identity?: InputIdentity;
}

/** A batch to send, a whole object to stream (MaxPayloadInMB 0), or an object with no records. */
export type WorkItem =
  | { kind: 'batch'; object: number; batch: RecordBatch; bytesRead: number; last: boolean }
  | { kind: 'stream'; object: number; last: true }
  | { kind: 'empty'; object: number; bytesRead: number; last: true };

/** A work item's output, ready to be written after the previous ones of its object. */
export interface WorkResult {
  object: number;
  chunks: Buffer[];
  records: number;
  bytesRead: number;
  last: boolean;
}

/** What processing a job's work items needs. */
export interface WorkContext {
  store: ObjectStore;
  plan: JobPlan;
  client: ModelClient;
  objects: InputObject[];
  state: RunState;
  retryBaseDelayMs: number;
}

/** Reads objects in order and cuts them into batches, flagging each object's last one. */
export async function* workItems(context: WorkContext): AsyncGenerator<WorkItem> {
  const { plan, objects, state } = context;
  for (let index = 0; index < objects.length; index++) {
    if (state.signal.aborted) throw new TransformJobStoppedError();
    if (state.failure) return;
    const object = objects[index] as InputObject;
    if (plan.maxPayloadBytes === 0) {
      await verifyInputIdentity(context.store, object.uri, object.identity);
      yield { kind: 'stream', object: index, last: true };
      continue;
    }
    const counter = { bytes: 0 };
    const input = await openInput(context.store, object.uri, plan.gzip, counter, object.identity);
    const batchOptions = {
      strategy: plan.settings.batchStrategy,
      splitType: plan.splitType,
      maxPayloadBytes: plan.maxPayloadBytes,
      source: object.uri,
    };
    let batches: AsyncIterable<RecordBatch>;
    if (plan.splitType === 'Line' && !plan.processor.filtersInput && !plan.processor.joinsInput) {
      // Records go out untouched: batch straight from the bytes, without an object per line.
      batches = batchLines(input, batchOptions);
    } else {
      let records: AsyncIterable<BatchRecord[]> = splitRecordChunks(input, plan.splitType, {
        maxRecordBytes: plan.maxPayloadBytes,
        source: object.uri,
      });
      if (plan.processor.filtersInput || plan.processor.joinsInput) {
        records = prepareRecords(records, plan.processor, object.uri, plan.splitType);
      }
      batches = batchRecords(records, batchOptions);
    }
    let previous: RecordBatch | undefined;
    try {
      for await (const batch of batches) {
        if (previous)
          yield { kind: 'batch', object: index, batch: previous, bytesRead: counter.bytes, last: false };
        previous = batch;
        if (state.signal.aborted) throw new TransformJobStoppedError();
        if (state.failure) return;
      }
    } catch (error) {
      if (error instanceof TransformJobStoppedError || error instanceof InvalidInputError) throw error;
      throw new TransformJobFailedError(
        `Failed to read ${object.uri}${plan.gzip ? ' (CompressionType Gzip)' : ''}: ${messageOf(error)}`,
        { cause: error },
      );
    }
    if (previous)
      yield { kind: 'batch', object: index, batch: previous, bytesRead: counter.bytes, last: true };
    else yield { kind: 'empty', object: index, bytesRead: counter.bytes, last: true };
  }
}

/** Sends one work item to the container and assembles the answer; the first failure stops the job. */
export async function processWorkItem(context: WorkContext, item: WorkItem): Promise<WorkResult> {
  const { plan, client, objects, state, retryBaseDelayMs } = context;
  if (item.kind === 'empty')
    return { object: item.object, chunks: [], records: 0, bytesRead: item.bytesRead, last: true };
  const object = objects[item.object] as InputObject;
  try {
    if (item.kind === 'stream') {
      const response = await invokeWithRetries(
        plan,
        state,
        {
          uri: object.uri,
          range: 'the whole object (MaxPayloadInMB 0)',
          call: async () => {
            const counter = { bytes: 0 };
            const body = await openInput(context.store, object.uri, plan.gzip, counter);
            if (isStreamingModelClient(client)) {
              return client.invokeStream(body, invokeOptions(plan));
            }
            const chunks: Buffer[] = [];
            for await (const chunk of body) chunks.push(chunk as Buffer);
            return client.invoke(Buffer.concat(chunks), invokeOptions(plan));
          },
        },
        retryBaseDelayMs,
      );
      return {
        object: item.object,
        chunks: assembleBody(plan, response.body),
        records: 1,
        bytesRead: object.size,
        last: true,
      };
    }
    const { batch } = item;
    const range = describeRange(plan.splitType, batch);
    const response = await invokeWithRetries(
      plan,
      state,
      {
        uri: object.uri,
        range,
        call: () =>
          batch.parts && isStreamingModelClient(client)
            ? client.invokeParts(batch.parts, invokeOptions(plan))
            : client.invoke(batch.body, invokeOptions(plan)),
        locate: (record) => locateRecord(context.store, plan, object.uri, batch, record),
      },
      retryBaseDelayMs,
    );
    const chunks = assemble(plan, object.uri, range, batch, response);
    return {
      object: item.object,
      chunks,
      records: batch.count,
      bytesRead: item.bytesRead,
      last: item.last,
    };
  } catch (error) {
    state.failure ??= error as Error;
    throw error;
  }
}

/** The object's bytes as a stream, counted as stored (before Gzip decompression) for progress. */
async function openInput(
  store: ObjectStore,
  uri: string,
  gzip: boolean,
  counter: { bytes: number },
  identity?: InputIdentity,
): Promise<Readable> {
  await verifyInputIdentity(store, uri, identity);
  const source = await store.getStream(uri);
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counter.bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const sink = gzip
    ? createGunzip({ chunkSize: 256 * 1024 })
    : new PassThrough({ readableHighWaterMark: 1 << 20 });
  // Errors anywhere (a truncated Gzip stream included) surface on the sink, which the splitter reads.
  pipeline(source, counting, sink, () => undefined);
  return sink;
}

/** A batch's answer as output chunks: per-record outputs rebuilt, or counted, or passed through. */
function assemble(
  plan: JobPlan,
  uri: string,
  range: string,
  batch: RecordBatch,
  response: InvocationResult,
): Buffer[] {
  const sent = batch.count;
  if (plan.alignment === 'rewrite') {
    const split = splitPredictions(response.body, sent, plan.outputFormat);
    if (!split.ok) throw predictionMismatch(uri, range, sent, split.received);
    const lines: string[] = new Array(sent);
    for (let k = 0; k < sent; k++) {
      const record = batch.records?.[k] as BatchRecord;
      try {
        lines[k] = plan.processor.assembleOutput(record.original, split.predictions[k] as Buffer);
      } catch (error) {
        throw new TransformJobFailedError(
          `${uri} ${describeIndex(plan.splitType, record.index)}: ${messageOf(error)}`,
          { cause: error },
        );
      }
    }
    return [Buffer.from(`${lines.join('\n')}\n`)];
  }
  if (plan.alignment === 'count') {
    const received = countPredictions(response.body, sent, plan.outputFormat);
    if (received !== sent) throw predictionMismatch(uri, range, sent, received);
  }
  return assembleBody(plan, response.body);
}

/** AssembleWith Line ends each response with a newline (not doubling one it already has); None concatenates. */
function assembleBody(plan: JobPlan, body: Uint8Array): Buffer[] {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (plan.assembleWith !== 'Line') return buffer.length > 0 ? [buffer] : [];
  return buffer.length > 0 && buffer[buffer.length - 1] === 0x0a ? [buffer] : [buffer, NEWLINE];
}

/**
 * The input's line (or record) that is the `record`-th (1-based) of a batch, for a container's
 * rejection; undefined when the batch has no such record. Blank lines are not sent, so a batch that
 * spans some is counted again from the object (only on this error path).
 */
async function locateRecord(
  store: ObjectStore,
  plan: JobPlan,
  uri: string,
  batch: RecordBatch,
  record: number,
): Promise<string | undefined> {
  if (record > batch.count) return undefined;
  const sent = batch.records?.[record - 1];
  if (sent) return describeIndex(plan.splitType, sent.index);
  if (batch.lastIndex - batch.firstIndex + 1 === batch.count) {
    return describeIndex(plan.splitType, batch.firstIndex + record - 1);
  }
  const input = await openInput(store, uri, plan.gzip, { bytes: 0 });
  try {
    let seen = 0;
    for await (const records of splitRecordChunks(input, plan.splitType, { source: uri })) {
      for (const candidate of records) {
        if (candidate.index < batch.firstIndex) continue;
        seen += 1;
        if (seen === record) return describeIndex(plan.splitType, candidate.index);
      }
    }
    return undefined;
  } catch {
    // Only a better message was at stake: the rejection itself is reported with the batch's range.
    return undefined;
  } finally {
    input.destroy();
  }
}

/** Applies InputFilter to each record, keeping the original when the join needs it. */
async function* prepareRecords(
  chunks: AsyncIterable<InputRecord[]>,
  processor: RecordProcessor,
  uri: string,
  splitType: SplitType,
): AsyncGenerator<BatchRecord[]> {
  for await (const records of chunks) {
    const out: BatchRecord[] = new Array(records.length);
    for (let k = 0; k < records.length; k++) {
      const record = records[k] as InputRecord;
      let data: Uint8Array;
      try {
        data = processor.filterInput(record.data);
      } catch (error) {
        throw new TransformJobFailedError(
          `${uri} ${describeIndex(splitType, record.index)}: InputFilter: ${messageOf(error)}`,
          { cause: error },
        );
      }
      out[k] = processor.joinsInput
        ? { data, index: record.index, original: record.data }
        : { data, index: record.index };
    }
    yield out;
  }
}

function describeIndex(splitType: SplitType, index: number): string {
  return splitType === 'Line' ? `line ${index}` : `record ${index}`;
}

function describeRange(splitType: SplitType, batch: RecordBatch): string {
  const unit = splitType === 'Line' ? 'lines' : 'records';
  const count = batch.count;
  if (batch.firstIndex === batch.lastIndex) return `${describeIndex(splitType, batch.firstIndex)} (1 record)`;
  return `${unit} ${batch.firstIndex}-${batch.lastIndex} (${count} records)`;
}
