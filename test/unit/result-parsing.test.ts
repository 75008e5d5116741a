import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ParseProgressEvent,
  type ParseTransformOutputRequest,
  parseTransformOutput,
} from '../../src/core/result-parsing.js';
import { InvalidInputError, ObjectNotFoundError, PredictionMismatchError } from '../../src/errors.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports.js';

/** An in-memory ObjectStore with S3's all-or-nothing writes. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  puts = 0;

  async *list(prefixUri: string): AsyncIterable<ObjectInfo> {
    for (const uri of [...this.objects.keys()].sort()) {
      if (uri.startsWith(prefixUri)) yield { uri, size: this.objects.get(uri)?.length ?? 0 };
    }
  }
  async head(uri: string): Promise<ObjectInfo | undefined> {
    const body = this.objects.get(uri);
    return body ? { uri, size: body.length } : undefined;
  }
  async getBytes(uri: string): Promise<Uint8Array> {
    const body = this.objects.get(uri);
    if (!body) throw new ObjectNotFoundError(`No such object: ${uri}`);
    return body;
  }
  async getStream(uri: string): Promise<Readable> {
    const body = await this.getBytes(uri);
    // Small chunks, so records and lines straddle chunk boundaries as they do on S3.
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += 7) chunks.push(Buffer.from(body.subarray(i, i + 7)));
    return Readable.from(chunks);
  }
  async put(uri: string, body: string | Uint8Array): Promise<void> {
    this.objects.set(uri, Buffer.from(body));
  }
  async putStream(uri: string, body: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk));
    this.puts += 1;
    this.objects.set(uri, Buffer.concat(chunks));
  }
  async delete(uri: string): Promise<void> {
    this.objects.delete(uri);
  }
  text(uri: string): string {
    return this.objects.get(uri)?.toString('utf8') ?? '';
  }
  rows(uri: string): Record<string, unknown>[] {
    return this.text(uri)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

const ATTEMPT = '0123456789ab';
/** ParseResults writes into the attempt's folder of the partition, never the partition folder itself. */
const PART = `s3://bucket/results/predictions/run_date=2024-05-01/run_id=run-1/variant=champion/attempt=${ATTEMPT}/part-0003.json`;

function request(overrides: Partial<ParseTransformOutputRequest> = {}): ParseTransformOutputRequest {
  const { results, ...rest } = overrides;
  return {
    runId: 'run-1',
    runDate: '2024-05-01',
    attemptId: ATTEMPT,
    variant: 'champion',
    modelName: 'bt-champion-abc',
    shardId: '0003',
    inputManifestUri: 's3://bucket/runs/run-1/manifests/shard-0003.manifest',
    transformOutputPath: 's3://bucket/runs/run-1/transform/champion/shard-0003/',
    contentType: 'text/csv',
    splitType: 'Line',
    compressionType: 'None',
    accept: 'text/csv',
    ...rest,
    results: { table: 'predictions', resultsPrefix: 's3://bucket/results/', threshold: 0.5, ...results },
  };
}

/** Writes inputs under s3://bucket/incoming/, their outputs under the transform path, and the manifest. */
async function givenJob(
  store: MemoryStore,
  files: { key: string; input: string | Buffer; output?: string }[],
): Promise<void> {
  for (const file of files) {
    await store.put(`s3://bucket/incoming/${file.key}`, file.input);
    if (file.output !== undefined) {
      await store.put(`s3://bucket/runs/run-1/transform/champion/shard-0003/${file.key}.out`, file.output);
    }
  }
  await store.put(
    's3://bucket/runs/run-1/manifests/shard-0003.manifest',
    JSON.stringify([{ prefix: 's3://bucket/incoming/' }, ...files.map((f) => f.key)]),
  );
}

describe('parseTransformOutput', () => {
  let store: MemoryStore;
  beforeEach(() => {
    store = new MemoryStore();
  });

  it('labels binary scores with labels[1] at or above the threshold and labels[0] below it', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1,2\n3,4\n5,6\n', output: '0.93\n0.6\n0.59\n' }]);

    const result = await parseTransformOutput(
      request({
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.6,
          labels: ['ok', 'fraud'],
        },
      }),
      { store },
    );

    expect(result).toEqual({
      recordsIn: 3,
      recordsOut: 3,
      partition: {
        values: ['2024-05-01', 'run-1', 'champion'],
        location: `s3://bucket/results/predictions/run_date=2024-05-01/run_id=run-1/variant=champion/attempt=${ATTEMPT}/`,
      },
      files: [PART],
    });
    expect(store.text(PART)).toBe(
      [
        '{"source":"s3://bucket/incoming/a.csv","record":1,"features":[1,2],"score":0.93,"label":"fraud","model":"bt-champion-abc"}',
        '{"source":"s3://bucket/incoming/a.csv","record":2,"features":[3,4],"score":0.6,"label":"fraud","model":"bt-champion-abc"}',
        '{"source":"s3://bucket/incoming/a.csv","record":3,"features":[5,6],"score":0.59,"label":"ok","model":"bt-champion-abc"}',
        '',
      ].join('\n'),
    );
  });

  it('keeps the features column null when results.storeFeatures is false, on the fast and the checked path', async () => {
    // a.csv takes the fast path (plain numbers); b.csv below the checked one (an id column).
    await givenJob(store, [{ key: 'a.csv', input: '1,2\n3,,\n', output: '0.93\n0.2\n' }]);
    await parseTransformOutput(
      request({
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.5,
          labels: ['ok', 'fraud'],
          storeFeatures: false,
        },
      }),
      { store },
    );
    expect(store.text(PART).split('\n').slice(0, 2)).toEqual([
      '{"source":"s3://bucket/incoming/a.csv","record":1,"features":null,"score":0.93,"label":"fraud","model":"bt-champion-abc"}',
      '{"source":"s3://bucket/incoming/a.csv","record":2,"features":null,"score":0.2,"label":"ok","model":"bt-champion-abc"}',
    ]);

    store = new MemoryStore();
    await givenJob(store, [{ key: 'b.csv', input: 'x1,5,6\n', output: '0.7\n' }]);
    await parseTransformOutput(
      request({
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.5,
          featureNames: ['id', 'f1', 'f2'],
          idColumn: 'id',
          storeFeatures: false,
        },
      }),
      { store },
    );
    expect(store.rows(PART)).toEqual([
      {
        source: 's3://bucket/incoming/b.csv',
        record: 1,
        id: 'x1',
        features: null,
        score: 0.7,
        model: 'bt-champion-abc',
      },
    ]);
  });

  it('writes a score and no label for a regression model (no labels configured)', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '0.5,1e3\n-2.25,0\n', output: '151.0\n-3.5\n' }]);

    await parseTransformOutput(request(), { store });

    expect(store.rows(PART)).toEqual([
      {
        source: 's3://bucket/incoming/a.csv',
        record: 1,
        features: [0.5, 1000],
        score: 151,
        model: 'bt-champion-abc',
      },
      {
        source: 's3://bucket/incoming/a.csv',
        record: 2,
        features: [-2.25, 0],
        score: -3.5,
        model: 'bt-champion-abc',
      },
    ]);
  });

  it('labels multi-class scores with the arg-max class and keeps every class score', async () => {
    await givenJob(store, [
      { key: 'iris.csv', input: '5.1,3.5\n6.3,2.9\n', output: '0.1,0.8,0.1\n0.2,0.3,0.5\n' },
    ]);

    await parseTransformOutput(
      request({
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.5,
          labels: ['setosa', 'versicolor', 'virginica'],
        },
      }),
      { store },
    );

    const rows = store.rows(PART);
    expect(rows.map((r) => [r.label, r.score, r.scores])).toEqual([
      ['versicolor', 0.8, [0.1, 0.8, 0.1]],
      ['virginica', 0.5, [0.2, 0.3, 0.5]],
    ]);
  });

  it('labels multi-class scores with the class index when no labels are configured', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n', output: '0.7,0.2,0.1\n' }]);

    await parseTransformOutput(request(), { store });

    expect(store.rows(PART)[0]).toMatchObject({ label: '0', score: 0.7, scores: [0.7, 0.2, 0.1] });
  });

  it('reads a single value as the class index when more than two labels are configured', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n2\n', output: '2\n0\n' }]);

    await parseTransformOutput(
      request({
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.5,
          labels: ['a', 'b', 'c'],
        },
      }),
      { store },
    );

    expect(store.rows(PART).map((r) => r.label)).toEqual(['c', 'a']);
  });

  it('reads JSON lines inputs (arrays and {"features"}) and every JSON lines prediction shape', async () => {
    await givenJob(store, [
      {
        key: 'a.jsonl',
        input: '[1,2]\n{"features":[3,4]}\n[5,null]\n[7,8]\n',
        output: '{"score":0.25}\n0.75\n[0.5]\n{"scores":[0.9,0.1]}\n',
      },
    ]);

    await parseTransformOutput(
      request({
        contentType: 'application/jsonlines',
        accept: 'application/jsonlines',
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.5,
          labels: ['no', 'yes'],
        },
      }),
      { store },
    );

    expect(store.rows(PART).map((r) => [r.features, r.score, r.scores, r.label])).toEqual([
      [[1, 2], 0.25, undefined, 'no'],
      [[3, 4], 0.75, undefined, 'yes'],
      [[5, null], 0.5, undefined, 'yes'],
      [[7, 8], 0.9, [0.9, 0.1], 'no'],
    ]);
  });

  it('reads named fields of JSON object records in featureNames order and takes the id column', async () => {
    await givenJob(store, [
      {
        key: 'a.jsonl',
        input: '{"b":2,"a":1,"customer":"c-1"}\n{"a":3,"b":4,"customer":42}\n',
        output: '0.1\n0.2\n',
      },
    ]);

    await parseTransformOutput(
      request({
        contentType: 'application/jsonlines',
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.5,
          featureNames: ['customer', 'a', 'b'],
          idColumn: 'customer',
        },
      }),
      { store },
    );

    expect(store.rows(PART).map((r) => [r.id, r.features])).toEqual([
      ['c-1', [1, 2]],
      ['42', [3, 4]],
    ]);
  });

  it('takes the id column out of CSV features and reads quoted fields with a CSV parser', async () => {
    await givenJob(store, [{ key: 'a.csv', input: 'x-1,1.5,2\n"x,2","3",4\n', output: '0.3\n0.4\n' }]);

    await parseTransformOutput(
      request({
        results: {
          table: 'predictions',
          resultsPrefix: 's3://bucket/results/',
          threshold: 0.5,
          featureNames: ['id', 'f1', 'f2'],
          idColumn: 'id',
        },
      }),
      { store },
    );

    expect(store.rows(PART).map((r) => [r.id, r.features])).toEqual([
      ['x-1', [1.5, 2]],
      ['x,2', [3, 4]],
    ]);
  });

  it('writes empty CSV fields as null (missing values) and normalizes numbers JSON cannot hold as written', async () => {
    await givenJob(store, [
      { key: 'a.csv', input: '1,,3\n.5,+2,007\n,2.5,\n,,\n1,nan,\n', output: '0.1\n0.2\n0.3\n0.4\n0.5\n' },
    ]);

    await parseTransformOutput(request(), { store });

    expect(store.rows(PART).map((r) => r.features)).toEqual([
      [1, null, 3],
      [0.5, 2, 7],
      [null, 2.5, null],
      [null, null, null],
      [1, null, null],
    ]);
  });

  it('copies features that are already JSON numbers byte for byte and rejects what is no number', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '-0,0.0e-1,1E+2,12.50\n', output: '1.500\n' }]);

    await parseTransformOutput(request(), { store });

    expect(store.text(PART)).toContain('"features":[-0,0.0e-1,1E+2,12.50],"score":1.500,');
    for (const bad of ['1e', '-', '1.2.3', 'Infinity', '0x', '1e999']) {
      await givenJob(store, [{ key: 'a.csv', input: `1,${bad}\n`, output: '0.5\n' }]);
      await expect(parseTransformOutput(request(), { store }), bad).rejects.toThrow(
        `s3://bucket/incoming/a.csv, record 1: feature 2 is not a number: "${bad}"`,
      );
    }
  });

  it('writes rows larger than a write chunk whole, on the checked path and the plain one', async () => {
    const wide = Array.from({ length: 70_000 }, (_, i) => String(i % 10)).join(',');
    await givenJob(store, [
      { key: 'a.csv', input: `nan,${wide}\n${wide},1\n2,3\n`, output: '0.1\n0.2\n0.3\n' },
    ]);

    await parseTransformOutput(request(), { store });

    const rows = store.rows(PART);
    expect(rows.map((r) => (r.features as unknown[]).length)).toEqual([70_001, 70_001, 2]);
    expect((rows.map((r) => r.features)[0] as unknown[]).slice(0, 3)).toEqual([null, 0, 1]);
    expect(rows.map((r) => r.score)).toEqual([0.1, 0.2, 0.3]);
  });

  it('gunzips Gzip input and reads CRLF lines and a missing final newline', async () => {
    await givenJob(store, [
      { key: 'a.csv.gz', input: gzipSync('1,2\r\n3,4\r\n5,6'), output: '0.1\r\n0.2\r\n0.3' },
    ]);

    const result = await parseTransformOutput(request({ compressionType: 'Gzip' }), { store });

    expect(result.recordsIn).toBe(3);
    expect(store.rows(PART).map((r) => [r.record, r.features, r.score])).toEqual([
      [1, [1, 2], 0.1],
      [2, [3, 4], 0.2],
      [3, [5, 6], 0.3],
    ]);
  });

  it('numbers records by their line in the source, counting blank lines as SageMaker does', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n\n2\n', output: '0.1\n0.2\n' }]);

    await parseTransformOutput(request(), { store });

    expect(store.rows(PART).map((r) => r.record)).toEqual([1, 3]);
  });

  it('joins every object of the manifest, in manifest order, finding outputs under nested keys', async () => {
    await givenJob(store, [
      { key: 'day2/b.csv', input: '2\n', output: '0.2\n' },
      { key: 'day1/a.csv', input: '1\n1\n', output: '0.1\n0.1\n' },
    ]);

    const result = await parseTransformOutput(request(), { store });

    expect(result.recordsIn).toBe(3);
    expect(result.recordsOut).toBe(3);
    expect(store.rows(PART).map((r) => r.source)).toEqual([
      's3://bucket/incoming/day2/b.csv',
      's3://bucket/incoming/day1/a.csv',
      's3://bucket/incoming/day1/a.csv',
    ]);
  });

  it('tells progress per object: started, every 8,192 records joined, and done with every byte read', async () => {
    const big = Array.from({ length: 20_000 }, (_, i) => `${i},1`).join('\n');
    const scores = Array.from({ length: 20_000 }, () => '0.5').join('\n');
    await givenJob(store, [
      { key: 'a.csv.gz', input: gzipSync('1,2\n3,4\n'), output: '0.1\n0.2\n' },
      { key: 'b.csv.gz', input: gzipSync(big), output: scores },
    ]);
    const gz = (await store.head('s3://bucket/incoming/b.csv.gz'))?.size ?? 0;
    const events: ParseProgressEvent[] = [];

    const result = await parseTransformOutput(request({ compressionType: 'Gzip' }), {
      store,
      onProgress: (e) => events.push(e),
    });

    expect(result.recordsIn).toBe(20_002);
    expect(
      events.map((e) => [e.type, e.inputUri.slice(-8), e.object, e.objects, e.records, e.jobRecords]),
    ).toEqual([
      ['object-started', 'a.csv.gz', 1, 2, 0, 0],
      ['object-joined', 'a.csv.gz', 1, 2, 2, 2],
      ['object-started', 'b.csv.gz', 2, 2, 0, 2],
      ['records-joined', 'b.csv.gz', 2, 2, 8192, 8194],
      ['records-joined', 'b.csv.gz', 2, 2, 16_384, 16_386],
      ['object-joined', 'b.csv.gz', 2, 2, 20_000, 20_002],
    ]);
    for (const e of events) expect([e.variant, e.shardId]).toEqual(['champion', '0003']);
    // Gzip: compressed bytes against the object's size, all of them once the object is done.
    expect(events.at(-1)?.bytesTotal).toBe(gz);
    expect(events.at(-1)?.bytesRead).toBe(gz);
    expect(events[3]?.bytesRead).toBeGreaterThan(0);
    expect(events[3]?.bytesRead).toBeLessThan(gz);
  });

  it('counts the bytes of a plain input the joined records reach, against its size', async () => {
    // 4 bytes a record: the records joined so far reach exactly 4 bytes each, whatever was read ahead.
    const input = Array.from({ length: 10_000 }, (_, i) => `${i % 10},1\n`).join('');
    const output = Array.from({ length: 10_000 }, () => '0.5\n').join('');
    await givenJob(store, [{ key: 'a.csv', input, output }]);
    const events: ParseProgressEvent[] = [];

    await parseTransformOutput(request(), { store, onProgress: (e) => events.push(e) });

    expect(events.map((e) => [e.type, e.records, e.bytesRead, e.bytesTotal])).toEqual([
      ['object-started', 0, 0, 40_000],
      ['records-joined', 8192, 4 * 8192, 40_000],
      ['object-joined', 10_000, 40_000, 40_000],
    ]);
  });

  it('fails naming both files when an input has more records than predictions', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n2\n3\n', output: '0.1\n0.2\n' }]);

    await expect(parseTransformOutput(request(), { store })).rejects.toThrow(
      new PredictionMismatchError(
        's3://bucket/incoming/a.csv: 3 records but 2 predictions in ' +
          's3://bucket/runs/run-1/transform/champion/shard-0003/a.csv.out; input line 3 is the first with no prediction',
      ),
    );
    expect(store.objects.has(PART)).toBe(false);
  });

  it('fails naming both files when the output has more predictions than the input has records', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n', output: '0.1\n0.2\n0.3\n' }]);

    const error = await parseTransformOutput(request(), { store }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PredictionMismatchError);
    expect((error as Error).message).toBe(
      's3://bucket/incoming/a.csv: 1 records but 3 predictions in ' +
        's3://bucket/runs/run-1/transform/champion/shard-0003/a.csv.out; output line 2 is the first with no input record',
    );
  });

  it('fails naming the output line and the input record when a prediction is not a number', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n2\n', output: '0.1\nabc\n' }]);

    await expect(parseTransformOutput(request(), { store })).rejects.toThrow(
      new PredictionMismatchError(
        's3://bucket/runs/run-1/transform/champion/shard-0003/a.csv.out, line 2 ' +
          '(prediction for s3://bucket/incoming/a.csv record 2): prediction is not a number: "abc"',
      ),
    );
  });

  it('rejects a blank-looking prediction rather than reading it as 0', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n', output: '   \n' }]);

    await expect(parseTransformOutput(request(), { store })).rejects.toBeInstanceOf(PredictionMismatchError);
  });

  it('fails naming the file, record and column when a feature is not a number', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1,2\n3,abc\n', output: '0.1\n0.2\n' }]);

    await expect(
      parseTransformOutput(
        request({
          results: {
            table: 'predictions',
            resultsPrefix: 's3://bucket/results/',
            threshold: 0.5,
            featureNames: ['x', 'y'],
          },
        }),
        { store },
      ),
    ).rejects.toThrow(
      new InvalidInputError('s3://bucket/incoming/a.csv, record 2: feature 2 (y) is not a number: "abc"'),
    );
  });

  it('fails naming the record when a CSV line has more or fewer columns than featureNames', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1,2\n3,4,5\n', output: '0.1\n0.2\n' }]);

    await expect(
      parseTransformOutput(
        request({
          results: {
            table: 'predictions',
            resultsPrefix: 's3://bucket/results/',
            threshold: 0.5,
            featureNames: ['x', 'y'],
          },
        }),
        { store },
      ),
    ).rejects.toThrow(
      new InvalidInputError('s3://bucket/incoming/a.csv, record 2: 3 columns but 2 featureNames'),
    );
  });

  it('fails when a multi-class prediction has a different number of scores than labels', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n', output: '0.5,0.5\n' }]);

    await expect(
      parseTransformOutput(
        request({
          results: {
            table: 'predictions',
            resultsPrefix: 's3://bucket/results/',
            threshold: 0.5,
            labels: ['a', 'b', 'c'],
          },
        }),
        { store },
      ),
    ).rejects.toThrow('line 1: 2 class scores but 3 labels');
  });

  it('names the input when its transform output does not exist', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n' }]);

    await expect(parseTransformOutput(request(), { store })).rejects.toThrow(
      new ObjectNotFoundError(
        'No transform output s3://bucket/runs/run-1/transform/champion/shard-0003/a.csv.out for input s3://bucket/incoming/a.csv',
      ),
    );
  });

  it('names the object when Gzip input is corrupt', async () => {
    await givenJob(store, [{ key: 'a.csv.gz', input: 'not gzip at all', output: '0.1\n' }]);

    await expect(parseTransformOutput(request({ compressionType: 'Gzip' }), { store })).rejects.toThrow(
      /^s3:\/\/bucket\/incoming\/a\.csv\.gz: cannot decompress \(Gzip\)/,
    );
  });

  it('rewrites the same part file when run again, so results are replaced and never duplicated', async () => {
    await givenJob(store, [{ key: 'a.csv', input: '1\n2\n', output: '0.1\n0.2\n' }]);

    const first = await parseTransformOutput(request(), { store });
    const firstText = store.text(PART);
    const second = await parseTransformOutput(request(), { store });

    expect(second).toEqual(first);
    expect(store.text(PART)).toBe(firstText);
    expect([...store.objects.keys()].filter((k) => k.startsWith('s3://bucket/results/'))).toEqual([
      PART,
      PART.replace('/results/predictions/', '/results/predictions_stats/'),
    ]);
  });

  it('refuses SplitType None and unsupported content types before reading anything', async () => {
    await expect(parseTransformOutput(request({ splitType: 'None' }), { store })).rejects.toThrow(
      /needs SplitType Line/,
    );
    await expect(
      parseTransformOutput(request({ contentType: 'application/x-recordio-protobuf' }), { store }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(store.puts).toBe(0);
  });
});
