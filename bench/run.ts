/**
 * `npm run bench [-- --quick] [-- --json]`: the pipeline's throughput and memory figures, measured in
 * one run on the same generated data and the same model server, so their ratios hold on a noisy
 * machine. Inputs are generated in a temporary directory that is removed at the end, error or not.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseTransformOutput } from '../src/core/result-parsing.js';
import { applyRunDefaults } from '../src/core/run-defaults.js';
import type { RunRequest } from '../src/core/run-request.js';
import { FileObjectStore } from '../src/local/file-object-store.js';
import { LOCAL_BUCKET, LocalPipeline } from '../src/local/local-pipeline.js';
import { LocalModelContainers } from '../src/local/model-containers.js';
import { LocalModelRegistry } from '../src/local/model-registry.js';
import { parseCsvRecords } from '../src/model-server/records.js';
import { loadXGBoostModel } from '../src/model-server/xgboost-model.js';
import type { EngineChildArgs, EngineChildResult } from './engine-child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL = join(ROOT, 'examples/model/xgboost-model.json');
const SAMPLE = join(ROOT, 'examples/sample');
const ENGINE_CHILD = join(ROOT, 'bench/engine-child.ts');
const GB = 1024 ** 3;
/** Alternating rounds of (1), (2) and (3). */
const ROUNDS = 3;

const { values: flags } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
});
const SIZES = flags.quick
  ? { throughputRows: 200_000, naiveRows: 20_000, bigBytes: 0.2 * GB, parseRows: 100_000 }
  : { throughputRows: 1_000_000, naiveRows: 60_000, bigBytes: 2 * GB, parseRows: 500_000 };

interface Row {
  figure: string;
  value: number;
  unit: string;
  ratio?: string;
  target?: string;
  pass?: boolean;
  note?: string;
}

const rows: Row[] = [];
const children = new Set<ChildProcess>();
let tempDir: string | undefined;
let containers: LocalModelContainers | undefined;

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Lines of 30 features: the sample's rows (some with empty fields, i.e. missing values), repeated. */
async function sampleLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const file of ['part-0001.csv', 'part-0002.csv']) {
    const text = await readFile(join(SAMPLE, 'input', file), 'utf8');
    lines.push(...text.split('\n').filter((line) => line !== ''));
  }
  return lines;
}

/** Writes whole sample lines until `rows` lines or `bytes` bytes; returns the row count written. */
async function writeInput(path: string, lines: string[], limit: { rows?: number; bytes?: number }) {
  await mkdir(join(path, '..'), { recursive: true });
  const block = Buffer.from(`${lines.join('\n')}\n`);
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  let written = 0;
  let bytes = 0;
  const write = (buffer: Buffer) =>
    out.write(buffer) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', resolve));
  while (
    (limit.rows === undefined || written < limit.rows) &&
    (limit.bytes === undefined || bytes < limit.bytes)
  ) {
    const left = limit.rows === undefined ? lines.length : Math.min(lines.length, limit.rows - written);
    const chunk = left === lines.length ? block : Buffer.from(`${lines.slice(0, left).join('\n')}\n`);
    await write(chunk);
    written += left;
    bytes += chunk.length;
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return { rows: written, bytes };
}

function runEngineChild(args: EngineChildArgs): Promise<EngineChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENGINE_CHILD, JSON.stringify(args)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      children.delete(child);
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`engine child exited ${code}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      const result = JSON.parse(line) as EngineChildResult;
      if (result.status !== 'Completed')
        reject(new Error(`transform job ${result.status}: ${result.failureReason}`));
      else resolve(result);
    });
  });
}

/** (3) What most tutorials show: 100 rows per request, one request at a time, answers collected. */
async function naiveLoop(url: string, lines: string[], rowCount: number): Promise<number> {
  let answered = 0;
  const started = performance.now();
  for (let start = 0; start < rowCount; start += 100) {
    const chunk: string[] = [];
    for (let r = start; r < Math.min(start + 100, rowCount); r++)
      chunk.push(lines[r % lines.length] as string);
    const response = await fetch(`${url}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
      body: `${chunk.join('\n')}\n`,
    });
    if (!response.ok) throw new Error(`naive loop: HTTP ${response.status}: ${await response.text()}`);
    answered += (await response.text()).trim().split('\n').length;
  }
  const seconds = (performance.now() - started) / 1000;
  if (answered !== rowCount) throw new Error(`naive loop: ${answered} answers for ${rowCount} rows`);
  return rowCount / seconds;
}

async function main(): Promise<void> {
  tempDir = await mkdtemp(join(tmpdir(), 'bench-'));
  const storeRoot = join(tempDir, 's3');
  const bucketDir = join(storeRoot, 'bench');
  const store = new FileObjectStore(storeRoot);
  const lines = await sampleLines();
  const model = await loadXGBoostModel(MODEL);

  // The data every throughput figure uses.
  const throughputFile = join(bucketDir, 'throughput/in/part-0001.csv');
  const { rows: n, bytes: throughputBytes } = await writeInput(throughputFile, lines, {
    rows: SIZES.throughputRows,
  });
  progress(`${n} rows (${(throughputBytes / 2 ** 20).toFixed(0)} MiB) generated`);

  // (1), (2) and (3) alternate, three rounds, so each engine run is compared with an in-process pass taken
  // moments before it: on a machine whose speed drifts, a ratio of figures taken minutes apart is not
  // a ratio of the code's speeds. Each figure is the median of its three; the ratio is the median of
  // the three rounds' own ratios.
  const parsed = parseCsvRecords(await readFile(throughputFile), model.numFeature);
  const predictOnce = () => {
    const started = performance.now();
    model.predictBatch(parsed.values, parsed.numRows, model.numFeature);
    return parsed.numRows / ((performance.now() - started) / 1000);
  };

  // The built-in server as the pipeline runs it: a child process started by LocalModelContainers.
  const registry = new LocalModelRegistry(join(tempDir, 'models.json'));
  await registry.put({
    ModelName: 'bench-xgboost',
    PrimaryContainer: { Image: 'builtin:xgboost', ModelDataUrl: 's3://models/m.json' },
  });
  containers = new LocalModelContainers(registry, () => MODEL);
  const client = (await containers.resolve('bench-xgboost', { SAGEMAKER_BATCH: 'true' })) as unknown as {
    baseUrl: URL;
  };
  const serverUrl = client.baseUrl.href.replace(/\/$/, '');
  progress(`model server at ${serverUrl}`);

  // (2) The engine end to end, in its own process. (1) is measured warm, so (2) is too: one untimed
  // pass of each first lets V8 (here and in the server's worker processes) compile the hot paths.
  const engineArgs = {
    storeRoot,
    inputUri: 's3://bench/throughput/in/',
    outputPath: 's3://bench/throughput/out',
    serverUrl,
  };
  predictOnce();
  await runEngineChild(engineArgs);
  const inProcessRates: number[] = [];
  const engineRates: number[] = [];
  const roundRatios: number[] = [];
  // (3) The naive loop against the same server, in the same rounds.
  const naiveRows = Math.min(SIZES.naiveRows, n);
  const naiveRates: number[] = [];
  const naiveRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const inProcessRate = predictOnce();
    const engine = await runEngineChild(engineArgs);
    if (engine.records !== n) throw new Error(`engine wrote ${engine.records} records for ${n}`);
    const engineRoundRate = n / engine.seconds;
    const naiveRate = await naiveLoop(serverUrl, lines, naiveRows);
    inProcessRates.push(inProcessRate);
    engineRates.push(engineRoundRate);
    roundRatios.push(engineRoundRate / inProcessRate);
    naiveRates.push(naiveRate);
    naiveRatios.push(engineRoundRate / naiveRate);
    progress(
      `round ${round + 1}: in-process ${Math.round(inProcessRate)}, engine ${Math.round(engineRoundRate)}, naive ${Math.round(naiveRate)} rec/s`,
    );
  }
  const inProcess = median(inProcessRates);
  const engineRate = median(engineRates);
  const engineRatio = median(roundRatios);
  rows.push({
    figure: '(1) in-process predictBatch',
    value: inProcess,
    unit: 'rec/s',
    note: `the limit; median of ${ROUNDS} (${formatRange(inProcessRates)})`,
  });
  rows.push({
    figure: '(2) transform engine end to end',
    value: engineRate,
    unit: 'rec/s',
    ratio: `(2)/(1) = ${engineRatio.toFixed(2)}`,
    target: '≥ 0.8',
    pass: engineRatio >= 0.8,
    note: `median of ${ROUNDS} (${formatRange(engineRates)}), each after an in-process pass; ratio: median of the rounds' (${roundRatios.map((r) => r.toFixed(2)).join(', ')}); MaxPayloadInMB 6, MaxConcurrentTransforms ${availableParallelism()}, server in a child process`,
  });

  const naive = median(naiveRates);
  const naiveRatio = median(naiveRatios);
  rows.push({
    figure: '(3) naive loop (100 rows/request, serial)',
    value: naive,
    unit: 'rec/s',
    ratio: `(2)/(3) = ${naiveRatio.toFixed(1)}`,
    target: '≥ 5',
    pass: naiveRatio >= 5,
    note: `${naiveRows} rows; median of ${ROUNDS} (${formatRange(naiveRates)}), each right after an engine run; ratio: median of the rounds'`,
  });

  // (4) Peak RSS of the engine process at two input sizes, real XGBoost server.
  const rss: { bytes: number; result: EngineChildResult }[] = [];
  for (const [name, bytes] of [
    ['small', SIZES.bigBytes / 10],
    ['big', SIZES.bigBytes],
  ] as const) {
    const file = join(bucketDir, `rss-${name}/in/part-0001.csv`);
    const written = await writeInput(file, lines, { bytes });
    progress(
      `${name}: ${written.rows} rows (${(written.bytes / GB).toFixed(2)} GiB) generated; transforming`,
    );
    const result = await runEngineChild({
      storeRoot,
      inputUri: `s3://bench/rss-${name}/in/`,
      outputPath: `s3://bench/rss-${name}/out`,
      serverUrl,
    });
    if (result.records !== written.rows) throw new Error(`engine wrote ${result.records} of ${written.rows}`);
    rss.push({ bytes: written.bytes, result });
    await rm(join(bucketDir, `rss-${name}`), { recursive: true, force: true });
  }
  const [small, big] = rss as [(typeof rss)[0], (typeof rss)[0]];
  rows.push({
    figure: `(4) engine peak RSS, ${(small.bytes / GB).toFixed(2)} GiB input`,
    value: small.result.maxRssMB,
    unit: 'MB',
    note: `${small.result.records} rows in ${small.result.seconds.toFixed(0)} s (${(small.result.records / small.result.seconds).toFixed(0)} rec/s)`,
  });
  rows.push({
    figure: `(4) engine peak RSS, ${(big.bytes / GB).toFixed(2)} GiB input`,
    value: big.result.maxRssMB,
    unit: 'MB',
    ratio: `big/small = ${(big.result.maxRssMB / small.result.maxRssMB).toFixed(2)}`,
    target: '≤ 300 MB',
    pass: big.result.maxRssMB <= 300 && big.bytes >= (flags.quick ? 0 : 2 * GB),
    note: `${big.result.records} rows in ${big.result.seconds.toFixed(0)} s (${(big.result.records / big.result.seconds).toFixed(0)} rec/s); real XGBoost server`,
  });

  // (5a) Result parsing + join: generated inputs and outputs, one manifest.
  await writeInput(join(bucketDir, 'parse/in/part-0001.csv'), lines, { rows: SIZES.parseRows });
  const scores = lines.map((_, i) => `${((i * 7919) % 1000) / 1000}`);
  await writeInput(join(bucketDir, 'parse/out/part-0001.csv.out'), scores, { rows: SIZES.parseRows });
  await store.put(
    's3://bench/parse/manifest.json',
    Buffer.from(JSON.stringify([{ prefix: 's3://bench/parse/in/' }, 'part-0001.csv'])),
  );
  const runRequest = JSON.parse(await readFile(join(SAMPLE, 'run-request.json'), 'utf8')) as RunRequest;
  const parseRequest = {
    runId: 'bench',
    runDate: '2025-01-01',
    attemptId: '000000000000',
    variant: 'xgboost',
    modelName: 'bench-xgboost',
    shardId: '0001',
    inputManifestUri: 's3://bench/parse/manifest.json',
    transformOutputPath: 's3://bench/parse/out',
    contentType: 'text/csv',
    splitType: 'Line',
    compressionType: 'None',
    accept: 'text/csv',
    results: { ...applyRunDefaults(runRequest).results, resultsPrefix: 's3://bench/results/' },
  };
  // Warm, like (1) and (2): one untimed pass, then the median of three.
  const parseRates: number[] = [];
  for (let pass = 0; pass <= ROUNDS; pass++) {
    const started = performance.now();
    const result = await parseTransformOutput(parseRequest, { store });
    const seconds = (performance.now() - started) / 1000;
    if (result.recordsIn !== SIZES.parseRows || result.recordsOut !== SIZES.parseRows) {
      throw new Error(
        `parsing joined ${result.recordsIn} in, ${result.recordsOut} out of ${SIZES.parseRows}`,
      );
    }
    if (pass > 0) parseRates.push(SIZES.parseRows / seconds);
  }
  const parseRate = median(parseRates);
  rows.push({
    figure: '(5) result parsing + join (parseTransformOutput)',
    value: parseRate,
    unit: 'rec/s',
    target: '≥ 300k',
    pass: parseRate >= 300_000,
    note: `${SIZES.parseRows} records, 30 features, binary labels; median of ${ROUNDS} (${formatRange(parseRates)}) after a warm-up pass`,
  });
  await rm(join(bucketDir, 'parse'), { recursive: true, force: true });

  // (5b) The whole local pipeline on the sample, in a temporary home.
  const home = join(tempDir, 'home');
  const pipelineStarted = performance.now();
  const pipeline = await LocalPipeline.open({ home });
  try {
    const modelDataUrl = `s3://${LOCAL_BUCKET}/models/bench/model.json`;
    await pipeline.store.put(modelDataUrl, await readFile(MODEL));
    const prefix = `s3://${LOCAL_BUCKET}/incoming/sample/`;
    for (const file of await readdir(join(SAMPLE, 'input'))) {
      await pipeline.store.put(`${prefix}${file}`, await readFile(join(SAMPLE, 'input', file)));
    }
    const result = await pipeline.run({
      ...runRequest,
      runId: 'bench',
      input: prefix,
      models: [{ variant: 'xgboost-model', image: 'builtin:xgboost', modelDataUrl }],
    } as RunRequest);
    if (result.status !== 'SUCCEEDED') throw new Error(`sample pipeline ${result.status}: ${result.error}`);
  } finally {
    await pipeline.close();
  }
  rows.push({
    figure: '(5) local pipeline end to end, sample (569 rows)',
    value: (performance.now() - pipelineStarted) / 1000,
    unit: 's',
    note: 'open, model server start, transform, parse, DuckDB register + queries',
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function formatRange(rates: number[]): string {
  const k = (rate: number) => `${Math.round(rate / 1000)}k`;
  return `${k(Math.min(...rates))}–${k(Math.max(...rates))}`;
}

function format(value: number, unit: string): string {
  if (unit === 'rec/s') return `${Math.round(value).toLocaleString('en-US')} rec/s`;
  if (unit === 'MB') return `${value.toFixed(0)} MB`;
  return `${value.toFixed(2)} ${unit}`;
}

function printTable(): void {
  const header = ['figure', 'value', 'ratio', 'target', 'result', 'note'];
  const table = rows.map((row) => [
    row.figure,
    format(row.value, row.unit),
    row.ratio ?? '',
    row.target ?? '',
    row.pass === undefined ? '' : row.pass ? 'PASS' : 'MISS',
    row.note ?? '',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => (r[c] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] as number))
      .join(' | ')
      .trimEnd();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `Benchmark${flags.quick ? ' (--quick: smaller sizes)' : ''}: ${availableParallelism()} cores (${cpu}), Node ${process.version}\n`,
  );
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}\n`);
  for (const row of table) process.stdout.write(`${line(row)}\n`);
}

async function cleanup(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  await containers?.close().catch(() => undefined);
  if (tempDir) await rm(tempDir, { recursive: true, force: true }).catch(() => undefined);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ quick: flags.quick, cores: availableParallelism(), node: process.version, figures: rows }, null, 2)}\n`,
    );
  } else {
    printTable();
  }
} catch (error) {
  if (rows.length > 0 && !flags.json) printTable();
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
