/**
 * `npm start`: runs the command line from its esbuild build (scripts/build.mjs), building it first when
 * the sources changed since the last build. No TypeScript is compiled on a start that finds its build.
 */
import { ensureBuild } from './build.mjs';

const dir = await ensureBuild((line) => process.stderr.write(`npm start: ${line}\n`));
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
