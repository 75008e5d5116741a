import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningModelServer, startModelServer } from '../../src/model-server/server.js';
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
const IRIS = join(ROOT, 'test/fixtures/models/iris-softprob');

function expectClose(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - (expected[i] as number))));
  expect(worst).toBeLessThanOrEqual(1e-6);
}

describe('startModelServer', () => {
  let server: RunningModelServer;
  let iris: RunningModelServer;

  beforeAll(async () => {
    server = await startModelServer({ modelPath: SAMPLE_MODEL, port: 0 });
    iris = await startModelServer({ model: await loadXGBoostModel(IRIS), port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server?.close();
    await iris?.close();
  });

  const invoke = (body: string, contentType: string, accept?: string, target = server) =>
    fetch(`${target.url}/invocations`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(accept ? { accept } : {}) },
      body,
    });

  it('answers GET /ping with 200 once the model is loaded', async () => {
    const response = await fetch(`${server.url}/ping`);

    expect(response.status).toBe(200);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers GET /execution-parameters with MultiRecord, 6 MB and one transform per core', async () => {
    const response = await fetch(`${server.url}/execution-parameters`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const parameters = (await response.json()) as { MaxConcurrentTransforms: number };
    expect(parameters).toMatchObject({ BatchStrategy: 'MultiRecord', MaxPayloadInMB: 6 });
    expect(parameters.MaxConcurrentTransforms).toBeGreaterThanOrEqual(1);
  });

  it("returns XGBoost's predictions as CSV, one line per record, for the whole sample", async () => {
    const response = await invoke(SAMPLE_INPUT, 'text/csv');

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv');
    const lines = (await response.text()).split('\n');
    expect(lines.pop()).toBe('');
    expectClose(lines.map(Number), SAMPLE_EXPECTED);
  });

  it('accepts CRLF line ends and no final newline, with missing values, and answers CSV for */*', async () => {
    const rows = SAMPLE_INPUT.trimEnd().split('\n');
    const missing = rows.map((row, i) => [row, i] as const).filter(([row]) => /(^|,)(,|$)/.test(row));
    expect(missing.length).toBeGreaterThan(0);

    const response = await invoke(missing.map(([row]) => row).join('\r\n'), 'text/csv; charset=utf-8', '*/*');

    expect(response.status).toBe(200);
    const scores = (await response.text()).trimEnd().split('\n').map(Number);
    expectClose(
      scores,
      missing.map(([, i]) => SAMPLE_EXPECTED[i] as number),
    );
  });

  it('reads JSON lines and answers JSON lines with score and predicted_label', async () => {
    const rows = SAMPLE_INPUT.trimEnd()
      .split('\n')
      .slice(0, 5)
      .map((row) => row.split(',').map((v) => (v === '' ? null : Number(v))));

    const response = await invoke(
      rows.map((row) => JSON.stringify(row)).join('\n'),
      'application/jsonlines',
      'application/jsonlines',
    );

    expect(response.status).toBe(200);
    const objects = (await response.text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expectClose(
      objects.map((o) => o.score),
      SAMPLE_EXPECTED.slice(0, 5),
    );
    expect(objects.map((o) => o.predicted_label)).toEqual(
      SAMPLE_EXPECTED.slice(0, 5).map((p) => (p > 0.5 ? 1 : 0)),
    );
  });

  it('reads {"instances"} JSON and answers {"predictions"} for application/json', async () => {
    const rows = SAMPLE_INPUT.trimEnd()
      .split('\n')
      .slice(0, 3)
      .map((row) => row.split(',').map((v) => (v === '' ? null : Number(v))));

    const response = await invoke(
      JSON.stringify({ instances: rows }),
      'application/json',
      'application/json',
    );

    expect(response.status).toBe(200);
    const { predictions } = (await response.json()) as { predictions: { score: number }[] };
    expectClose(
      predictions.map((p) => p.score),
      SAMPLE_EXPECTED.slice(0, 3),
    );
  });

  it('answers comma-separated class probabilities for a softprob model', async () => {
    const input = readFileSync(join(IRIS, 'input.csv'), 'utf8');
    const expected = readFileSync(join(IRIS, 'expected-predictions.csv'), 'utf8').trimEnd().split('\n');

    const response = await invoke(input, 'text/csv', 'text/csv', iris);

    const lines = (await response.text()).trimEnd().split('\n');
    expect(lines).toHaveLength(150);
    expectClose(
      lines.flatMap((line) => line.split(',').map(Number)),
      expected.flatMap((line) => line.split(',').map(Number)),
    );
  });

  it('answers 400 naming the record and the problem when a line is bad, the record also in X-Invalid-Record', async () => {
    const rows = SAMPLE_INPUT.trimEnd().split('\n').slice(0, 4);
    rows[2] = rows[2]?.replace(/^[^,]*/, 'oops') ?? '';
    const short = [rows[0], rows[1]?.split(',').slice(1).join(',')].join('\n');

    const badValue = await invoke(rows.join('\n'), 'text/csv');
    const badCount = await invoke(short, 'text/csv');

    expect(badValue.status).toBe(400);
    expect(await badValue.text()).toBe('Record 3 has a non-numeric value in field 1: "oops"\n');
    expect(badCount.status).toBe(400);
    expect(await badCount.text()).toBe('Record 2 has 29 values; the model expects 30\n');
    expect([badValue.headers.get('x-invalid-record'), badCount.headers.get('x-invalid-record')]).toEqual([
      '3',
      '2',
    ]);
  });

  it('answers 400 naming the line when the bad record arrives in a later chunk of a streamed body', async () => {
    const rows = SAMPLE_INPUT.trimEnd().split('\n');
    rows[500] = rows[500]?.replace(/,[^,]*,/, ',,,') ?? '';
    const body = Buffer.from(rows.join('\n'));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += 4096) controller.enqueue(body.subarray(i, i + 4096));
        controller.close();
      },
    });

    const response = await fetch(`${server.url}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: stream,
      duplex: 'half',
    } as RequestInit);

    expect(response.status).toBe(400);
    expect(await response.text()).toBe('Record 501 has 31 values; the model expects 30\n');
  });

  it('answers 415 for a content type it cannot read and 406 for an Accept it cannot write', async () => {
    const unsupported = await invoke('1,2', 'application/x-protobuf');
    const unacceptable = await invoke(SAMPLE_INPUT, 'text/csv', 'application/x-recordio-protobuf');

    expect(unsupported.status).toBe(415);
    expect(await unsupported.text()).toMatch(/Unsupported Content-Type "application\/x-protobuf"/);
    expect(unacceptable.status).toBe(406);
  });

  it('answers 404 for an unknown route and 405 for a known route with another method', async () => {
    const unknown = await fetch(`${server.url}/predict`);
    const wrongMethod = await fetch(`${server.url}/invocations`);

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

    expect(line).toMatch(/multi:softprob, 4 features, 45 trees/);
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
