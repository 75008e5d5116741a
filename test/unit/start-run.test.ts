import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  EXECUTION_NAME_PATTERN,
  type ExecutionStarter,
  type S3ObjectCreatedEvent,
  type StartRunSettings,
  startRun,
} from '../../src/core/start-run.js';
import { ObjectNotFoundError, SchemaValidationError } from '../../src/errors.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports.js';

const TEMPLATE_URI = 's3://pipeline-bucket/config/run-template.json';
const TEMPLATE = {
  models: [{ variant: 'a', modelName: 'churn-xgb' }],
  transform: { ContentType: 'text/csv', SplitType: 'Line' },
  results: { table: 'predictions', threshold: 0.5 },
};

/** An in-memory store holding only what the test puts there. */
class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  async *list(): AsyncIterable<ObjectInfo> {}
  async head(uri: string) {
    const body = this.objects.get(uri);
    return body ? { uri, size: body.length } : undefined;
  }
  async getBytes(uri: string) {
    const body = this.objects.get(uri);
    if (!body) throw new ObjectNotFoundError(`Object not found: ${uri}`);
    return body;
  }
  async getStream(uri: string) {
    return Readable.from([await this.getBytes(uri)]);
  }
  async put(uri: string, body: string | Uint8Array) {
    this.objects.set(uri, typeof body === 'string' ? new TextEncoder().encode(body) : body);
  }
  async putStream() {
    throw new Error('not used');
  }
  async delete(uri: string) {
    this.objects.delete(uri);
  }
}

/** Behaves like Step Functions: a name starts once; later starts of the same name start nothing. */
class FakeStarter implements ExecutionStarter {
  readonly started: { name: string; input: unknown }[] = [];
  async start(name: string, input: unknown) {
    const alreadyStarted = this.started.some((s) => s.name === name);
    if (!alreadyStarted) this.started.push({ name, input });
    return { executionArn: `arn:aws:states:us-east-1:123456789012:execution:m:${name}`, alreadyStarted };
  }
}

function setup(overrides: Partial<StartRunSettings> = {}, template: unknown = TEMPLATE) {
  // `null` stands for "no template stored".
  const store = new MemoryStore();
  if (template !== null) store.objects.set(TEMPLATE_URI, new TextEncoder().encode(JSON.stringify(template)));
  const starter = new FakeStarter();
  const settings: StartRunSettings = {
    bucket: 'pipeline-bucket',
    inputPrefix: 'incoming/',
    inputSuffixes: ['.csv', '.csv.gz', '.jsonl'],
    runTemplateUri: TEMPLATE_URI,
    ...overrides,
  };
  return { store, starter, deps: { store, starter, settings } };
}

function objectCreated(
  key: string,
  size = 128,
  etag = 'etag-1',
  bucket = 'pipeline-bucket',
): S3ObjectCreatedEvent {
  return {
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: bucket }, object: { key, size, etag, sequencer: '00AB' } },
  };
}

describe('startRun on an S3 upload', () => {
  it('starts a run of the uploaded object with the template, a run id and a matching execution name', async () => {
    const { deps, starter } = setup();

    const result = await startRun(objectCreated('incoming/2024-05-01/Orders May.csv'), deps);

    expect(result).toMatchObject({
      started: true,
      input: 's3://pipeline-bucket/incoming/2024-05-01/Orders May.csv',
    });
    if (!result.started) throw new Error('expected a run');
    expect(result.executionName).toMatch(/^orders-may-[0-9a-f]{16}$/);
    expect(result.runId).toBe(result.executionName);
    expect(result.executionName).toMatch(EXECUTION_NAME_PATTERN);
    expect(starter.started).toEqual([
      {
        name: result.executionName,
        input: {
          ...TEMPLATE,
          runId: result.runId,
          input: 's3://pipeline-bucket/incoming/2024-05-01/Orders May.csv',
        },
      },
    ]);
  });

  it('starts nothing new for a duplicated event: same execution name, reported as existing', async () => {
    const { deps, starter } = setup();
    const event = objectCreated('incoming/day/a.csv');

    const first = await startRun(event, deps);
    const second = await startRun(structuredClone(event), deps);

    expect(first.started).toBe(true);
    expect(second).toEqual({
      started: false,
      reason: expect.stringContaining('exists already'),
      executionName: first.executionName,
      executionArn: first.executionArn,
    });
    expect(starter.started).toHaveLength(1);
  });

  it('gives a re-upload with new content (another ETag) its own run', async () => {
    const { deps } = setup();
    const first = await startRun(objectCreated('incoming/day/a.csv', 128, 'etag-1'), deps);
    const second = await startRun(objectCreated('incoming/day/a.csv', 130, 'etag-2'), deps);
    expect(second.started).toBe(true);
    expect(second.executionName).not.toBe(first.executionName);
  });

  it('ignores a zero-byte object', async () => {
    const { deps, starter } = setup();
    const result = await startRun(objectCreated('incoming/day/empty.csv', 0), deps);
    expect(result).toEqual({ started: false, reason: 'Object incoming/day/empty.csv is empty (0 bytes)' });
    expect(starter.started).toHaveLength(0);
  });

  it('ignores keys outside the input prefix', async () => {
    const { deps, starter } = setup();
    const result = await startRun(objectCreated('runs/r1/manifests/shard-0000.manifest'), deps);
    expect(result).toEqual({
      started: false,
      reason: 'Key runs/r1/manifests/shard-0000.manifest is outside the input prefix incoming/',
    });
    expect(starter.started).toHaveLength(0);
  });

  it('ignores keys that do not end in an input suffix', async () => {
    const { deps } = setup();
    const result = await startRun(objectCreated('incoming/day/notes.txt'), deps);
    expect(result).toEqual({
      started: false,
      reason: 'Key incoming/day/notes.txt does not end in one of .csv, .csv.gz, .jsonl',
    });
  });

  it('ignores marker and hidden files when no run marker is configured', async () => {
    const { deps } = setup({ inputSuffixes: [] });
    const result = await startRun(objectCreated('incoming/day/_SUCCESS', 0), deps);
    expect(result).toMatchObject({ started: false, reason: expect.stringContaining('not data') });
  });

  it('ignores uploads to another bucket', async () => {
    const { deps } = setup();
    const result = await startRun(objectCreated('incoming/a.csv', 10, 'e', 'other-bucket'), deps);
    expect(result).toMatchObject({ started: false });
  });

  it('fails loudly when an upload should run but there is no run template', async () => {
    const { deps } = setup({}, null);
    await expect(startRun(objectCreated('incoming/day/a.csv'), deps)).rejects.toThrow(
      'No run template at s3://pipeline-bucket/config/run-template.json',
    );
  });

  it('fails with the schema problems when the template does not make a valid run request', async () => {
    const { deps } = setup({}, { models: [] });
    await expect(startRun(objectCreated('incoming/day/a.csv'), deps)).rejects.toBeInstanceOf(
      SchemaValidationError,
    );
  });
});

describe('startRun with a run marker', () => {
  it('waits for the marker: data objects alone start nothing', async () => {
    const { deps, starter } = setup({ runMarker: '_SUCCESS' });
    const result = await startRun(objectCreated('incoming/batch-7/part-0001.csv'), deps);
    expect(result).toMatchObject({
      started: false,
      reason: expect.stringContaining('not the run marker _SUCCESS'),
    });
    expect(starter.started).toHaveLength(0);
  });

  it('starts one run of the whole folder when the (empty) marker arrives', async () => {
    const { deps, starter } = setup({ runMarker: '_SUCCESS' });

    const result = await startRun(objectCreated('incoming/batch-7/_SUCCESS', 0), deps);

    expect(result).toMatchObject({ started: true, input: 's3://pipeline-bucket/incoming/batch-7/' });
    expect(result.executionName).toMatch(/^batch-7-[0-9a-f]{16}$/);
    expect(starter.started[0]?.input).toMatchObject({
      input: 's3://pipeline-bucket/incoming/batch-7/',
      inputSuffixes: ['.csv', '.csv.gz', '.jsonl'],
      models: TEMPLATE.models,
    });
  });

  it('refuses a marker directly under the input prefix, which would rerun every upload', async () => {
    const { deps, starter } = setup({ runMarker: '_SUCCESS' });
    const result = await startRun(objectCreated('incoming/_SUCCESS', 0), deps);
    expect(result).toMatchObject({ started: false, reason: expect.stringContaining('must sit in a folder') });
    expect(starter.started).toHaveLength(0);
  });
});

describe('startRun on a manual run request', () => {
  const request = {
    runId: 'may-backfill',
    input: 's3://pipeline-bucket/incoming/2024-05/',
    models: [{ variant: 'a', modelName: 'churn-xgb' }],
  };

  it('validates the request and starts it as given, named by its run id and a hash of it', async () => {
    const { deps, starter } = setup();

    const result = await startRun(request, deps);

    expect(result).toMatchObject({ started: true, runId: 'may-backfill', input: request.input });
    expect(result.executionName).toMatch(/^may-backfill-[0-9a-f]{16}$/);
    expect(starter.started).toEqual([{ name: result.executionName, input: request }]);
  });

  it('names a request without run id by its hash, the same for the same request in any key order', async () => {
    const { deps } = setup();
    const { runId: _runId, ...withoutRunId } = request;
    const reordered = { models: withoutRunId.models, input: withoutRunId.input };

    const first = await startRun(withoutRunId, deps);
    const again = await startRun(reordered, deps);

    expect(first.executionName).toMatch(/^run-[0-9a-f]{16}$/);
    expect(again).toMatchObject({ started: false, executionName: first.executionName });
  });

  it('gives a changed request for the same run id its own execution', async () => {
    const { deps } = setup();
    const first = await startRun(request, deps);
    const changed = await startRun({ ...request, results: { threshold: 0.7 } }, deps);
    expect(changed.started).toBe(true);
    expect(changed.executionName).not.toBe(first.executionName);
  });

  it('rejects a request that does not match the run request schema', async () => {
    const { deps, starter } = setup();
    await expect(startRun({ input: 'not-s3', models: [] } as never, deps)).rejects.toBeInstanceOf(
      SchemaValidationError,
    );
    expect(starter.started).toHaveLength(0);
  });

  it('ignores EventBridge events other than S3 Object Created', async () => {
    const { deps } = setup();
    const result = await startRun(
      { source: 'aws.s3', 'detail-type': 'Object Deleted', detail: {} } as never,
      deps,
    );
    expect(result).toEqual({ started: false, reason: 'Unsupported event: aws.s3 Object Deleted' });
  });
});
