/**
 * `npm start`: the command line. The commands live in src/cli/ (program.ts declares them).
 */
import { resolve } from 'node:path';
import { main } from './cli/program.js';

export { main };

/**
 * The state machine runner as the build bundles it (its YAML parser, its lazily required definition
 * validator), for the build's own tests (test/e2e/start-build.test.ts): the command line is one file.
 */
export const bundledStateMachineRunner = () => import('./local/state-machine-runner.js');

const isEntryPoint =
  process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isEntryPoint) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      process.stderr.write(`Error: ${error.message}\n`);
      process.exitCode = 1;
    },
  );
}
