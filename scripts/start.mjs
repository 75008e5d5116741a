/**
 * `npm start`: runs the command line from its esbuild build (scripts/build.mjs), building it first when
 * the sources changed since the last build. No TypeScript is compiled on a start that finds its build.
 */
// First: on a Node older than 22 this re-runs the command with the project's pinned Node.
import './node-version.mjs';
import module from 'node:module';
import { ensureBuild } from './build.mjs';

const dir = await ensureBuild((line) => process.stderr.write(`npm start: ${line}\n`));
// V8 keeps the build's compiled code beside it: later starts skip compiling the bundle (Node 22.1+).
module.enableCompileCache?.(`${dir}/.v8-cache`);
const { main } = await import(`${dir}/cli.js`);
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`Error: ${error.message}\n`);
    process.exitCode = 1;
  },
);
