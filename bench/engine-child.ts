/**
 * One transform job in a process of its own, so its peak RSS is the engine's alone (not the bench
 * harness's). Started by bench/run.ts with one JSON argument; prints one JSON line with the figures.
 *
 *   node --import tsx bench/engine-child.ts '{"storeRoot":…,"inputUri":…,"outputPath":…,"serverUrl":…}'
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { FileObjectStore } from '../src/local/file-object-store.js';
import { HttpModelClient } from '../src/local/http-model-client.js';
import { LocalTransformEngine } from '../src/local/transform-engine.js';

export interface EngineChildArgs {
  storeRoot: string;
  /** S3 prefix of the input objects. */
  inputUri: string;
  outputPath: string;
  /** The model server; `tiny` starts an in-process server answering one "0" line per record. */
  serverUrl: string | 'tiny';
}

export interface EngineChildResult {
  status: string;
  failureReason?: string;
  records: number;
  seconds: number;
  maxRssMB: number;
  vmHwmMB: number;
}

/** A trivial container: one "0" line per input line, for runs where only the engine's cost matters. */
async function startTinyServer(): Promise<{ url: string; close: () => void }> {
  const server = createServer((request, response) => {
    if (request.url === '/ping') {
      response.end();
      return;
    }
    if (request.url === '/execution-parameters') {
      response.writeHead(404).end();
      return;
    }
    let lines = 0;
    let last = 0x0a;
    request.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
      last = chunk[chunk.length - 1] ?? last;
    });
    request.on('end', () => {
      if (last !== 0x0a) lines++;
      response.writeHead(200, { 'content-type': 'text/csv' }).end('0\n'.repeat(lines));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

function vmHwmMB(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as EngineChildArgs;
  const tiny = args.serverUrl === 'tiny' ? await startTinyServer() : undefined;
  const client = new HttpModelClient(tiny?.url ?? args.serverUrl);
  let records = 0;
  const engine = new LocalTransformEngine({
    store: new FileObjectStore(args.storeRoot),
    resolveModel: () => client,
    log: (event) => {
      if (event.type === 'object-completed') records += event.records;
    },
  });
  const started = performance.now();
  const description = await engine.runTransformJob({
    TransformJobName: `bench-${process.pid}`,
    ModelName: 'bench',
    MaxConcurrentTransforms: availableParallelism(),
    MaxPayloadInMB: 6,
    BatchStrategy: 'MultiRecord',
    TransformInput: {
      DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: args.inputUri } },
      ContentType: 'text/csv',
      SplitType: 'Line',
    },
    TransformOutput: { S3OutputPath: args.outputPath, Accept: 'text/csv', AssembleWith: 'Line' },
    TransformResources: { InstanceType: 'local', InstanceCount: 1 },
  });
  const seconds = (performance.now() - started) / 1000;
  client.close();
  tiny?.close();
  const result: EngineChildResult = {
    status: description.TransformJobStatus,
    ...(description.FailureReason ? { failureReason: description.FailureReason } : {}),
    records,
    seconds,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    vmHwmMB: vmHwmMB(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
