import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { failureMessage } from './core/record-failure.js';
import type { RunRequest } from './core/run-request.js';
import type { RunSummary } from './core/summarize-run.js';
import { LOCAL_BUCKET, LocalPipeline, type StateEvent } from './local/local-pipeline.js';
import { PROJECT_ROOT } from './local/paths.js';
import { createTransformProgress } from './local/progress.js';
import type { QueryRow } from './ports.js';
import { validateAgainstSchema } from './schemas.js';

const USAGE = `Usage: npm start -- <command> [options]

Commands:
  (none)                       run the sample pipeline (examples/sample) end to end
  run <file-or-dir> [options]  transform your own data
      --model <model.json>     an XGBoost JSON model, served by the built-in container (repeatable: variants)
      --container <url>        a running model container speaking the SageMaker contract (repeatable)
      --request <file.json>    a run request (schemas/run-request.schema.json) to take settings from
      --run-id <id>            name the run (re-running an id replaces its results)
  run --request <file.json>    run a request whose input is already in the local store
  query "<sql>" [--param v]    query local results with DuckDB (? placeholders bind --param values)
  serve-model --model <file>   serve a model on the SageMaker container contract [--port 8080]

Options:
  --home <dir>                 where local state lives (default: .pipeline, or $PIPELINE_HOME)
`;

const SAMPLE_DIR = join(PROJECT_ROOT, 'examples/sample');
const SAMPLE_MODEL = join(PROJECT_ROOT, 'examples/model/xgboost-model.json');

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: 'string' },
      model: { type: 'string', multiple: true },
      container: { type: 'string', multiple: true },
      request: { type: 'string' },
      'run-id': { type: 'string' },
      param: { type: 'string', multiple: true },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const home = resolve(values.home ?? process.env.PIPELINE_HOME ?? '.pipeline');
  const [command = 'sample', ...rest] = positionals;
  switch (command) {
    case 'sample':
      return runCommand(home, {
        path: join(SAMPLE_DIR, 'input'),
        inputName: 'sample',
        models: [SAMPLE_MODEL],
        variantNames: ['xgb'],
        containers: [],
        requestFile: join(SAMPLE_DIR, 'run-request.json'),
        runId: values['run-id'],
      });
    case 'run':
      return runCommand(home, {
        path: rest[0],
        models: values.model ?? [],
        containers: values.container ?? [],
        requestFile: values.request,
        runId: values['run-id'],
      });
    case 'query':
      return queryCommand(home, rest.join(' '), values.param ?? []);
    case 'serve-model': {
      const { serveModelCommand } = await import('./model-server/main.js');
      return serveModelCommand({ model: values.model?.[0], port: values.port });
    }
    default:
      process.stderr.write(`Unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

interface RunCommandOptions {
  path: string | undefined;
  /** The folder name under incoming/ (default: the file or folder's own name). */
  inputName?: string;
  models: string[];
  /** Variant names for `models`, in order (default: from the file names). */
  variantNames?: string[];
  containers: string[];
  requestFile: string | undefined;
  runId: string | undefined;
}

async function runCommand(home: string, options: RunCommandOptions): Promise<number> {
  const fromFile = options.requestFile
    ? (JSON.parse(await readFile(options.requestFile, 'utf8')) as Partial<RunRequest>)
    : {};
  const pipeline = await LocalPipeline.open({
    home,
    onStateEvent: printStateEvent,
    onTransformProgress: createTransformProgress({
      isTTY: process.stdout.isTTY,
      columns: process.stdout.columns,
      write: (text) => process.stdout.write(text),
    }),
  });
  try {
    const input = options.path
      ? await uploadInput(pipeline, resolve(options.path), options.inputName)
      : fromFile.input;
    if (!input) throw new UsageError('Give a file or folder to transform, or a --request whose input is set');
    const models = await registerModels(pipeline, options);
    const request = validateAgainstSchema<RunRequest>(
      'run-request',
      {
        ...fromFile,
        input,
        models: models.length > 0 ? models : fromFile.models,
        ...(options.runId ? { runId: options.runId } : {}),
      },
      `run request${options.requestFile ? ` (${options.requestFile})` : ''}`,
    );
    if (!request.models?.length)
      throw new UsageError('Give a model: --model <model.json> or --container <url>');

    log(`Run ${request.runId ?? '(new)'}: ${input} with ${request.models.map((m) => m.variant).join(', ')}`);
    const started = performance.now();
    const result = await pipeline.run(request);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (result.status !== 'SUCCEEDED') {
      process.stderr.write(`\nRun FAILED after ${seconds}s (execution ${result.executionName})\n`);
      process.stderr.write(`  ${result.error}: ${failureMessage(result.cause ?? '(no cause)')}\n`);
      return 1;
    }
    printSummary(result.output as RunSummary, pipeline, seconds);
    return 0;
  } finally {
    await pipeline.close();
  }
}

async function queryCommand(home: string, sql: string, params: string[]): Promise<number> {
  if (sql.trim() === '') throw new UsageError('Give the SQL to run: npm start -- query "SELECT …"');
  const pipeline = await LocalPipeline.open({ home });
  try {
    const { columns, rows } = await pipeline.catalog.runQuery(sql, params);
    printTable(columns, rows);
    return 0;
  } finally {
    await pipeline.close();
  }
}

/** Copies a local file or folder into the store under incoming/, streaming, and returns its S3 URI. */
async function uploadInput(pipeline: LocalPipeline, path: string, inputName?: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UsageError(`No such file or folder: ${path}`);
  const name = inputName ?? basename(path).replace(/[^\w.-]+/g, '-');
  if (info.isFile()) {
    const uri = `s3://${LOCAL_BUCKET}/incoming/${name}`;
    await pipeline.store.putStream(uri, createReadStream(path));
    return uri;
  }
  const prefix = `s3://${LOCAL_BUCKET}/incoming/${name}/`;
  for await (const object of pipeline.store.list(prefix)) await pipeline.store.delete(object.uri);
  for (const file of await listFiles(path)) {
    const key = relative(path, file).split(sep).join('/');
    await pipeline.store.putStream(`${prefix}${key}`, createReadStream(file));
  }
  return prefix;
}

async function registerModels(
  pipeline: LocalPipeline,
  options: RunCommandOptions,
): Promise<RunRequest['models']> {
  const models: RunRequest['models'] = [];
  const variantOf = (name: string) =>
    name
      .toLowerCase()
      .replace(/\.json$/, '')
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 16) || 'model';
  for (const [index, file] of options.models.entries()) {
    const bytes = await readFile(file).catch(() => {
      throw new UsageError(`No such model file: ${file}`);
    });
    const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    const modelDataUrl = `s3://${LOCAL_BUCKET}/models/${digest}/model.json`;
    await pipeline.store.put(modelDataUrl, bytes);
    const wanted = options.variantNames?.[index] ?? variantOf(basename(file));
    models.push({ variant: uniqueVariant(models, wanted), image: 'builtin:xgboost', modelDataUrl });
  }
  for (const url of options.containers) {
    const modelName = `container-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
    await pipeline.models.put({ ModelName: modelName, PrimaryContainer: { Image: url } });
    models.push({ variant: uniqueVariant(models, 'container'), modelName });
  }
  return models;
}

function uniqueVariant(models: RunRequest['models'], wanted: string): string {
  let variant = wanted;
  for (let n = 2; models.some((m) => m.variant === variant); n += 1) variant = `${wanted.slice(0, 13)}-${n}`;
  return variant;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

function printStateEvent(event: StateEvent): void {
  const output = event.output as Record<string, unknown> | undefined;
  const input = event.input as Record<string, unknown> | undefined;
  if (event.phase === 'start' && event.state === 'createTransformJob.sync') {
    log(`  transform job ${String(input?.TransformJobName)} started`);
  } else if (event.phase === 'end') {
    const took = `${((event.elapsedMs ?? 0) / 1000).toFixed(2)}s`;
    if (event.state === 'buildManifest') {
      const inputs = output?.inputs as { objects: number; bytes: number; shards: number };
      log(
        `  manifest: ${inputs.objects} object(s), ${formatBytes(inputs.bytes)}, ${inputs.shards} shard(s) (${took})`,
      );
    } else if (event.state === 'createTransformJob.sync') {
      log(
        `  transform job ${String(output?.TransformJobName)} ${String(output?.TransformJobStatus)} (${took})`,
      );
    } else if (event.state === 'parseResults') {
      log(
        `  parsed: ${String(output?.recordsIn)} records in → ${String(output?.recordsOut)} result rows (${took})`,
      );
    } else if (event.state === 'registerTable') {
      log(`  table registered (${took})`);
    } else if (event.state === 'createModel') {
      log(`  model ${String(input?.ModelName)} created`);
    }
  }
}

function printSummary(summary: RunSummary, pipeline: LocalPipeline, seconds: string): void {
  log('');
  log(`Run ${summary.runId} SUCCEEDED in ${seconds}s`);
  log(`  records: ${summary.recordsIn} in, ${summary.recordsOut} out (${summary.jobs} transform job(s))`);
  log(`  table:   ${summary.table} (DuckDB ${join(pipeline.home, 'catalog.duckdb')})`);
  for (const partition of summary.partitions)
    log(`  results: ${pipeline.store.directoryOf(partition.location)}/`);
  log(`  summary: ${pipeline.store.pathOf(summary.summaryUri)}`);
  log(`  report:  ${pipeline.store.pathOf(summary.reportUri)}`);
  for (const [name, result] of Object.entries(summary.queries)) {
    log(`\nQuery "${name}":`);
    printTable(result.columns, result.rows);
  }
  log(
    `\nQuery the results: npm start -- query "SELECT label, count(*) FROM ${summary.table.split('.')[1]} GROUP BY label"`,
  );
}

function printTable(columns: string[], rows: QueryRow[]): void {
  const cells = rows.map((row) => columns.map((c) => formatCell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ');
  log(line(columns));
  log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of cells) log(line(row));
  log(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(4);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

class UsageError extends Error {
  override name = 'UsageError';
}

const isEntryPoint =
  process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isEntryPoint) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      process.stderr.write(`Error: ${error.name === 'Error' ? '' : `${error.name}: `}${error.message}\n`);
      process.exitCode = 1;
    },
  );
}
