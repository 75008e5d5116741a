/**
 * scripts/cli-loader.mjs: `npm start` compiles the build's command line with a V8 code cache written
 * after a command ran. Each start here is a process of its own, as a user's is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { wrap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheName } from '../../scripts/cli-loader.mjs';
import { PROJECT_ROOT } from '../../src/local/paths.js';

const LOADER = join(PROJECT_ROOT, 'scripts/cli-loader.mjs');

/** A command line whose run calls 200 functions that nothing calls as it loads. */
const CLI = `${Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i % 7}; }`).join('\n')}
exports.main = async (args) => {
  if (args[0] === 'fail') return 2;
  let total = 0;
  for (let i = 0; i < 200; i++) total += eval('f' + i)(2);
  process.stdout.write(JSON.stringify({ args, total }) + '\\n');
  return 0;
};
`;

const EXPECTED_TOTAL = Array.from({ length: 200 }, (_, i) => 2 * i + (i % 7)).reduce((a, b) => a + b);

/** Runs `main(args)` of the build in `dir` as start.mjs does, in a new process: what it printed. */
function start(dir: string, args: string[]) {
  const script = `
    const { loadCli } = await import(${JSON.stringify(LOADER)});
    const args = ${JSON.stringify(args)};
    const { main, cache } = loadCli(${JSON.stringify(dir)}, args);
    process.stdout.write(cache + '\\n');
    process.exitCode = await main(args);
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const [cache, output] = child.stdout.split('\n');
  return { status: child.status, stderr: child.stderr, cache, output: output ? JSON.parse(output) : null };
}

describe('the command line loader', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-loader-'));
    await writeFile(join(dir, 'cli.cjs'), CLI);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a cache on the first start and compiles from it on the next', async () => {
    const first = start(dir, ['run', 'a.csv']);
    expect(first).toMatchObject({
      status: 0,
      cache: 'none',
      output: { args: ['run', 'a.csv'], total: EXPECTED_TOTAL },
    });
    const second = start(dir, ['run', 'b.csv']);
    expect(second).toMatchObject({ status: 0, cache: 'accepted', output: { args: ['run', 'b.csv'] } });
    // Another command has a cache of its own.
    expect(start(dir, ['query', 'summary']).cache).toBe('none');
  });

  it('keeps the functions the command ran, not only the top level a compile alone would keep', async () => {
    start(dir, ['run']);
    const written = await stat(join(dir, '.cli-cache/run.bin'));
    const atCompile = new Script(wrap(CLI)).createCachedData().length;
    expect(written.size).toBeGreaterThan(atCompile * 2);
  });

  it('replaces a cache V8 rejects, and still runs', async () => {
    start(dir, []);
    const cacheFile = join(dir, '.cli-cache/sample.bin');
    await writeFile(cacheFile, Buffer.from('not a code cache'));
    const rejected = start(dir, []);
    expect(rejected).toMatchObject({ status: 0, cache: 'rejected' });
    expect((await readFile(cacheFile)).toString()).not.toBe('not a code cache');
    expect(start(dir, []).cache).toBe('accepted');
  });

  it('writes no cache for a command that failed, and the next that succeeds writes it', async () => {
    expect(start(dir, ['fail']).status).toBe(2);
    expect(existsSync(join(dir, '.cli-cache/other.bin'))).toBe(false);
    expect(start(dir, ['fail']).cache).toBe('none');
    start(dir, ['stats']);
    expect(start(dir, ['fail']).cache).toBe('accepted');
  });

  it('runs the command when the cache cannot be written', async () => {
    // A file where the cache folder would go: mkdir fails, as on a read-only or full disk.
    await writeFile(join(dir, '.cli-cache'), '');
    const run = start(dir, ['runs']);
    expect(run).toMatchObject({ status: 0, cache: 'none', output: { args: ['runs'] } });
    expect(run.stderr).toBe('');
  });

  it('gives a help, a mistyped command and each command its own cache', () => {
    expect(cacheName([])).toBe('sample');
    expect(cacheName(['--home', 'h'])).toBe('sample');
    expect(cacheName(['run', 'a.csv', '--model', 'm.json'])).toBe('run');
    expect(cacheName(['run', '--help'])).toBe('help');
    expect(cacheName(['-h'])).toBe('help');
    expect(cacheName(['rnu', 'a.csv'])).toBe('other');
  });
});
