import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeRecordIO, encodeTFRecord, splitRecords } from '../../src/core/record-splitting.js';
import type { SplitType, TransformJobRequest } from '../../src/core/transform-job.js';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { HttpModelClient } from '../../src/local/http-model-client.js';
import { LocalTransformEngine, type TransformProgressEvent } from '../../src/local/transform-engine.js';
import { csvTransformRequest } from '../helpers/transform-request.js';

/** What the test container saw of one POST /invocations. */
interface SeenRequest {
  contentType: string | undefined;
  accept: string | undefined;
  transferEncoding: string | undefined;
  body: Buffer;
}

type Reply = { status?: number; body: string | Buffer; delayMs?: number; headers?: Record<string, string> };

/**
 * A tiny model container on 127.0.0.1: by default it answers each CSV line with the sum of its
 * numbers, one line per record (RecordIO/TFRecord bodies: one line per record, the record's text).
 */
class TestContainer {
  server!: Server;
  url = '';
  requests: SeenRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  executionParameters: object | undefined;
  /** Override the answer to one invocation (n counts from 1). */
  reply: (request: SeenRequest, n: number) => Reply | Promise<Reply> = (request) => ({
    body: defaultAnswer(request),
  });

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.url === '/ping') {
      res.writeHead(200).end();
      return;
    }
    if (req.url === '/execution-parameters') {
      if (this.executionParameters)
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(this.executionParameters));
      else res.writeHead(404).end();
      return;
    }
    const seen: SeenRequest = {
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      transferEncoding: req.headers['transfer-encoding'],
      body: Buffer.concat(chunks),
    };
    this.requests.push(seen);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const reply = await this.reply(seen, this.requests.length);
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (!res.destroyed)
        res
          .writeHead(reply.status ?? 200, { 'content-type': seen.accept ?? 'text/csv', ...reply.headers })
          .end(reply.body);
    } finally {
      this.inFlight -= 1;
    }
  }
}

function sumLine(line: string): string {
  return String(line.split(',').reduce((sum, v) => sum + Number(v), 0));
}

function defaultAnswer(request: SeenRequest): string {
  const type = request.contentType ?? '';
  if (type === 'application/x-recordio' || type === 'application/x-tfrecord') return '';
  return request.body
    .toString()
    .split('\n')
    .filter((l) => l !== '')
    .map(sumLine)
    .join('\n');
}

async function framedAnswer(request: SeenRequest, splitType: SplitType): Promise<string> {
  const lines: string[] = [];
  for await (const record of splitRecords([request.body], splitType))
    lines.push(Buffer.from(record.data).toString());
  return lines.join('\n');
}

describe('LocalTransformEngine', () => {
  let root: string;
  let store: FileObjectStore;
  let container: TestContainer;
  let resolved: { modelName: string; environment: Record<string, string> }[];
  let events: TransformProgressEvent[];
  let engine: LocalTransformEngine;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'engine-'));
    store = new FileObjectStore(root);
    container = new TestContainer();
    await container.start();
    resolved = [];
    events = [];
    engine = new LocalTransformEngine({
      store,
      resolveModel: (modelName, environment) => {
        resolved.push({ modelName, environment });
        return new HttpModelClient(container.url);
      },
      log: (event) => events.push(event),
      retryBaseDelayMs: 1,
      startupTimeoutMs: 1000,
    });
  });

  afterEach(async () => {
    await container.stop();
    await rm(root, { recursive: true, force: true });
  });

  const request = (overrides: Partial<TransformJobRequest> = {}) =>
    csvTransformRequest({ ModelName: 'sum-model', ...overrides });

  const read = async (uri: string) => Buffer.from(await store.getBytes(uri)).toString();
  const outputKeys = async () =>
    (await readdir(join(root, 'bucket'), { recursive: true }).catch(() => [] as string[])).filter((k) =>
      k.endsWith('.out'),
    );

  describe('runTransformJob', () => {
    it('writes one output per object under the prefix, named by the input key plus .out', async () => {
      await store.put('s3://bucket/in/a.csv', '1,2\n3,4\n');
      await store.put('s3://bucket/in/day2/b.csv', '10,20\r\n30,40');
      const description = await engine.runTransformJob(request());
      expect(description.TransformJobStatus).toBe('Completed');
      expect(await read('s3://bucket/out/a.csv.out')).toBe('3\n7\n');
      expect(await read('s3://bucket/out/day2/b.csv.out')).toBe('30\n70\n');
      expect(description.TransformJobArn).toBe('arn:aws:sagemaker:local:000000000000:transform-job/job-1');
      expect(description.FailureReason).toBeUndefined();
      const times = [description.CreationTime, description.TransformStartTime, description.TransformEndTime];
      expect(times.every((t) => typeof t === 'string' && !Number.isNaN(Date.parse(t)))).toBe(true);
      expect(engine.describeTransformJob('job-1')).toEqual(description);
    });

    it('reads only the objects a manifest lists, naming outputs relative to its prefix', async () => {
      await store.put('s3://bucket/data/x/one.csv', '1,1\n');
      await store.put('s3://bucket/data/two.csv', '2,2\n');
      await store.put('s3://bucket/data/ignored.csv', '9,9\n');
      await store.put(
        's3://bucket/m.json',
        JSON.stringify([{ prefix: 's3://bucket/data/' }, 'x/one.csv', 'two.csv']),
      );
      const description = await engine.runTransformJob(
        request({
          TransformInput: {
            DataSource: { S3DataSource: { S3DataType: 'ManifestFile', S3Uri: 's3://bucket/m.json' } },
            ContentType: 'text/csv',
            SplitType: 'Line',
          },
        }),
      );
      expect(description.TransformJobStatus).toBe('Completed');
      expect(await read('s3://bucket/out/x/one.csv.out')).toBe('2\n');
      expect(await read('s3://bucket/out/two.csv.out')).toBe('4\n');
      expect((await outputKeys()).sort()).toEqual(['out/two.csv.out', 'out/x/one.csv.out']);
    });

    it('fails naming the key when a manifest lists a missing object', async () => {
      await store.put('s3://bucket/m.json', JSON.stringify([{ prefix: 's3://bucket/data/' }, 'gone.csv']));
      const description = await engine.runTransformJob(
        request({
          TransformInput: {
            DataSource: { S3DataSource: { S3DataType: 'ManifestFile', S3Uri: 's3://bucket/m.json' } },
            ContentType: 'text/csv',
            SplitType: 'Line',
          },
        }),
      );
      expect(description.TransformJobStatus).toBe('Failed');
      expect(description.FailureReason).toContain('s3://bucket/data/gone.csv');
    });

    it('fails when the prefix holds no objects', async () => {
      const description = await engine.runTransformJob(request());
      expect(description.FailureReason).toMatch(/No S3 objects found under S3 URL "s3:\/\/bucket\/in\/"/);
    });

    it('decompresses Gzip input and fails naming the file when it is truncated', async () => {
      const zipped = gzipSync(Buffer.from('1,2\n3,4\n'.repeat(1000)));
      await store.put('s3://bucket/in/a.csv.gz', zipped);
      const ok = await engine.runTransformJob(
        request({ TransformInput: { ...request().TransformInput, CompressionType: 'Gzip' } }),
      );
      expect(ok.TransformJobStatus).toBe('Completed');
      expect(await read('s3://bucket/out/a.csv.gz.out')).toBe('3\n7\n'.repeat(1000));

      await store.put('s3://bucket/in/a.csv.gz', zipped.subarray(0, zipped.length - 20));
      const failed = await engine.runTransformJob(
        request({
          TransformJobName: 'job-2',
          TransformInput: { ...request().TransformInput, CompressionType: 'Gzip' },
        }),
      );
      expect(failed.TransformJobStatus).toBe('Failed');
      expect(failed.FailureReason).toMatch(
        /Failed to read s3:\/\/bucket\/in\/a\.csv\.gz \(CompressionType Gzip\): unexpected end of file/,
      );
      expect(await outputKeys()).toEqual([]);
    });

    it('sends the content type and Accept as headers', async () => {
      await store.put('s3://bucket/in/a.csv', '1,2\n');
      await engine.runTransformJob(request());
      expect(container.requests[0]?.contentType).toBe('text/csv');
      expect(container.requests[0]?.accept).toBe('text/csv');
    });

    it('sends each object whole with SplitType None', async () => {
      await store.put('s3://bucket/in/a.csv', '1,2\n3,4\n');
      await store.put('s3://bucket/in/b.csv', '5,5\n');
      const description = await engine.runTransformJob(
        request({ TransformInput: { ...request().TransformInput, SplitType: 'None' } }),
      );
      expect(description.TransformJobStatus).toBe('Completed');
      expect(container.requests.map((r) => r.body.toString())).toEqual(['1,2\n3,4\n', '5,5\n']);
      expect(await read('s3://bucket/out/a.csv.out')).toBe('3\n7\n');
    });

    for (const [splitType, encode, contentType] of [
      ['RecordIO', encodeRecordIO, 'application/x-recordio'],
      ['TFRecord', encodeTFRecord, 'application/x-tfrecord'],
    ] as const) {
      it(`re-frames ${splitType} records into valid ${splitType} batches`, async () => {
        const records = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
        await store.put('s3://bucket/in/r.bin', Buffer.concat(records.map((r) => encode(Buffer.from(r)))));
        container.reply = async (req) => ({ body: await framedAnswer(req, splitType) });
        const multi = await engine.runTransformJob(
          request({
            BatchStrategy: 'MultiRecord',
            TransformInput: { ...request().TransformInput, SplitType: splitType, ContentType: contentType },
            TransformOutput: { S3OutputPath: 's3://bucket/out', Accept: 'text/plain', AssembleWith: 'Line' },
          }),
        );
        expect(multi.TransformJobStatus).toBe('Completed');
        expect(container.requests).toHaveLength(1);
        expect(await read('s3://bucket/out/r.bin.out')).toBe(`${records.join('\n')}\n`);

        container.requests = [];
        const single = await engine.runTransformJob(
          request({
            TransformJobName: 'job-2',
            BatchStrategy: 'SingleRecord',
            TransformInput: { ...request().TransformInput, SplitType: splitType, ContentType: contentType },
            TransformOutput: { S3OutputPath: 's3://bucket/out2', Accept: 'text/plain', AssembleWith: 'Line' },
          }),
        );
        expect(single.TransformJobStatus).toBe('Completed');
        expect(container.requests).toHaveLength(5);
        expect(await read('s3://bucket/out2/r.bin.out')).toBe(`${records.join('\n')}\n`);
      });
    }

    it('fails naming the record when a TFRecord CRC is wrong', async () => {
      const bad = encodeTFRecord(Buffer.from('broken'));
      bad[13] = (bad[13] as number) ^ 0xff;
      await store.put('s3://bucket/in/r.tfrecord', Buffer.concat([encodeTFRecord(Buffer.from('ok')), bad]));
      const description = await engine.runTransformJob(
        request({
          TransformInput: {
            ...request().TransformInput,
            SplitType: 'TFRecord',
            ContentType: 'application/x-tfrecord',
          },
        }),
      );
      expect(description.FailureReason).toMatch(
        /s3:\/\/bucket\/in\/r\.tfrecord: TFRecord record 2 .*data CRC mismatch/,
      );
    });

    it('sends one record per request with SingleRecord and packs them with MultiRecord', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n3\n4\n');
      await engine.runTransformJob(request({ BatchStrategy: 'SingleRecord' }));
      expect(container.requests.map((r) => r.body.toString())).toEqual(['1', '2', '3', '4']);
      container.requests = [];
      await engine.runTransformJob(request({ TransformJobName: 'job-2', BatchStrategy: 'MultiRecord' }));
      expect(container.requests.map((r) => r.body.toString())).toEqual(['1\n2\n3\n4']);
    });

    it('keeps every request within MaxPayloadInMB', async () => {
      const line = `${'1,'.repeat(100_000)}1`; // ~200 KB
      await store.put('s3://bucket/in/a.csv', `${line}\n`.repeat(12));
      const description = await engine.runTransformJob(
        request({ MaxPayloadInMB: 1, BatchStrategy: 'MultiRecord' }),
      );
      expect(description.TransformJobStatus).toBe('Completed');
      expect(container.requests.length).toBe(3);
      expect(container.requests.every((r) => r.body.length <= 1024 * 1024)).toBe(true);
      expect(await read('s3://bucket/out/a.csv.out')).toBe('100001\n'.repeat(12));
    });

    it('fails naming the file, line and sizes when one record is larger than MaxPayloadInMB', async () => {
      await store.put('s3://bucket/in/a.csv', `1,2\n${'9'.repeat(1024 * 1024 + 10)}\n`);
      const description = await engine.runTransformJob(request({ MaxPayloadInMB: 1 }));
      expect(description.TransformJobStatus).toBe('Failed');
      expect(description.FailureReason).toBe(
        's3://bucket/in/a.csv: line 2 is 1048586 bytes, larger than the MaxPayloadInMB limit of 1048576 bytes (1 MB)',
      );
      expect(await outputKeys()).toEqual([]);
    });

    it('writes identical bytes with MaxConcurrentTransforms 1 and 8', async () => {
      const lines = Array.from({ length: 200 }, (_, i) => `${i},${i % 7}`);
      await store.put('s3://bucket/in/a.csv', lines.join('\n'));
      await store.put('s3://bucket/in/b.csv', lines.slice(0, 50).join('\n'));
      // Random delays make later batches overtake earlier ones.
      container.reply = (req) => ({ body: defaultAnswer(req), delayMs: Math.floor(Math.random() * 4) });
      await engine.runTransformJob(request({ MaxConcurrentTransforms: 1, BatchStrategy: 'SingleRecord' }));
      expect(container.maxInFlight).toBe(1);
      await engine.runTransformJob(
        request({
          TransformJobName: 'job-2',
          MaxConcurrentTransforms: 8,
          BatchStrategy: 'SingleRecord',
          TransformOutput: { ...request().TransformOutput, S3OutputPath: 's3://bucket/out8' },
        }),
      );
      expect(container.maxInFlight).toBeGreaterThan(1);
      expect(container.maxInFlight).toBeLessThanOrEqual(8);
      expect(await read('s3://bucket/out8/a.csv.out')).toBe(await read('s3://bucket/out/a.csv.out'));
      expect(await read('s3://bucket/out8/b.csv.out')).toBe(await read('s3://bucket/out/b.csv.out'));
      expect((await read('s3://bucket/out8/a.csv.out')).split('\n')[199]).toBe(String(199 + (199 % 7)));
    });

    it('takes unset settings from /execution-parameters, with request values winning', async () => {
      container.executionParameters = {
        MaxConcurrentTransforms: 3,
        BatchStrategy: 'SINGLE_RECORD',
        MaxPayloadInMB: 2,
      };
      await store.put('s3://bucket/in/a.csv', '1\n2\n3\n');
      const fromContainer = await engine.runTransformJob(request());
      expect(fromContainer.MaxConcurrentTransforms).toBe(3);
      expect(fromContainer.BatchStrategy).toBe('SingleRecord');
      expect(fromContainer.MaxPayloadInMB).toBe(2);
      expect(container.requests).toHaveLength(3);

      container.requests = [];
      const requestWins = await engine.runTransformJob(
        request({ TransformJobName: 'job-2', BatchStrategy: 'MultiRecord' }),
      );
      expect(requestWins.BatchStrategy).toBe('MultiRecord');
      expect(container.requests).toHaveLength(1);
    });

    it('falls back to 1 / MultiRecord / 6 when the container has no /execution-parameters', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n');
      const description = await engine.runTransformJob(request());
      expect([
        description.MaxConcurrentTransforms,
        description.BatchStrategy,
        description.MaxPayloadInMB,
      ]).toEqual([1, 'MultiRecord', 6]);
    });

    it('concatenates bodies as-is with AssembleWith None and ends each with one newline with Line', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n3\n');
      container.reply = (req, n) => ({ body: n % 2 === 0 ? `${defaultAnswer(req)}\n` : defaultAnswer(req) });
      await engine.runTransformJob(request({ BatchStrategy: 'SingleRecord' }));
      expect(await read('s3://bucket/out/a.csv.out')).toBe('1\n2\n3\n');
      await engine.runTransformJob(
        request({
          TransformJobName: 'job-2',
          BatchStrategy: 'SingleRecord',
          TransformOutput: { S3OutputPath: 's3://bucket/none', Accept: 'text/csv', AssembleWith: 'None' },
        }),
      );
      // Requests 4..6: the 4th and 6th answers carry their own newline.
      expect(await read('s3://bucket/none/a.csv.out')).toBe('1\n23\n');
    });

    it('filters input and joins output for CSV (id column kept out of the model)', async () => {
      await store.put('s3://bucket/in/a.csv', 'id-1,1,2\n"id,2",3,4\n');
      const description = await engine.runTransformJob(
        request({ DataProcessing: { InputFilter: '$[1:]', JoinSource: 'Input', OutputFilter: '$[0,-1]' } }),
      );
      expect(description.TransformJobStatus).toBe('Completed');
      expect(container.requests[0]?.body.toString()).toBe('1,2\n3,4');
      expect(await read('s3://bucket/out/a.csv.out')).toBe('id-1,3\n"id,2",7\n');
    });

    it('filters input and joins output for JSON Lines under SageMakerOutput', async () => {
      await store.put('s3://bucket/in/a.jsonl', '{"id":1,"features":[1,2]}\n{"id":2,"features":[3,4]}\n');
      container.reply = (req) => ({
        body: req.body
          .toString()
          .split('\n')
          .map((l) => JSON.stringify({ score: (JSON.parse(l) as number[]).reduce((a, v) => a + v, 0) }))
          .join('\n'),
      });
      const description = await engine.runTransformJob(
        request({
          TransformInput: { ...request().TransformInput, ContentType: 'application/jsonlines' },
          TransformOutput: {
            S3OutputPath: 's3://bucket/out',
            Accept: 'application/jsonlines',
            AssembleWith: 'Line',
          },
          DataProcessing: {
            InputFilter: '$.features',
            JoinSource: 'Input',
            OutputFilter: "$['id','SageMakerOutput']",
          },
        }),
      );
      expect(description.TransformJobStatus).toBe('Completed');
      expect(container.requests[0]?.body.toString()).toBe('[1,2]\n[3,4]');
      expect(await read('s3://bucket/out/a.jsonl.out')).toBe(
        '{"id":1,"SageMakerOutput":{"score":3}}\n{"id":2,"SageMakerOutput":{"score":7}}\n',
      );
    });

    it('retries 5xx answers and completes when a retry succeeds', async () => {
      await store.put('s3://bucket/in/a.csv', '1,2\n');
      container.reply = (req, n) =>
        n <= 2 ? { status: 503, body: 'warming up' } : { body: defaultAnswer(req) };
      const description = await engine.runTransformJob(request());
      expect(description.TransformJobStatus).toBe('Completed');
      expect(container.requests).toHaveLength(3);
      expect(await read('s3://bucket/out/a.csv.out')).toBe('3\n');
    });

    it('fails naming file, lines, status and message when retries run out, leaving no output', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n');
      await store.put('s3://bucket/in/b.csv', '1\n2\n3\n');
      container.reply = (req, n) =>
        n >= 2 ? { status: 500, body: 'model exploded' } : { body: defaultAnswer(req) };
      const description = await engine.runTransformJob(
        request({ ModelClientConfig: { InvocationsMaxRetries: 1 } }),
      );
      expect(description.TransformJobStatus).toBe('Failed');
      expect(description.FailureReason).toBe(
        'Invocation for s3://bucket/in/b.csv lines 1-3 (3 records) failed after 2 attempts (InvocationsMaxRetries 1): HTTP 500: model exploded',
      );
      expect(container.requests).toHaveLength(3);
      // a.csv.out had been committed; a failed job must not leave it looking like complete output.
      expect(await outputKeys()).toEqual([]);
      expect(await readdir(join(root, '.tmp')).catch(() => [])).toEqual([]);
    });

    it("fails naming what it could not remove when deleting a failed job's output fails", async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n');
      await store.put('s3://bucket/in/b.csv', '1\n');
      container.reply = (req, n) => (n >= 2 ? { status: 400, body: 'no' } : { body: defaultAnswer(req) });
      const deleteOf = store.delete.bind(store);
      store.delete = async (uri: string) => {
        if (uri.endsWith('a.csv.out')) throw new Error('EACCES: permission denied');
        await deleteOf(uri);
      };
      const description = await engine.runTransformJob(request());
      expect(description.TransformJobStatus).toBe('Failed');
      expect(description.FailureReason).toBe(
        'Model container rejected s3://bucket/in/b.csv line 1 (1 record) with HTTP 400: no; ' +
          'its partial output could not be removed: s3://bucket/out/a.csv.out (EACCES: permission denied)',
      );
      expect(await outputKeys()).toEqual(['out/a.csv.out']);
    });

    it('does not retry a 4xx answer', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n');
      container.reply = () => ({ status: 400, body: 'bad input' });
      const description = await engine.runTransformJob(request());
      expect(container.requests).toHaveLength(1);
      expect(description.FailureReason).toMatch(
        /rejected s3:\/\/bucket\/in\/a\.csv line 1 \(1 record\) with HTTP 400: bad input/,
      );
    });

    it('names the file line of the record a container rejects in X-Invalid-Record, blank lines counted', async () => {
      const rejectSecond = () => ({
        status: 400,
        body: 'cannot read it',
        headers: { 'x-invalid-record': '2' },
      });
      // Plain lines (batched from bytes), a blank line inside the batch:
      await store.put('s3://bucket/in/a.csv', '1,2\n\n3,4\n5,6\n');
      container.reply = rejectSecond;
      const plain = await engine.runTransformJob(request());
      // Records cut for an InputFilter, blank lines before the batch:
      await store.put('s3://bucket/in/a.csv', '\n\n1,2\n3,4\n5,6\n');
      const filtered = await engine.runTransformJob(request({ DataProcessing: { InputFilter: '$[1:]' } }));
      // A record number the request does not have: only the range is named.
      container.reply = () => ({ status: 400, body: 'no', headers: { 'x-invalid-record': '9' } });
      const unknown = await engine.runTransformJob(request());

      expect(plain.FailureReason).toBe(
        'Model container rejected s3://bucket/in/a.csv line 3 (record 2 of the request for lines 1-4 (3 records)) with HTTP 400: cannot read it',
      );
      expect(filtered.FailureReason).toMatch(/a\.csv line 4 \(record 2 of the request for lines 3-5 /);
      expect(unknown.FailureReason).toBe(
        'Model container rejected s3://bucket/in/a.csv lines 3-5 (3 records) with HTTP 400: no',
      );
    });

    it('times out a slow invocation after InvocationsTimeoutInSeconds and retries it', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n');
      container.reply = (req) => ({ body: defaultAnswer(req), delayMs: 1500 });
      const description = await engine.runTransformJob(
        request({ ModelClientConfig: { InvocationsTimeoutInSeconds: 1, InvocationsMaxRetries: 1 } }),
      );
      expect(description.TransformJobStatus).toBe('Failed');
      expect(container.requests).toHaveLength(2);
      expect(description.FailureReason).toMatch(/failed after 2 attempts .*timed out after 1 s/);
    });

    it('fails when the container answers fewer predictions than records sent', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n3\n');
      container.reply = () => ({ body: '1\n2\n' });
      const description = await engine.runTransformJob(request());
      expect(description.FailureReason).toBe(
        's3://bucket/in/a.csv lines 1-3 (3 records): sent 3 records, received 2 predictions from the model container',
      );
      expect(await outputKeys()).toEqual([]);
    });

    it('passes the job Environment and batch settings to resolveModel', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n');
      await engine.runTransformJob(
        request({ Environment: { THRESHOLD: '0.5' }, MaxConcurrentTransforms: 2 }),
      );
      expect(resolved).toEqual([
        {
          modelName: 'sum-model',
          environment: {
            THRESHOLD: '0.5',
            SAGEMAKER_BATCH: 'true',
            SAGEMAKER_MAX_CONCURRENT_TRANSFORMS: '2',
          },
        },
      ]);
    });

    it('streams the whole object in one chunked request with MaxPayloadInMB 0', async () => {
      await store.put('s3://bucket/in/a.csv', '1,2\n3,4\n');
      const description = await engine.runTransformJob(
        request({ MaxPayloadInMB: 0, TransformInput: { ...request().TransformInput, SplitType: 'None' } }),
      );
      expect(description.TransformJobStatus).toBe('Completed');
      expect(container.requests[0]?.transferEncoding).toBe('chunked');
      expect(await read('s3://bucket/out/a.csv.out')).toBe('3\n7\n');
    });

    it('rejects a request SageMaker would reject, without starting anything', async () => {
      await expect(engine.runTransformJob(request({ TransformJobName: 'bad_name!' }))).rejects.toThrow(
        /ValidationException: 1 validation error detected: Value 'bad_name!' at 'transformJobName'/,
      );
      await expect(engine.runTransformJob(request({ MaxPayloadInMB: 101 }))).rejects.toThrow(
        /less than or equal to 100/,
      );
      await expect(engine.runTransformJob(request({ MaxPayloadInMB: 0 }))).rejects.toThrow(
        /requires SplitType None/,
      );
      await expect(
        engine.runTransformJob(request({ ModelClientConfig: { InvocationsMaxRetries: 4 } })),
      ).rejects.toThrow(/invocationsMaxRetries/);
      expect(resolved).toEqual([]);
      expect(engine.describeTransformJob('bad_name!')).toBeUndefined();
    });

    it('reports progress per batch and the end of the job', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n3\n');
      await engine.runTransformJob(request({ BatchStrategy: 'SingleRecord' }));
      const written = events.filter((e) => e.type === 'batch-written');
      expect(written.map((e) => (e.type === 'batch-written' ? e.records : 0))).toEqual([1, 2, 3]);
      expect(events.at(-1)).toEqual({ type: 'job-ended', jobName: 'job-1', status: 'Completed' });
    });

    it('ends as Stopped, without outputs, when stopped while running', async () => {
      await store.put('s3://bucket/in/a.csv', '1\n2\n3\n4\n');
      container.reply = (req) => ({ body: defaultAnswer(req), delayMs: 50 });
      const running = engine.runTransformJob(request({ BatchStrategy: 'SingleRecord' }));
      while (container.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
      expect(engine.stopTransformJob('job-1')).toBe(true);
      const description = await running;
      expect(description.TransformJobStatus).toBe('Stopped');
      expect(container.requests.length).toBeLessThan(4);
      expect(await outputKeys()).toEqual([]);
    });
  });
});
