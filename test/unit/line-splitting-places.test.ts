/**
 * Each place that reads lines from text it holds whole splits them as LineCursor does (`\n` or `\r\n`
 * ends a line, a last line needs no newline and drops a lone trailing `\r`, blank lines are skipped
 * but counted). Expectations are written by hand, not computed with the product's splitter.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectInput } from '../../src/cli/local-input.js';
import { lines } from '../../src/core/line-cursor.js';
import { ObjectNotFoundError } from '../../src/errors.js';
import {
  type Definition,
  type MapObjectStore,
  runStateMachine,
} from '../../src/local/state-machine-runner.js';
import { parseLibsvmRecords } from '../../src/model-server/records.js';

describe('lines (LineCursor over text held whole)', () => {
  it('splits CRLF, skips blank lines but counts them, ends an unterminated last line and drops its lone CR', () => {
    expect([...lines('a\r\n\r\nb\n\nc\r')]).toEqual([
      { text: 'a', line: 1 },
      { text: 'b', line: 3 },
      { text: 'c', line: 5 },
    ]);
    expect([...lines(Buffer.from('x\ry\n'))]).toEqual([{ text: 'x\ry', line: 1 }]);
    expect([...lines('')]).toEqual([]);
  });
});

describe('the model server reads libsvm lines as LineCursor splits them', () => {
  it('CRLF, a blank line (still a row) and a last line with a lone CR give the rows written here', () => {
    const { values, numRows } = parseLibsvmRecords(Buffer.from('1 1:0.5 3:2\r\n\r\n0 2:-1\r\n1 1:4\r'), 3);
    expect(numRows).toBe(4);
    expect([...values]).toEqual([
      0.5,
      Number.NaN,
      2,
      Number.NaN,
      Number.NaN,
      Number.NaN,
      Number.NaN,
      -1,
      Number.NaN,
      4,
      Number.NaN,
      Number.NaN,
    ]);
  });

  it('names the line of a bad value counting blank CRLF lines, on an unterminated last line', () => {
    expect(() => parseLibsvmRecords(Buffer.from('1 1:1\r\n\r\n0 2:oops'), 3)).toThrow(
      /Record 3 has a non-numeric value in field 2: "oops"/,
    );
  });
});

/** An in-memory S3 for the Map's ItemReader. */
class MemoryStore implements MapObjectStore {
  readonly objects = new Map<string, string>();
  async getBytes(uri: string): Promise<Uint8Array> {
    const body = this.objects.get(uri);
    if (body === undefined) throw new ObjectNotFoundError(`Object not found: ${uri}`);
    return Buffer.from(body);
  }
  async put(uri: string, body: string | Uint8Array): Promise<void> {
    this.objects.set(uri, typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  }
}

describe("the local Distributed Map's JSONL ItemReader reads lines as LineCursor splits them", () => {
  it('gives one item per non-blank line: CRLF, blank lines, a last line without newline ending in CR', async () => {
    const store = new MemoryStore();
    await store.put('s3://bucket/jobs.jsonl', '{"id":"a"}\r\n\r\n{"id":"b\\r"}\n   \n{"id":"c"}\r');
    const definition: Definition = {
      StartAt: 'Work',
      States: {
        Work: {
          Type: 'Map',
          ItemReader: {
            Resource: 'arn:aws:states:::s3:getObject',
            ReaderConfig: { InputType: 'JSONL' },
            Parameters: { Bucket: 'bucket', Key: 'jobs.jsonl' },
          },
          ItemProcessor: {
            ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
            StartAt: 'Job',
            States: { Job: { Type: 'Task', Resource: { 'Fn::GetAtt': ['job', 'Arn'] }, End: true } },
          },
          MaxConcurrency: 1,
          End: true,
        },
      },
    };
    const seen: unknown[] = [];
    const result = await runStateMachine(
      definition,
      {},
      {
        'lambda:job': async (input) => {
          seen.push(input);
          return 'ok';
        },
      },
      { store },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(seen).toEqual([{ id: 'a' }, { id: 'b\r' }, { id: 'c' }]);
  });
});

describe('the CLI sniffs a local file header from lines as LineCursor splits them', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'line-places-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the header of a CRLF file after blank lines, and the header of a header-only file ending in a lone CR', async () => {
    const crlf = join(dir, 'crlf.csv');
    await writeFile(crlf, '\r\n\r\nname,age\r\n1,2\r\n3,4\r\n');
    const found = await inspectInput(crlf, {});
    expect(found.header?.columns).toEqual(['name', 'age']);
    expect(found.headerDetected).toBe(true);

    const lone = join(dir, 'lone.csv.gz');
    await writeFile(lone, gzipSync('id,score\r'));
    // A header line (ended by a lone CR) and no records: refused, even with --header.
    await expect(inspectInput(lone, { header: true })).rejects.toThrow(
      `${lone} has a header line but no records (line 1 names 2 columns;`,
    );
  });

  it('reads a header whose UTF-8 characters straddle two reads of the file', async () => {
    // 65,535 newlines put the header's first character across the 64 KiB read boundary.
    const file = join(dir, 'wide.csv');
    await writeFile(file, `${'\n'.repeat(65_535)}é,ü\n1,2\n3,4\n`);
    expect((await inspectInput(file, {})).header?.columns).toEqual(['é', 'ü']);
  });
});
