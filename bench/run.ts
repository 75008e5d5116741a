/**
 * `npm run bench [-- --quick] [-- --json] [-- --rounds N] [-- --startup-only] [-- --predictor-only]`: the pipeline end to end against the script a
 * data scientist would write (bench/pandas_xgboost.py: pandas in 100k-row chunks + XGBoost 1.7.4's
 * Booster.predict + JSON lines), on the same generated rows and model, in alternating rounds so their
 * ratio holds on a shared, noisy machine. Also: the built-in predictor against native XGBoost
 * (bench/predictor.ts), the 100-rows-per-request loop most tutorials show, the peak RSS of every process
 * of a run (CLI, model server and its workers) at two input sizes, and the time of each stage.
 *
 * The product runs as a user runs it: `node scripts/start.mjs run <file> --model …` (the esbuild build,
 * built once before the rounds), in a fresh pipeline home each time. Inputs live in a temporary
 * directory removed at the end, error or not.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalModelContainers } from '../src/local/model-containers.js';
import { LocalModelRegistry } from '../src/local/model-registry.js';
import { count, median, range, rate, table } from './format.js';
import { sampleTree, type TreePeaks } from './proc-sampler.js';
import { measureStartup, type StartupRun } from './startup.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL = join(ROOT, 'examples/model/xgboost-model.json');
const SAMPLE = join(ROOT, 'examples/sample');
const PYTHON = '/usr/bin/python3';
const LABELS = 'malignant,benign';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    'startup-only': { type: 'boolean', default: false },
    /** Only the predictor rows (bench/predictor.ts: both tree paths and native XGBoost, alternating). */
    'predictor-only': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(flags.rounds);
const SIZES = flags.quick
  ? { rows: 100_000, bigRows: 400_000, naiveRows: 20_000 }
  : { rows: 1_000_000, bigRows: 4_000_000, naiveRows: 60_000 };

interface Row {
  figure: string;
  value: string;
  ratio?: string;
  target?: string;
  pass?: boolean;
  note?: string;
}

/** One end-to-end run of the product or of the pandas script. */
interface Timed {
  seconds: number;
  peaks: TreePeaks;
  /** The product's stages, from its own output: transform, parse, register, queries + report. */
  stages?: Record<string, number>;
}

const rows: Row[] = [];
const processRows: { run: string; role: string; peakMB: number }[] = [];
const stageRows: Record<string, string>[] = [];
const children = new Set<ChildProcess>();
let tempDir: string | undefined;
let containers: LocalModelContainers | undefined;

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** The sample's 569 rows (30 features, some cells empty: missing values), in order. */
async function sampleLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const file of ['part-0001.csv', 'part-0002.csv']) {
    const text = await readFile(join(SAMPLE, 'input', file), 'utf8');
    lines.push(...text.split('\n').filter((line) => line !== ''));
  }
  return lines;
}

/** Writes `rows` sample lines, repeated, to a headerless CSV. */
async function writeInput(path: string, lines: string[], rowCount: number): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const block = Buffer.from(`${lines.join('\n')}\n`);
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  const write = (buffer: Buffer) =>
    out.write(buffer) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', resolve));
  for (let written = 0; written < rowCount; ) {
    const left = Math.min(lines.length, rowCount - written);
    await write(left === lines.length ? block : Buffer.from(`${lines.slice(0, left).join('\n')}\n`));
    written += left;
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

/** Runs a command to its end, sampling the memory of its process tree; rejects on a non-zero exit. */
function timedRun(command: string, args: string[]): Promise<Timed & { stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const sampler = sampleTree(child.pid as number);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const peaks = sampler.stop();
      children.delete(child);
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr || stdout}`));
      else resolve({ seconds, peaks, stdout });
    });
  });
}

/** The product end to end: `npm start -- run <file>` from the build, in a fresh home. */
async function product(input: string, rowCount: number, home: string): Promise<Timed> {
  await rm(home, { recursive: true, force: true });
  const run = await timedRun(process.execPath, [
    join(ROOT, 'scripts/start.mjs'),
    'run',
    input,
    '--model',
    MODEL,
    '--labels',
    LABELS,
    '--no-header',
    '--run-id',
    'bench',
    '--home',
    home,
  ]);
  await rm(home, { recursive: true, force: true });
  const counted = /records: ([\d,]+) in, ([\d,]+) out/.exec(run.stdout);
  const [recordsIn, recordsOut] = [counted?.[1], counted?.[2]].map((n) => Number(n?.replaceAll(',', '')));
  if (recordsIn !== rowCount || recordsOut !== rowCount)
    throw new Error(`the pipeline wrote ${recordsOut} of ${rowCount} records:\n${run.stdout}`);
  return { seconds: run.seconds, peaks: run.peaks, stages: stagesOf(run.stdout, run.seconds) };
}

/** Stage times as the CLI prints them; `start + other` is what is left of the wall time. */
function stagesOf(output: string, seconds: number): Record<string, number> {
  const find = (pattern: RegExp) => Number(pattern.exec(output)?.[1] ?? Number.NaN);
  const stages: Record<string, number> = {
    plan: find(/manifest: .*\(([\d.]+)s\)/),
    transform: find(/transform job \S+ Completed \(([\d.]+)s\)/),
    parse: find(/parsed .*\(([\d.]+)s\)/),
    register: find(/table registered \(([\d.]+)s\)/),
    'queries + report': find(/queries and report done \(([\d.]+)s\)/),
  };
  const known = Object.values(stages).reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);
  stages['start + other'] = seconds - known;
  return stages;
}

/** The startup row: the sample run as a user starts it (bench/startup.ts). */
async function startupRows(): Promise<void> {
  const runs = flags.quick ? 3 : 7;
  progress(`startup: the sample run, ${runs} times each way`);
  const { viaNpm, direct } = await measureStartup({
    root: ROOT,
    home: join(tempDir as string, 'sample-home'),
    runs,
    track: (child) => {
      children.add(child);
      child.once('close', () => children.delete(child));
    },
  });
  const wall = (list: StartupRun[]) => list.map((run) => run.seconds);
  const cpu = (list: StartupRun[]) =>
    list.every((run) => run.cpuSeconds !== undefined)
      ? `, CPU ${median(list.map((run) => run.cpuSeconds as number)).toFixed(2)} s`
      : '';
  const loads = [...viaNpm, ...direct].map((run) => run.load);
  rows.push({
    figure: 'startup: `npm start` (the 569-row sample end to end)',
    value: `${median(wall(viaNpm)).toFixed(2)} s`,
    target: '≤ 1.0 s',
    pass: median(wall(viaNpm)) <= 1,
    note:
      `median of ${runs} (${range(wall(viaNpm), 2)})${cpu(viaNpm)}, a fresh home each; ` +
      `node scripts/start.mjs alone: ${median(wall(direct)).toFixed(2)} s (${range(wall(direct), 2)})${cpu(direct)}, ` +
      `so npm adds ${(median(wall(viaNpm)) - median(wall(direct))).toFixed(2)} s; ` +
      `load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
  });
}

/** The pandas + XGBoost script on the same file and model. */
async function pandasScript(input: string, rowCount: number, output: string): Promise<Timed> {
  const run = await timedRun(PYTHON, [
    join(ROOT, 'bench/pandas_xgboost.py'),
    MODEL,
    input,
    output,
    '--labels',
    LABELS,
  ]);
  await rm(output, { force: true });
  const records = (JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { records?: number }).records;
  if (records !== rowCount) throw new Error(`the pandas script wrote ${records} of ${rowCount} records`);
  return { seconds: run.seconds, peaks: run.peaks };
}

/** What most tutorials show: 100 rows per request, one request at a time, answers collected. */
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

function pythonMissing(): string | undefined {
  const check = spawnSync(PYTHON, ['-c', 'import xgboost, pandas, numpy'], { encoding: 'utf8' });
  if (check.status === 0) return undefined;
  return `${PYTHON} cannot import xgboost and pandas: install them with \`sudo apt-get install python3-xgboost python3-pandas\` (Debian/Ubuntu) to compare with the pandas script`;
}

/** The predictor section, from bench/predictor.ts when it is there. */
async function predictorRows(): Promise<void> {
  const path = './predictor.js';
  let module: { benchPredictor?: (options: { quick?: boolean }) => Promise<PredictorRow[]> };
  try {
    module = (await import(path)) as typeof module;
  } catch (error) {
    rows.push({
      figure: 'built-in predictor vs native XGBoost',
      value: 'skipped',
      note: `bench/predictor.ts could not be loaded: ${(error as Error).message.split('\n')[0]}`,
    });
    return;
  }
  if (!module.benchPredictor) return;
  progress('predictor: built-in vs native XGBoost, one thread');
  for (const row of await module.benchPredictor({ quick: flags.quick })) {
    rows.push({
      figure: `predictor, ${row.model}: built-in vs native Booster.predict (1 thread)`,
      value: `${rate(row.jsRowsPerSecond)}${row.treePath ? ` (${row.treePath})` : ''} vs ${row.nativeRowsPerSecond ? rate(row.nativeRowsPerSecond) : '—'}`,
      ...(row.ratio !== undefined ? { ratio: `built-in/native = ${row.ratio.toFixed(2)}` } : {}),
      target: '≥ 1.0',
      ...(row.ratio !== undefined ? { pass: row.ratio >= 1 } : {}),
      note:
        row.note ?? `${row.rows.toLocaleString('en-US')} rows, median of ${row.rounds} alternating rounds`,
    });
  }
}

/** bench/predictor.ts's rows (agreed in /work/notes/h15-shared.md). */
interface PredictorRow {
  model: string;
  rows: number;
  rounds: number;
  jsRowsPerSecond: number;
  /** The tree path the server runs for this model ('wasm' or 'javascript'). */
  treePath?: string;
  nativeRowsPerSecond?: number;
  ratio?: number;
  note?: string;
}

async function main(): Promise<void> {
  tempDir = await mkdtemp(join(tmpdir(), 'bench-'));
  const lines = await sampleLines();

  if (!flags['startup-only']) await predictorRows();
  if (flags['predictor-only']) return;

  // The build `npm start` runs, made once here so no round pays for it.
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);

  await startupRows();
  if (flags['startup-only']) return;

  const input = join(tempDir, 'input.csv');
  await writeInput(input, lines, SIZES.rows);
  progress(`${SIZES.rows.toLocaleString('en-US')} rows generated`);
  const missing = pythonMissing();
  if (missing) progress(missing);

  // The built-in server for the 100-rows-per-request loop, started as the pipeline starts it.
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
  const naiveRows = Math.min(SIZES.naiveRows, SIZES.rows);
  await naiveLoop(serverUrl, lines, 1000);

  // Alternating rounds: pandas script, product, naive loop; each ratio is taken within its round.
  const products: Timed[] = [];
  const scripts: Timed[] = [];
  const naiveRates: number[] = [];
  const ratios: number[] = [];
  const naiveRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const script = missing ? undefined : await pandasScript(input, SIZES.rows, join(tempDir, 'out.jsonl'));
    const run = await product(input, SIZES.rows, join(tempDir, 'home'));
    const naive = await naiveLoop(serverUrl, lines, naiveRows);
    products.push(run);
    naiveRates.push(naive);
    naiveRatios.push(SIZES.rows / run.seconds / naive);
    if (script) {
      scripts.push(script);
      ratios.push(run.seconds / script.seconds);
    }
    progress(
      `round ${round + 1}: pandas script ${script ? `${script.seconds.toFixed(1)} s` : 'skipped'}, product ${run.seconds.toFixed(1)} s, naive loop ${rate(naive)}`,
    );
  }
  await containers.close();
  containers = undefined;

  const productSeconds = products.map((p) => p.seconds);
  if (scripts.length > 0) {
    const scriptSeconds = scripts.map((s) => s.seconds);
    rows.push({
      figure: `pandas + XGBoost script, ${count(SIZES.rows)} rows`,
      value: `${median(scriptSeconds).toFixed(1)} s`,
      note: `median of ${ROUNDS} (${range(scriptSeconds)}); bench/pandas_xgboost.py, XGBoost's default threads`,
    });
  } else {
    rows.push({ figure: 'pandas + XGBoost script', value: 'skipped', note: missing });
  }
  rows.push({
    figure: `product end to end (npm start -- run), ${count(SIZES.rows)} rows`,
    value: `${median(productSeconds).toFixed(1)} s`,
    ...(ratios.length > 0
      ? {
          ratio: `product/script = ${median(ratios).toFixed(2)}`,
          target: '≤ 1.0',
          pass: median(ratios) <= 1,
        }
      : {}),
    note: `median of ${ROUNDS} (${range(productSeconds)}), each right after the script; ratio: median of the rounds' (${ratios.map((r) => r.toFixed(2)).join(', ')}); join, partitions, catalog, queries and report included`,
  });
  rows.push({
    figure: `100 rows per request, serial (${count(naiveRows)} rows)`,
    value: rate(median(naiveRates)),
    ratio: `product/loop = ${median(naiveRatios).toFixed(1)}`,
    note: `the seed's loop against the built-in server; median of ${ROUNDS}, each right after a product run`,
  });

  const stageNames = Object.keys(products[0]?.stages ?? {});
  for (const name of stageNames) {
    const values = products.map((p) => p.stages?.[name] ?? Number.NaN);
    const share = median(values) / median(productSeconds);
    stageRows.push({
      stage: name,
      seconds: median(values).toFixed(2),
      share: `${(share * 100).toFixed(0)}%`,
      range: values.map((v) => v.toFixed(2)).join(', '),
    });
  }

  // Memory: every process of a run at two sizes (the rounds' largest peaks, then one run 4x bigger).
  const bigInput = join(tempDir, 'big.csv');
  await rm(input, { force: true });
  await writeInput(bigInput, lines, SIZES.bigRows);
  progress(`${count(SIZES.bigRows)} rows generated; one product run for memory`);
  const big = await product(bigInput, SIZES.bigRows, join(tempDir, 'home'));
  await rm(bigInput, { force: true });
  const smallPeaks = peakByRole(products.map((p) => p.peaks));
  const bigPeaks = peakByRole([big.peaks]);
  for (const [role, peakMB] of smallPeaks) processRows.push({ run: count(SIZES.rows), role, peakMB });
  for (const [role, peakMB] of bigPeaks) processRows.push({ run: count(SIZES.bigRows), role, peakMB });
  const maxSmall = Math.max(...smallPeaks.values());
  const maxBig = Math.max(...bigPeaks.values());
  rows.push({
    figure: `largest process peak RSS, ${count(SIZES.rows)} → ${count(SIZES.bigRows)} rows`,
    value: `${maxSmall.toFixed(0)} → ${maxBig.toFixed(0)} MB`,
    ratio: `big/small = ${(maxBig / maxSmall).toFixed(2)}`,
    target: '≤ 400 MB, flat',
    pass: maxBig <= 400 && maxBig / maxSmall <= 1.15,
    note: `VmHWM of every process sampled from /proc; ${count(SIZES.bigRows)} rows took ${big.seconds.toFixed(0)} s; tree at once: ${Math.max(...products.map((p) => p.peaks.treePeakMB)).toFixed(0)} → ${big.peaks.treePeakMB.toFixed(0)} MB`,
  });
  if (scripts.length > 0) {
    rows.push({
      figure: `pandas script peak RSS, ${count(SIZES.rows)} rows`,
      value: `${Math.max(...scripts.map((s) => s.peaks.treePeakMB)).toFixed(0)} MB`,
    });
  }
}

/** The largest peak of each kind of process (the model server's workers as one kind). */
function peakByRole(all: TreePeaks[]): Map<string, number> {
  const peaks = new Map<string, number>();
  for (const tree of all) {
    for (const p of tree.processes) peaks.set(p.role, Math.max(peaks.get(p.role) ?? 0, p.peakMB));
  }
  return peaks;
}

function printTables(): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const out = process.stdout;
  out.write(
    `Benchmark${flags.quick ? ' (--quick: smaller sizes)' : ''}: ${availableParallelism()} cores (${cpu}), Node ${process.version}, ${ROUNDS} rounds\n\n`,
  );
  out.write(
    `${table(
      ['figure', 'value', 'ratio', 'target', 'result', 'note'],
      rows.map((r) => [
        r.figure,
        r.value,
        r.ratio ?? '',
        r.target ?? '',
        r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS',
        r.note ?? '',
      ]),
    )}\n\n`,
  );
  if (stageRows.length > 0) {
    out.write(`Time per stage of the product run (${count(SIZES.rows)} rows, median of ${ROUNDS}):\n`);
    out.write(
      `${table(
        ['stage', 'seconds', 'share', 'rounds'],
        stageRows.map((s) => [s.stage ?? '', s.seconds ?? '', s.share ?? '', s.range ?? '']),
      )}\n\n`,
    );
  }
  if (processRows.length > 0) {
    out.write('Peak RSS of every process of a product run:\n');
    out.write(
      `${table(
        ['rows', 'process', 'peak RSS'],
        processRows.map((p) => [p.run, p.role, `${p.peakMB.toFixed(0)} MB`]),
      )}\n`,
    );
  }
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
      `${JSON.stringify({ quick: flags.quick, cores: availableParallelism(), node: process.version, figures: rows, stages: stageRows, processes: processRows }, null, 2)}\n`,
    );
  } else {
    printTables();
  }
} catch (error) {
  if (rows.length > 0 && !flags.json) printTables();
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
