/**
 * Loads the build's command line (`cli.cjs`, one CommonJS file: scripts/build.mjs) with a V8 code cache
 * taken after a command ran, so a start deserializes the bytecode of the functions it will call instead
 * of compiling each from source as it is first called.
 *
 * Node's own compile cache (module.enableCompileCache) serializes a module as it is compiled, before
 * any of its functions ran: V8 compiles functions lazily, so that cache holds little more than the
 * top level of each module, and every start compiled the rest again (about 40 ms of the main thread in
 * a sample run). `vm.Script#createCachedData()` called once a command has run holds every function it
 * compiled. One cache per command (a run and a `--help` call different functions), in the build folder,
 * written when it is missing or V8 rejected it (another Node version) by a command that succeeded;
 * the build folder is named by a digest of the sources, so a cache never outlives the code it was
 * made from.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// Through require: a built-in's ES module facade reads every export (see scripts/build.mjs).
const { readFileSync, renameSync, writeFileSync, mkdirSync, rmSync } = require('node:fs');
const { Script } = require('node:vm');
const { wrap } = require('node:module');

/** Commands with a cache of their own (src/cli/program.ts); `sample` is the one run with no command. */
const CACHED_COMMANDS = new Set(['sample', 'run', 'query', 'runs', 'serve-model']);

/** Which cache a command line uses: a `--help`, or a mistyped command, must not stand for a run's. */
export function cacheName(args) {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const first = args[0];
  if (first === undefined || first.startsWith('-')) return 'sample';
  return CACHED_COMMANDS.has(first) ? first : 'other';
}

/**
 * The build's `main`, compiled with the cache of the command `args` name when there is one that V8
 * accepts (`cache` says which it was). The cache is written as the process exits when there was none
 * to use and the command succeeds.
 *
 * @param dir the build folder (from ensureBuild)
 * @param args the command line's arguments
 * @returns {{ main: (args: string[]) => Promise<number>, cache: 'accepted' | 'rejected' | 'none' }}
 */
export function loadCli(dir, args) {
  const file = `${dir}/cli.cjs`;
  const cacheDir = `${dir}/.cli-cache`;
  const cacheFile = `${cacheDir}/${cacheName(args)}.bin`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // None yet: this process writes it.
  }
  // Read as latin1, a plain copy into a one-byte string: the build writes ASCII only (charset in
  // scripts/build.mjs), and decoding 1.5 MB as UTF-8 took 4 ms more.
  const script = new Script(wrap(readFileSync(file, 'latin1')), { filename: file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    // Only after a command that succeeded: a mistyped path stops a run before most of its code ran,
    // and its cache would stand for every later run of this build.
    process.once('exit', (code) => {
      if (code === 0) writeCache(script, cacheDir, cacheFile);
    });
  }
  const cliModule = { exports: {} };
  script
    .runInThisContext()
    .call(cliModule.exports, cliModule.exports, createRequire(file), cliModule, file, dir);
  const cache = !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  return { main: cliModule.exports.main, cache };
}

/** Written beside, then renamed: two starts writing at once never leave half a cache. */
function writeCache(script, cacheDir, cacheFile) {
  const temp = `${cacheFile}.${process.pid}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(temp, script.createCachedData());
    renameSync(temp, cacheFile);
  } catch {
    // A cache is only a speed-up: a read-only or full disk leaves the next start to compile again.
    try {
      rmSync(temp, { force: true });
    } catch {
      // Nothing was written.
    }
  }
}
