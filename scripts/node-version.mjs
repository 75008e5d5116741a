/**
 * Imported first by scripts/start.mjs: the CLI needs Node 22 (Lambda's nodejs22.x). `npm start` already
 * runs the project's pinned Node (the `node` devDependency puts it first on the PATH of npm scripts); a
 * `node scripts/start.mjs` typed with an older Node on the PATH re-runs itself with that pinned Node, and
 * says how to get one when the project has none installed.
 */
import { createRequire } from 'node:module';

const REQUIRED_MAJOR = 22;
/** Signals both processes receive from the terminal; this one outlives the run to exit as it did. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

if (Number(process.versions.node.split('.')[0]) < REQUIRED_MAJOR) {
  // Loaded only here: as ES module imports these would cost every start on Node 22 about 10 ms.
  const require = createRequire(import.meta.url);
  const { spawnSync } = require('node:child_process');
  const { existsSync } = require('node:fs');
  const { fileURLToPath } = require('node:url');
  const pinned = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `This project needs Node ${REQUIRED_MAJOR} or later; this is Node ${process.versions.node}. ` +
        'Run `npm ci` (it installs the pinned Node 22 for npm scripts), then `npm start`.\n',
    );
    process.exit(1);
  }
  // Ctrl-C reaches both processes (one process group): this one waits for the run to stop cleanly and
  // exits as it did, rather than dying first and leaving the run's last lines after the prompt.
  for (const signal of FORWARDED_SIGNALS) process.on(signal, () => {});
  const child = spawnSync(pinned, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  if (child.error) {
    process.stderr.write(`Cannot run ${pinned}: ${child.error.message}\n`);
    process.exit(1);
  }
  if (child.signal) {
    for (const signal of FORWARDED_SIGNALS) process.removeAllListeners(signal);
    process.kill(process.pid, child.signal);
  }
  process.exit(child.status ?? 1);
}
