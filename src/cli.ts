/**
 * `npm start`: the command line. The commands live in src/cli/ (program.ts declares them).
 */
import { resolve } from 'node:path';
import { main } from './cli/program.js';

export { main };

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
