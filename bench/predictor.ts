/**
 * The built-in predictor against native XGBoost, per core: `npx tsx bench/predictor.ts [--quick] [--json]`
 * (bench/run.ts calls {@link benchPredictor} too).
 *
 * Two models: the sample's (examples/model) on the sample's rows repeated, and a bigger one (300 trees of
 * depth 6, binary:logistic) trained on the spot by XGBoost on synthetic rows with ~10% missing values.
 * Native is XGBoost 1.7's `Booster.predict` with nthread=1 in one long-lived `/usr/bin/python3` child
 * (bench/native_predict.py), timed inside Python around the call, the DMatrix built once; the JS side is
 * `XGBoostModel.predictBatch` in this process on a Float32Array parsed once from the same CSV, once per
 * tree path (the WebAssembly kernel and generated JavaScript; the server runs the one `chooseTreePath`
 * picks). Rounds alternate (kernel, JavaScript, native) so a drifting machine speed hits all sides alike;
 * each figure is the median of its rounds, the ratio the median of the rounds' own ratios.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TreePath } from '../src/model-server/predictor.js';
import { parseCsvRecords } from '../src/model-server/records.js';
import { loadXGBoostModel, type XGBoostModel } from '../src/model-server/xgboost-model.js';
import { median } from './format.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE_MODEL = join(ROOT, 'examples/model/xgboost-model.json');
const SAMPLE_INPUT = join(ROOT, 'examples/sample/input');
const NATIVE_SCRIPT = join(ROOT, 'bench/native_predict.py');
const PYTHON = '/usr/bin/python3';
const INSTALL_NOTE =
  'native XGBoost skipped: /usr/bin/python3 lacks xgboost, numpy or pandas (apt-get install python3-xgboost python3-pandas)';

/**
 * One model's figures. Rates are rows per CPU second of the predicting process (per core: on a shared
 * machine a process gets a varying share of a core, and wall-clock rates measure the share as much as
 * the code); the wall-clock ones are given too. Each is the median of the rounds.
 */
export interface PredictorBenchRow {
  /** Which model, e.g. "sample model (80 trees)". */
  model: string;
  /** Rows predicted per round. */
  rows: number;
  rounds: number;
  /** The predictor as the server runs it (the tree path it chooses): rows per CPU second. */
  jsRowsPerSecond: number;
  /** The tree path the server chooses for this model. */
  treePath: TreePath;
  /** The WebAssembly kernel, forced: rows per CPU second. */
  wasmRowsPerSecond: number;
  /** Generated JavaScript, forced: rows per CPU second. */
  javascriptRowsPerSecond: number;
  /** XGBoost 1.7 `Booster.predict`, nthread=1: rows per CPU second; absent when skipped. */
  nativeRowsPerSecond?: number;
  /** JS ÷ native per CPU second, median of the rounds' ratios (≥ 1: at least as fast per core). */
  ratio?: number;
  /** Kernel ÷ native and JavaScript ÷ native, likewise. */
  wasmRatio?: number;
  javascriptRatio?: number;
  /** JS ÷ native in wall-clock time, median of the rounds' ratios. */
  wallRatio?: number;
  /** Why native was skipped, or anything else the reader should know. */
  note?: string;
}

export interface PredictorBenchOptions {
  /** Fewer rows and rounds: a smoke run. */
  quick?: boolean;
  /** Alternating rounds (default 5, quick 3). */
  rounds?: number;
  /** Progress lines (default: to stderr). */
  log?: (message: string) => void;
}

/** A child running bench/native_predict.py: one JSON command per line, one JSON answer per line. */
class NativePredictor {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly answers: AsyncIterableIterator<string>;

  constructor() {
    this.child = spawn(PYTHON, [NATIVE_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    this.answers = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async call(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    const next = await this.answers.next();
    if (next.done) throw new Error(`${NATIVE_SCRIPT} exited (code ${this.child.exitCode})`);
    return JSON.parse(next.value) as Record<string, unknown>;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

/** Whether /usr/bin/python3 can import what the native side needs; the error when not. */
async function nativeAvailable(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const native = new NativePredictor();
  try {
    // The script answers {"error"} and exits at once when an import fails; otherwise it waits for us.
    const probe = await native.call({ op: 'nothing' });
    return typeof probe.error === 'string' && probe.error.startsWith('KeyError')
      ? undefined
      : String(probe.error);
  } finally {
    native.close();
  }
}

/** Writes the sample's 569 rows (some with empty fields) repeated to `rows` lines. */
async function writeSampleRows(path: string, rows: number): Promise<void> {
  const lines: string[] = [];
  for (const file of ['part-0001.csv', 'part-0002.csv']) {
    const text = await readFile(join(SAMPLE_INPUT, file), 'utf8');
    lines.push(...text.split('\n').filter((line) => line !== ''));
  }
  const out = createWriteStream(path);
  for (let i = 0; i < rows; i++) {
    if (!out.write(`${lines[i % lines.length]}\n`))
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

interface Timing {
  /** Rows per CPU second. */
  rate: number;
  /** Rows per wall-clock second. */
  wallRate: number;
  /** Σ predictions, to check both sides predicted the same thing. */
  sum: number;
}

/** One predictBatch over all rows, timed. */
function timeJs(model: XGBoostModel, values: Float32Array, numRows: number): Timing {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const out = model.predictBatch(values, numRows, model.numFeature);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  let sum = 0;
  for (const p of out) sum += p;
  return { rate: numRows / ((used.user + used.system) / 1e6), wallRate: numRows / seconds, sum };
}

async function benchModel(
  name: string,
  modelPath: string,
  rowsPath: string,
  rounds: number,
  native: NativePredictor | undefined,
  log: (message: string) => void,
): Promise<PredictorBenchRow> {
  const wasm = await loadXGBoostModel(modelPath, { trees: 'wasm' });
  const javascript = await loadXGBoostModel(modelPath, { trees: 'javascript' });
  const served = (await loadXGBoostModel(modelPath)).members[0]?.treePath ?? 'wasm';
  const parsed = parseCsvRecords(await readFile(rowsPath));
  if (parsed.numFeatures !== wasm.numFeature) {
    throw new Error(`${rowsPath}: ${parsed.numFeatures} columns for a model of ${wasm.numFeature}`);
  }
  if (native) {
    const loaded = await native.call({ op: 'load', model: modelPath, rows: rowsPath });
    if (loaded.error) throw new Error(`native load: ${loaded.error}`);
    if (loaded.rows !== parsed.numRows)
      throw new Error(`native read ${loaded.rows} rows, JS ${parsed.numRows}`);
  }
  // Untimed passes, so V8 has compiled the hot paths (generated JavaScript needed a second pass on the
  // 300-tree model: its first timed round ran at a fifth of the others) and XGBoost has warmed its caches.
  for (let pass = 0; pass < 2; pass++) {
    timeJs(wasm, parsed.values, parsed.numRows);
    timeJs(javascript, parsed.values, parsed.numRows);
  }
  if (native) await native.call({ op: 'predict' });
  const rates = { wasm: [] as number[], javascript: [] as number[], native: [] as number[] };
  const ratios = { wasm: [] as number[], javascript: [] as number[], wall: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const a = timeJs(wasm, parsed.values, parsed.numRows);
    const b = timeJs(javascript, parsed.values, parsed.numRows);
    rates.wasm.push(a.rate);
    rates.javascript.push(b.rate);
    let line = `${name} round ${round + 1}: kernel ${Math.round(a.rate)} rows/CPU s, JavaScript ${Math.round(b.rate)}`;
    if (native) {
      const answer = await native.call({ op: 'predict' });
      if (answer.error) throw new Error(`native predict: ${answer.error}`);
      const rate = parsed.numRows / (answer.cpuSeconds as number);
      const wallRate = parsed.numRows / (answer.seconds as number);
      // The same rows and model on both sides: the sums of the predictions agree to float32 rounding.
      const sum = answer.sum as number;
      if (
        Math.abs(sum - a.sum) > 1e-5 * Math.max(1, Math.abs(sum)) ||
        Math.abs(sum - b.sum) > 1e-5 * Math.max(1, Math.abs(sum))
      ) {
        throw new Error(`${name}: predictions differ from XGBoost's (sums ${a.sum}, ${b.sum} vs ${sum})`);
      }
      rates.native.push(rate);
      ratios.wasm.push(a.rate / rate);
      ratios.javascript.push(b.rate / rate);
      ratios.wall.push((served === 'wasm' ? a : b).wallRate / wallRate);
      line += `, native ${Math.round(rate)}`;
    }
    log(`${line} (load ${(loadavg()[0] as number).toFixed(2)})`);
  }
  const wasmRate = median(rates.wasm);
  const javascriptRate = median(rates.javascript);
  return {
    model: name,
    rows: parsed.numRows,
    rounds,
    treePath: served,
    jsRowsPerSecond: served === 'wasm' ? wasmRate : javascriptRate,
    wasmRowsPerSecond: wasmRate,
    javascriptRowsPerSecond: javascriptRate,
    ...(native
      ? {
          nativeRowsPerSecond: median(rates.native),
          ratio: median(served === 'wasm' ? ratios.wasm : ratios.javascript),
          wasmRatio: median(ratios.wasm),
          javascriptRatio: median(ratios.javascript),
          wallRatio: median(ratios.wall),
        }
      : { note: INSTALL_NOTE }),
  };
}

/**
 * Measures the JS predictor (both tree paths) against native XGBoost on the sample
 * model and a 300-tree depth-6 model, one thread each, alternating rounds. Without Debian's
 * python3-xgboost the native side is skipped (and the bigger model, which XGBoost trains) with a note.
 */
export async function benchPredictor(options: PredictorBenchOptions = {}): Promise<PredictorBenchRow[]> {
  const log = options.log ?? ((message: string) => process.stderr.write(`bench predictor: ${message}\n`));
  const quick = options.quick ?? false;
  const rounds = options.rounds ?? (quick ? 3 : 5);
  const sizes = quick ? { sample: 100_000, big: 20_000 } : { sample: 500_000, big: 100_000 };
  const dir = await mkdtemp(join(tmpdir(), 'bench-predictor-'));
  const missing = await nativeAvailable();
  const native = missing ? undefined : new NativePredictor();
  try {
    if (missing) log(`${INSTALL_NOTE} (${missing})`);
    const results: PredictorBenchRow[] = [];
    const sampleRows = join(dir, 'sample-rows.csv');
    await writeSampleRows(sampleRows, sizes.sample);
    results.push(await benchModel('sample model (80 trees)', SAMPLE_MODEL, sampleRows, rounds, native, log));
    if (native) {
      const bigDir = join(dir, 'big');
      await mkdir(bigDir);
      log('training a 300-tree depth-6 model with XGBoost');
      const trained = await native.call({ op: 'train', dir: bigDir, rows: sizes.big, trees: 300, depth: 6 });
      if (trained.error) throw new Error(`native train: ${trained.error}`);
      results.push(
        await benchModel(
          '300 trees depth 6',
          join(bigDir, 'model.json'),
          join(bigDir, 'rows.csv'),
          rounds,
          native,
          log,
        ),
      );
    }
    return results;
  } finally {
    native?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function printTable(results: PredictorBenchRow[]): void {
  const k = (rate: number | undefined) => (rate === undefined ? '-' : `${(rate / 1000).toFixed(0)}k`);
  const x = (ratio: number | undefined) => ratio?.toFixed(2) ?? '-';
  console.log(
    '| model | rows | served path | served rows/CPU s | kernel rows/CPU s | JavaScript rows/CPU s | native rows/CPU s | served ÷ native | kernel ÷ native | JavaScript ÷ native | served ÷ native, wall clock |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.model} | ${r.rows} | ${r.treePath} | ${k(r.jsRowsPerSecond)} | ${k(r.wasmRowsPerSecond)} | ${k(r.javascriptRowsPerSecond)} | ` +
        `${k(r.nativeRowsPerSecond)} | ${x(r.ratio)} | ${x(r.wasmRatio)} | ${x(r.javascriptRatio)} | ${x(r.wallRatio)} |`,
    );
  }
  console.log(
    `\nload average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const r of results) if (r.note) console.log(`\n${r.model}: ${r.note}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  });
  const results = await benchPredictor({ quick: values.quick });
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else printTable(results);
}
