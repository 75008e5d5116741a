import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  containerSettingsFromEnv,
  type RunningModelServer,
  startModelServer,
} from '../../src/model-server/server.js';
import { loadXGBoostModel } from '../../src/model-server/xgboost-model.js';

const ROOT = join(import.meta.dirname, '../..');
const SAMPLE_MODEL = join(ROOT, 'examples/model/xgboost-model.json');
const SAMPLE_INPUT = ['part-0001.csv', 'part-0002.csv']
  .map((f) => readFileSync(join(ROOT, 'examples/sample/input', f), 'utf8'))
  .join('');
const SAMPLE_EXPECTED = readFileSync(join(ROOT, 'examples/sample/expected-predictions.csv'), 'utf8')
  .trimEnd()
  .split('\n')
  .map(Number);
const IRIS = join(ROOT, 'test/fixtures/models/iris-softprob/xgboost-model.json');

function expectClose(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - (expected[i] as number))));
  expect(worst).toBeLessThanOrEqual(1e-6);
}

describe('startModelServer', () => {
  let batch: RunningModelServer;
  let endpoint: RunningModelServer;
  let small: RunningModelServer;

  beforeAll(async () => {
    const model = await loadXGBoostModel(SAMPLE_MODEL);
    batch = await startModelServer({
      model,
      port: 0,
      settings: containerSettingsFromEnv({ SAGEMAKER_BATCH: 'true' }),
    });
    endpoint = await startModelServer({ model, port: 0, settings: containerSettingsFromEnv({}) });
    small = await startModelServer({
      model,
      port: 0,
      settings: containerSettingsFromEnv({
        SAGEMAKER_BATCH: 'true',
        MAX_CONTENT_LENGTH: String(2 * 1024 * 1024),
      }),
    });
  });
  afterAll(async () => {
    await Promise.all([batch?.close(), endpoint?.close(), small?.close()]);
  });

  const invoke = (target: RunningModelServer, body: string | Buffer, contentType?: string, accept?: string) =>
    fetch(`${target.url}/invocations`, {
      method: 'POST',
      headers: { ...(contentType ? { 'content-type': contentType } : {}), ...(accept ? { accept } : {}) },
      body,
    });

  it('answers GET /ping with 200 once the model is loaded', async () => {
    const response = await fetch(`${batch.url}/ping`);

    expect(response.status).toBe(200);
    expect(batch.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers GET /execution-parameters as the container: MULTI_RECORD, its payload limit in MiB, a transform per CPU', async () => {
    const parameters = await (await fetch(`${batch.url}/execution-parameters`)).json();
    const raised = await (await fetch(`${small.url}/execution-parameters`)).json();

    expect(parameters).toEqual({
      MaxConcurrentTransforms: availableParallelism(),
      BatchStrategy: 'MULTI_RECORD',
      MaxPayloadInMB: 6,
    });
    expect(raised).toMatchObject({ MaxPayloadInMB: 2 });
  });

  it("answers one value per line in batch mode, XGBoost's predictions, whatever the Accept", async () => {
    const bodies = await Promise.all(
      ['text/csv', 'application/json', 'application/jsonlines', undefined].map(async (accept) =>
        (await invoke(batch, SAMPLE_INPUT, 'text/csv', accept)).text(),
      ),
    );

    expect(new Set(bodies).size).toBe(1);
    expect((bodies[0] as string).endsWith('\n')).toBe(true);
    expectClose((bodies[0] as string).trimEnd().split('\n').map(Number), SAMPLE_EXPECTED);
  });

  it('answers each of several requests in flight with its own records, bodies sent whole or chunked, big then small', async () => {
    // The server reuses request bodies' memory: answers must never mix requests or keep stale bytes.
    const lines = SAMPLE_INPUT.trimEnd().split('\n');
    const slices = [
      [0, lines.length],
      [5, 9],
      [100, 400],
      [3, 4],
    ] as const;
    const chunked = (text: string) =>
      fetch(`${batch.url}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: new ReadableStream({
          start(controller) {
            const bytes = Buffer.from(text);
            for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.subarray(i, i + 1000));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    const send = (round: number, [from, to]: readonly [number, number]) => {
      const text = `${lines.slice(from, to).join('\n')}\n`;
      return (round % 2 ? chunked(text) : invoke(batch, text, 'text/csv')).then((r) => r.text());
    };

    // A request whose body stops half way while another is read and answered whole, then goes on (after
    // a first request, so there is memory to reuse).
    await send(0, [0, lines.length]);
    const text = `${lines.join('\n')}\n`;
    const half = Buffer.from(text).subarray(0, text.length >> 1);
    let resume: () => void = () => {};
    const resumed = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const slow = fetch(`${batch.url}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', 'content-length': String(Buffer.byteLength(text)) },
      body: new ReadableStream({
        async start(controller) {
          controller.enqueue(half);
          await resumed;
          controller.enqueue(Buffer.from(text).subarray(half.length));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit).then((r) => r.text());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const quick = await send(0, [50, 60]);
    resume();
    expectClose(quick.trimEnd().split('\n').map(Number), SAMPLE_EXPECTED.slice(50, 60));
    expectClose((await slow).trimEnd().split('\n').map(Number), SAMPLE_EXPECTED);

    for (const round of [0, 1]) {
      const inFlight = await Promise.all(slices.map((slice) => send(round, slice)));
      const oneByOne: string[] = [];
      for (const slice of slices) oneByOne.push(await send(round, slice));

      for (const answers of [inFlight, oneByOne]) {
        slices.forEach(([from, to], i) => {
          expectClose(
            (answers[i] as string).trimEnd().split('\n').map(Number),
            SAMPLE_EXPECTED.slice(from, to),
          );
        });
      }
    }
  });

  it('answers {"predictions": [{"score": p}]} for JSON and value rows for CSV outside batch mode', async () => {
    const rows = SAMPLE_INPUT.split('\n').slice(0, 3).join('\n');
    const json = (await (await invoke(endpoint, rows, 'text/csv', 'application/json')).json()) as {
      predictions: { score: number }[];
    };
    const csv = await (await invoke(endpoint, rows, 'text/csv', 'text/csv')).text();
    const jsonLines = await invoke(endpoint, rows, 'text/csv', 'application/jsonlines');

    expect(json.predictions).toHaveLength(3);
    expectClose(
      json.predictions.map((p: { score: number }) => p.score),
      SAMPLE_EXPECTED.slice(0, 3),
    );
    expectClose(csv.trimEnd().split('\n').map(Number), SAMPLE_EXPECTED.slice(0, 3));
    expect(jsonLines.status).toBe(500);
  });

  it('reads text/libsvm with 1-based indices, absent features missing, as the CSV', async () => {
    const lines = SAMPLE_INPUT.trimEnd().split('\n').slice(0, 20);
    const libsvm = lines
      .map(
        (line) =>
          `0 ${line
            .split(',')
            .flatMap((v, i) => (v === '' ? [] : [`${i + 1}:${v}`]))
            .join(' ')}`,
      )
      .join('\n');

    const body = await (await invoke(batch, libsvm, 'text/libsvm')).text();

    expectClose(body.trimEnd().split('\n').map(Number), SAMPLE_EXPECTED.slice(0, 20));
  });

  it('answers 415 for JSON and JSON lines input, saying the SageMaker XGBoost container does not accept them', async () => {
    for (const type of ['application/json', 'application/jsonlines']) {
      const response = await invoke(batch, '[1,2,3]', type);

      expect(response.status).toBe(415);
      expect(await response.text()).toMatch(
        /the SageMaker XGBoost container does not accept JSON or JSON lines input/,
      );
    }
  });

  it('answers 204 to an empty body, 415 to an unreadable record (named), 400 to too many features, 406 to an Accept it cannot write', async () => {
    const row = SAMPLE_INPUT.split('\n')[0] as string;
    const empty = await invoke(batch, '', 'text/csv');
    const unreadable = await invoke(batch, `${row}\n${row.replace(/^[^,]*/, 'abc')}\n`, 'text/csv');
    const wide = await invoke(batch, `${row},1\n`, 'text/csv');
    const badAccept = await invoke(batch, `${row}\n`, 'text/csv', 'text/plain');

    expect(empty.status).toBe(204);
    expect(unreadable.status).toBe(415);
    expect(unreadable.headers.get('x-invalid-record')).toBe('2');
    expect(await unreadable.text()).toMatch(/Record 2 has a non-numeric value in field 1: "abc"/);
    expect(wide.status).toBe(400);
    expect(await wide.text()).toMatch(/has 31 values; the model expects 30/);
    expect(badAccept.status).toBe(406);
  });

  it('answers 413 to a body over MAX_CONTENT_LENGTH (6 MiB unless the environment raises it)', async () => {
    const row = `${SAMPLE_INPUT.split('\n')[0]}\n`;
    const sixMiB = Buffer.from(row.repeat(Math.ceil((6 * 1024 * 1024) / row.length)));
    const twoMiB = Buffer.from(row.repeat(Math.ceil((2 * 1024 * 1024) / row.length)));

    const overDefault = await invoke(batch, sixMiB, 'text/csv');
    const overRaisedLower = await invoke(small, twoMiB, 'text/csv');
    const underDefault = await invoke(batch, twoMiB, 'text/csv');

    expect(overDefault.status).toBe(413);
    expect(await overDefault.text()).toMatch(/MAX_CONTENT_LENGTH \(6291456 bytes\)/);
    expect(overRaisedLower.status).toBe(413);
    expect(underDefault.status).toBe(200);
  });

  it('answers 404 for an unknown route and 405 for a known route with another method', async () => {
    const unknown = await fetch(`${batch.url}/predict`, { method: 'POST', body: '1' });
    const wrongMethod = await fetch(`${batch.url}/invocations`);

    expect(unknown.status).toBe(404);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });
});

describe('model server process', () => {
  const ENTRY = join(ROOT, 'src/model-server/main.ts');

  function start(args: string[], env: Record<string, string> = {}, ipc = false): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
  }

  function output(child: ChildProcess, stream: 'stdout' | 'stderr', until: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      let text = '';
      child[stream]?.on('data', (data: Buffer) => {
        text += data.toString();
        if (until.test(text)) resolve(text);
      });
      child.once('exit', () => (until.test(text) ? resolve(text) : reject(new Error(`exited: ${text}`))));
    });
  }

  const freePort = () =>
    new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });

  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  it('logs its URL once listening, serves, and exits 0 on SIGTERM', async () => {
    const child = start(['--port', '0'], { SM_MODEL_DIR: IRIS });
    const line = await output(child, 'stdout', /listening on http:\/\/127\.0\.0\.1:\d+.*\n/);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0];

    const ping = await fetch(`${url}/ping`);
    const exit = exited(child);
    child.kill('SIGTERM');

    expect(line).toMatch(/multi:softprob gbtree, 4 features, 45 trees/);
    expect(line.trim().split('\n')).toHaveLength(1);
    expect(ping.status).toBe(200);
    expect(await exit).toBe(0);
  });

  it('exits 0 on SIGTERM with its workers when started with an IPC channel, as the local pipeline does', async () => {
    // The IPC channel (which lets the server notice a dead parent) must not keep it alive after a stop.
    const child = start(['--port', '0'], { SM_MODEL_DIR: IRIS, SAGEMAKER_MODEL_SERVER_WORKERS: '2' }, true);
    const line = await output(child, 'stdout', /listening on http:\/\/127\.0\.0\.1:\d+.*\n/);
    const exit = new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    );
    child.kill('SIGTERM');

    expect(line).toMatch(/2 worker processes/);
    expect(await exit).toEqual([0, null]);
  });

  it('listens on SAGEMAKER_BIND_TO_PORT when no --port is given', async () => {
    const port = await freePort();
    const child = start(['serve', '--model', IRIS], { SAGEMAKER_BIND_TO_PORT: String(port) });
    await output(child, 'stdout', /listening/);

    const ping = await fetch(`http://127.0.0.1:${port}/ping`);
    const exit = exited(child);
    child.kill('SIGTERM');

    expect(ping.status).toBe(200);
    expect(await exit).toBe(0);
  });

  it('exits 1 with the reason on stderr when the model cannot be loaded', async () => {
    const child = start(['--model', join(ROOT, 'no-such-model.json'), '--port', '0']);
    const exit = exited(child);

    const stderr = await output(child, 'stderr', /could not start/);

    expect(await exit).toBe(1);
    expect(stderr).toMatch(/no-such-model\.json does not exist/);
  });
});
