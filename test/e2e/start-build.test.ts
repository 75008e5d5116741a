/**
 * `npm start` as a user runs it: scripts/start.mjs builds the CLI once with esbuild (scripts/build.mjs)
 * and runs the build. The sample run succeeds from the build, compiles no TypeScript (tsx is never
 * loaded) and loads no AWS SDK module: every module the process loads from node_modules is recorded by a
 * resolve hook (test/helpers/load-recorder.mjs).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';

const RECORDER = join(PROJECT_ROOT, 'test/helpers/load-recorder.mjs');

async function npmStart(args: string[], home: string, record: string) {
  const child = spawn(
    process.execPath,
    ['--import', RECORDER, join(PROJECT_ROOT, 'scripts/start.mjs'), ...args, '--home', home],
    { cwd: PROJECT_ROOT, env: { ...process.env, LOAD_RECORD: record }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const [code] = await once(child, 'close');
  const loaded = (await readFile(record, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { code: code as number | null, stdout, stderr, loaded };
}

describe('npm start from the build', () => {
  let dir: string;
  let buildDir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'start-build-'));
    // The first start after a change builds (loading esbuild); the runs below find the build.
    const build = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts/build.mjs')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    build.stdout.on('data', (data: Buffer) => {
      out += data.toString();
    });
    expect((await once(build, 'close'))[0]).toBe(0);
    buildDir = out.trim();
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  /** The state machine runner from the build's command line (cli.cjs), as a start runs it. */
  const bundledRunner = () =>
    (
      createRequire(import.meta.url)(join(buildDir, 'cli.cjs')) as {
        bundledStateMachineRunner: () => Promise<unknown>;
      }
    ).bundledStateMachineRunner();

  it('runs the sample with no TypeScript compiler and no AWS SDK loaded', async () => {
    const run = await npmStart([], join(dir, 'home'), join(dir, 'loaded.txt'));

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Run sample SUCCEEDED');
    expect(run.stdout).toMatch(/records: 569 in, 569 out/);
    // The hook sees the process's own loads: DuckDB's native binding is one (a control).
    expect(run.loaded.some((url) => url.includes('/node_modules/@duckdb/node-bindings'))).toBe(true);
    expect(run.loaded.filter((url) => /\/node_modules\/(@aws-sdk|@smithy)\//.test(url))).toEqual([]);
    expect(run.loaded.filter((url) => /\/node_modules\/(tsx|typescript|esbuild)\//.test(url))).toEqual([]);
    // node:http imported as an ES module would load undici (~0.1 s) for its WebSocket getter.
    expect(run.loaded.filter((url) => url.includes('undici'))).toEqual([]);
  }, 120_000);

  it('parses a state machine definition its cache has never seen, from the build', async () => {
    // A fresh clone's first `npm start` has an empty definition cache: the build's YAML parser runs.
    // (Regression: the bundle's namespace of CommonJS yaml has no named `parse`, and that start failed.)
    const { loadDefinition } = (await bundledRunner()) as {
      loadDefinition: (path: string) => Promise<{ StartAt: string; States: Record<string, unknown> }>;
    };
    const yaml = await readFile(join(PROJECT_ROOT, 'state-machines/batch-transform.asl.yml'), 'utf8');
    const path = join(dir, 'unseen.asl.yml');
    const text = `# never cached: ${Date.now()} ${Math.random()}\n${yaml}`;
    await writeFile(path, text);
    // The parse is kept by the digest of the text (state-machine-runner.ts): removed after, not left.
    const digest = createHash('sha256').update(text).digest('hex');
    const cached = join(
      PROJECT_ROOT,
      `node_modules/.cache/sagemaker-batch-pipeline/definitions/${digest}.json`,
    );
    onTestFinished(() => rm(cached, { force: true }));
    const definition = await loadDefinition(path);
    expect(definition.StartAt).toBe('BuildManifest');
    expect(Object.keys(definition.States).length).toBeGreaterThan(3);
  });

  it('bundles no AWS SDK code either (the Lambda client of the interpreter is replaced)', async () => {
    const files = (await readdir(buildDir)).filter((name) => /\.c?js$/.test(name));
    expect(files).toContain('cli.cjs');
    expect(files).toContain('model-server.js');
    // scripts/cli-loader.mjs reads the command line as latin1: one byte is one character only in ASCII.
    const cli = await readFile(join(buildDir, 'cli.cjs'));
    expect(cli.findIndex((byte) => byte > 0x7f)).toBe(-1);
    // The bundles are minified: what went into each is listed in its source map.
    const sources: string[] = [];
    for (const file of files) {
      const map = JSON.parse(await readFile(join(buildDir, `${file}.map`), 'utf8')) as { sources: string[] };
      sources.push(...map.sources);
    }
    expect(sources.filter((source) => source.includes('node_modules/@aws-sdk/'))).toEqual([]);
    expect(sources.some((source) => source.includes('node_modules/aws-local-stepfunctions/'))).toBe(true);
    // Nor the definition validator and what it brings (required from node_modules when first needed).
    expect(sources.filter((source) => /node_modules\/(asl-validator|jsonata)\//.test(source))).toEqual([]);
  });

  it('validates a definition it has never validated, with asl-validator required from node_modules', async () => {
    // An invalid definition is never remembered as valid (state-machine-runner.ts): it is checked each
    // time, by the validator the build leaves out of its bundle and requires on first use.
    const { runStateMachine } = (await bundledRunner()) as {
      runStateMachine: (definition: unknown, input: unknown, implementations: object) => Promise<unknown>;
    };
    const invalid = { StartAt: 'Only', States: { Only: { Type: 'Pass', Next: 'Nowhere' } } };

    await expect(runStateMachine(invalid, {}, {})).rejects.toThrow(/MISSING_TRANSITION_TARGET.*Nowhere/);
  });

  it('precompiles the defaults-filling validators only for the schemas that reach a default', async () => {
    const { fillingDefaults } = (await import(join(PROJECT_ROOT, 'scripts/build.mjs'))) as {
      fillingDefaults: (list: { $id: string }[]) => { $id: string }[];
    };
    const dir = join(PROJECT_ROOT, 'schemas');
    const schemas = await Promise.all(
      (await readdir(dir)).map(async (file) => JSON.parse(await readFile(join(dir, file), 'utf8'))),
    );
    // run-request has the defaults; build-manifest-event refers to it.
    expect(
      fillingDefaults(schemas)
        .map((schema) => schema.$id.split('/').pop())
        .sort(),
    ).toEqual(['build-manifest-event.schema.json', 'run-request.schema.json']);
    // Through any number of files.
    const chain = [
      { $id: 'https://x/a.schema.json', properties: { b: { $ref: 'b.schema.json' } } },
      { $id: 'https://x/b.schema.json', properties: { c: { $ref: 'c.schema.json#/$defs/c' } } },
      { $id: 'https://x/c.schema.json', $defs: { c: { type: 'string', default: 'x' } } },
      { $id: 'https://x/d.schema.json', properties: { a: { type: 'string' } } },
    ];
    expect(fillingDefaults(chain).map((schema) => schema.$id)).toEqual([
      'https://x/a.schema.json',
      'https://x/b.schema.json',
      'https://x/c.schema.json',
    ]);
  });

  it('runs a named query that uses its run id twice with one --param (score-histogram)', async () => {
    const run = await npmStart(
      ['query', 'score-histogram', '--param', 'sample', '--format', 'json'],
      join(dir, 'home'),
      join(dir, 'query-loaded.txt'),
    );

    expect(run.code, run.stderr).toBe(0);
    const rows = JSON.parse(run.stdout) as { variant: string; bucket: number; records: number }[];
    expect(rows.map((r) => r.bucket)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rows.reduce((sum, r) => sum + Number(r.records), 0)).toBe(569);
  }, 60_000);

  it('reads relative paths from the folder npm start was typed in, and keeps the project its home', async () => {
    // npm runs scripts in the package's folder and says where it was started in INIT_CWD.
    const userDir = join(dir, 'user folder');
    await mkdir(userDir);
    await copyFile(join(PROJECT_ROOT, 'examples/sample/input/part-0001.csv'), join(userDir, 'data.csv'));
    await copyFile(join(PROJECT_ROOT, 'examples/model/xgboost-model.json'), join(userDir, 'model.json'));
    const start = (home: string, npmEnv: Record<string, string>) =>
      spawnSync(
        process.execPath,
        [join(PROJECT_ROOT, 'scripts/start.mjs'), 'run', 'data.csv', '--model', 'model.json', '--home', home],
        { cwd: PROJECT_ROOT, env: { ...process.env, ...npmEnv }, encoding: 'utf8' },
      );
    const ownPackage = join(PROJECT_ROOT, 'package.json');

    const typedThere = start('home', {
      INIT_CWD: userDir,
      npm_lifecycle_event: 'start',
      npm_package_json: ownPackage,
    });
    expect(typedThere.status, typedThere.stderr).toBe(0);
    expect(typedThere.stdout).toMatch(/Run data SUCCEEDED/);
    expect(typedThere.stdout).toMatch(/records: 300 in, 300 out/);
    // A relative --home is the user's too.
    expect(existsSync(join(userDir, 'home/catalog.duckdb'))).toBe(true);

    // INIT_CWD left over from another npm script (here: npm test) is not a place the user typed in.
    const inherited = start(join(dir, 'home-inherited'), {
      INIT_CWD: userDir,
      npm_lifecycle_event: 'test',
      npm_package_json: ownPackage,
    });
    expect(inherited.status).toBe(2);
    expect(inherited.stderr).toContain(
      `No such file or folder: data.csv (looked for in ${PROJECT_ROOT.replace(/\/$/, '')})`,
    );
  });

  it('answers --help from the build without loading DuckDB', async () => {
    const run = await npmStart(['--help'], join(dir, 'home'), join(dir, 'help-loaded.txt'));

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Usage:');
    expect(run.loaded.filter((url) => url.includes('@duckdb'))).toEqual([]);
  }, 60_000);

  // The Node first on the PATH outside npm scripts; on these machines it is Node 20.
  const olderNode = (() => {
    for (const dir of (process.env.PATH ?? '').split(':')) {
      const candidate = join(dir, 'node');
      if (candidate === process.execPath || dir.includes('node_modules')) continue;
      const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
      if (version.status !== 0) continue;
      return Number(version.stdout.slice(1).split('.')[0]) < 22 ? candidate : undefined;
    }
    return undefined;
  })();

  it.skipIf(!olderNode)('re-runs itself with the pinned Node 22 when typed with an older Node', () => {
    const run = spawnSync(
      olderNode as string,
      [join(PROJECT_ROOT, 'scripts/start.mjs'), 'runs', '--home', join(dir, 'home')],
      {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
      },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // The run of the first test is listed: the CLI ran (on Node 22) and read the home.
    expect(run.stdout).toContain('sample');
  });
});
