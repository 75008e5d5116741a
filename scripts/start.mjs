/**
 * `npm start`: runs the command line from its esbuild build (scripts/build.mjs), building it first when
 * the sources changed since the last build. No TypeScript is compiled on a start that finds its build.
 */
// First: on a Node older than 22 this re-runs the command with the project's pinned Node.
import './node-version.mjs';
import module from 'node:module';
import { ensureBuild } from './build.mjs';
import { loadCli } from './cli-loader.mjs';

const dir = await ensureBuild((line) => process.stderr.write(`npm start: ${line}\n`));
try {
  process.chdir(userDirectory(process.env));
} catch {
  // The folder npm was started in is gone or closed to us: paths then resolve from the project.
}
// What the command line requires from node_modules (DuckDB's bindings) is compiled once, too (Node 22.1+).
module.enableCompileCache?.(`${dir}/.v8-cache`);
const args = process.argv.slice(2);
loadCli(dir, args)
  .main(args)
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`Error: ${error.message}\n`);
      process.exitCode = 1;
    },
  );

/**
 * Where the user typed the command. npm runs a package's scripts in the package's folder, so a relative
 * path the user gives (`npm start -- run ../data/test.csv` from a subfolder, or from anywhere with
 * `npm --prefix`) would be read from the wrong place: npm says where it was started in INIT_CWD. That
 * is only trusted when npm is running this package's own start script (npm_lifecycle_event and
 * npm_package_json say so): INIT_CWD is inherited by every child process, so `node scripts/start.mjs`
 * started by another script (npm test, a bench) keeps its own working directory. The default home stays the project's own
 * (src/cli/program.ts), wherever the command was typed.
 */
function userDirectory(env) {
  const ownPackage = module.createRequire(import.meta.url).resolve('../package.json');
  const ownStart = env.npm_lifecycle_event === 'start' && env.npm_package_json === ownPackage;
  return ownStart && env.INIT_CWD ? env.INIT_CWD : process.cwd();
}
