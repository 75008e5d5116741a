/**
 * Builds the command line and the built-in model server once with esbuild, so `npm start` runs plain
 * JavaScript instead of compiling TypeScript on every start (tsx costs about a second of a 569-row run).
 *
 * The build lives in `.build/<key>/` (gitignored), where the key is a digest of the sources' paths,
 * sizes and modification times (src/, schemas/, this file, package-lock.json). A start whose key has a
 * build uses it after one stat of each source file (a few milliseconds); otherwise it builds (about a
 * second). Builds are written to a temporary folder and renamed into place, so two starts building at
 * once never see half a build, and a running process never has its files replaced under it.
 *
 * What is bundled: the project's code and its pure-JavaScript dependencies, the command line in one
 * CommonJS file whose lazy imports evaluate on first use (a `--help` loads no DuckDB, a run evaluates
 * no report code until it writes one), the model server in one ES module.
 * DuckDB's native package and the state machine definition validator (see lazyAslValidator) stay
 * external. aws-local-stepfunctions imports the AWS SDK's Lambda client for Task states it would invoke
 * on AWS; the local runner routes every Task to its own handlers, so the bundle replaces that client
 * with a module that refuses to be used: local runs load no AWS SDK.
 *
 *   node scripts/build.mjs          build if stale, print the build folder
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// Built-ins through require, not `import … from 'node:fs'`: the ES module facade of a built-in reads
// every export, and the lazy ones (crypto's webcrypto, fs's promises…) cost each start milliseconds
// (crypto's alone about 9: see plainBuiltins below).
const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { fileURLToPath } = require('node:url');
const { createHash } = require('node:crypto');

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD_ROOT = join(ROOT, '.build');
const INPUTS = ['src', 'schemas', 'scripts/build.mjs', 'package-lock.json'];
/** Builds other than the current one are removed once this old (a running process may still use one). */
const KEEP_OLD_MS = 60 * 60 * 1000;

/** Packages that stay outside the bundle: native code, or loaded only on AWS. */
const EXTERNAL = ['@duckdb/node-bindings*', 'esbuild'];
/** What the AWS SDK's Lambda client is replaced with in local builds. */
const NO_AWS_SDK = `
const refuse = () => {
  throw new Error('This local build has no AWS SDK: every Task state runs through the local runner\\'s handlers.');
};
export class LambdaClient { constructor() { refuse(); } }
export class InvokeCommand { constructor() { refuse(); } }
export const fromCognitoIdentityPool = refuse;
`;

/**
 * One line per source file: its path (relative, `/`-separated), size and modification time. A walk of
 * its own rather than `readdirSync(…, { recursive: true })`, which joins and normalizes every path:
 * this runs at every start, and took 13-17 ms where this takes 3-5.
 */
function sourceLines() {
  const lines = [];
  const visit = (relative) => {
    const stats = statSync(`${ROOT}${relative}`, { throwIfNoEntry: false });
    if (!stats) return;
    if (!stats.isDirectory()) {
      lines.push(`${relative}\0${stats.size}\0${stats.mtimeMs}`);
      return;
    }
    for (const entry of readdirSync(`${ROOT}${relative}`, { withFileTypes: true })) {
      if (entry.isDirectory() || entry.isFile()) visit(`${relative}/${entry.name}`);
    }
  };
  for (const input of INPUTS) visit(input);
  return lines.sort();
}

/** The digest naming the build of the sources as they are now. */
export function buildKey() {
  return createHash('sha256').update(sourceLines().join('\n')).digest('hex').slice(0, 16);
}

/**
 * The folder holding `cli.cjs` and `model-server.js` for the current sources, building it first if
 * needed. `log` receives one line when a build happens.
 */
export async function ensureBuild(log = () => {}) {
  const key = buildKey();
  const dir = join(BUILD_ROOT, key);
  try {
    statSync(join(dir, 'cli.cjs'));
    return dir;
  } catch {}
  const started = Date.now();
  const temp = join(BUILD_ROOT, `tmp-${process.pid}-${Date.now()}`);
  await buildInto(temp);
  try {
    renameSync(temp, dir);
  } catch (error) {
    // Another start built the same sources first: use its build.
    rmSync(temp, { recursive: true, force: true });
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
  }
  log(`built ${dir.slice(ROOT.length)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  removeOldBuilds(key);
  return dir;
}

async function buildInto(outdir) {
  const { build } = await import('esbuild');
  const common = {
    absWorkingDir: ROOT,
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    keepNames: true,
    sourcemap: 'linked',
    legalComments: 'none',
    // Non-ASCII characters escaped (esbuild's default, stated): scripts/cli-loader.mjs reads as latin1.
    charset: 'ascii',
    // A third less to read and compile at every start (3.4 MB → 2.2 MB); names are kept (keepNames, no
    // identifier minification), so stack traces still name functions, and source maps are beside.
    minifyWhitespace: true,
    minifySyntax: true,
    external: EXTERNAL,
    // Bundled CommonJS packages (ajv, commander…) call require(): give the ES module one.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    plugins: [noAwsSdk, precompiledSchemas, plainBuiltins, lazyAslValidator],
    logLevel: 'warning',
  };
  mkdirSync(outdir, { recursive: true });
  await Promise.all([
    // The command line is one CommonJS file, so that scripts/start.mjs can compile it as a vm.Script
    // and keep V8's code cache of it as it stands after a command ran (cli-cache.mjs): an ES module's
    // cache (Node's compile cache) is taken as the module is compiled, before any of its functions ran,
    // so every start compiled each function it called from source again (about 40 ms of a sample run).
    // Its lazy imports stay lazy: esbuild turns each into a require of a module evaluated on first use
    // (a `--help` loads no DuckDB).
    build({
      ...common,
      entryPoints: { cli: 'src/cli.ts' },
      format: 'cjs',
      outExtension: { '.js': '.cjs' },
      // The file is beside model-server.js, two folders below the project root as the sources are
      // (src/<dir>/), so paths relative to import.meta.url hold in both.
      define: { 'import.meta.url': '__importMetaUrl' },
      banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
      // A CommonJS require of a built-in gives its plain exports: no ES module facade to avoid.
      plugins: common.plugins.filter((plugin) => plugin !== plainBuiltins),
    }),
    // The server is its own process (and cluster workers): one file, nothing shared with the CLI.
    build({ ...common, entryPoints: { 'model-server': 'src/model-server/main.ts' } }),
  ]);
}

const noAwsSdk = {
  name: 'no-aws-sdk',
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/(client-lambda|credential-providers)$/ }, (args) => ({
      path: args.path,
      namespace: 'no-aws-sdk',
    }));
    build.onLoad({ filter: /.*/, namespace: 'no-aws-sdk' }, () => ({ contents: NO_AWS_SDK, loader: 'js' }));
    // Anything else of the AWS SDK reached from the local path is a mistake: fail the build, loudly.
    build.onResolve({ filter: /^@aws-sdk\// }, (args) => ({
      errors: [{ text: `${args.path} imported by ${args.importer}: local builds load no AWS SDK` }],
    }));
  },
};

/**
 * Built-in modules imported without their ES module facade. Importing a built-in as an ES module makes
 * Node read every export once, getters included: `node:http`'s WebSocket, CloseEvent and MessageEvent
 * load all of undici (about 60 ms of CPU in every process that imports it: the CLI, the model server
 * and each of its workers), and crypto's, fs's, util's, zlib's… lazy ones cost about 10 ms more, for
 * things nothing here uses. The build takes these from `require` instead, with the module's plain
 * (data) properties as named exports; importing anything else from them fails the build. (`node:module`
 * is not among them: the stand-in itself imports createRequire from it.)
 */
const PLAIN_BUILTINS = [
  'http',
  'https',
  'child_process',
  'cluster',
  'crypto',
  'fs',
  'fs/promises',
  'os',
  'path',
  'stream',
  'stream/promises',
  'timers',
  'timers/promises',
  'url',
  'util',
  'zlib',
];

const plainBuiltins = {
  name: 'plain-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${PLAIN_BUILTINS.join('|')})$`);
    build.onResolve({ filter }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'plain-builtin' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'plain-builtin' }, (args) => {
      const descriptors = Object.getOwnPropertyDescriptors(require(`node:${args.path}`));
      const names = Object.keys(descriptors).filter(
        (name) => 'value' in descriptors[name] && /^[A-Za-z_$][\w$]*$/.test(name),
      );
      const contents = `import { createRequire } from 'node:module';
const builtin = createRequire(import.meta.url)('node:${args.path}');
export default builtin;
export const { ${names.join(', ')} } = builtin;
`;
      return { contents, loader: 'js' };
    });
  },
};

/**
 * aws-local-stepfunctions imports asl-validator (with ajv, jsonata and asl-path-validator: 600 KB of
 * code, about a tenth of a second to load) for its StateMachine constructor, which the runner calls
 * with validation off: it validates a definition once and remembers it (src/local/state-machine-runner.ts).
 * The build gives the interpreter a stand-in that requires the real validator from node_modules on its
 * first call. Its code stays out of the build: bundled (even evaluated only when called), its 470 KB
 * were read and compiled at every start, about 15 ms, for a validation that runs once per definition.
 */
const lazyAslValidator = {
  name: 'lazy-asl-validator',
  setup(build) {
    build.onResolve({ filter: /^asl-validator$/ }, (args) =>
      args.kind === 'import-statement' && args.importer.includes('aws-local-stepfunctions')
        ? { path: args.importer, namespace: 'lazy-asl-validator' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'lazy-asl-validator' }, (args) => ({
      // A name esbuild cannot read: the require is left for Node to resolve, from node_modules.
      contents: `const name = 'asl-validator';
export default function aslValidator(...args) {
  return require(name)(...args);
}
`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/** ajv's options for the schemas: src/ajv-options.json, which src/schema-validators.ts reads too. */
const AJV_OPTIONS = JSON.parse(readFileSync(join(ROOT, 'src/ajv-options.json'), 'utf8'));

/**
 * src/schema-validators.ts compiles the schemas with ajv at run time; the build replaces it with ajv's
 * standalone code for every schema in schemas/, generated here (once plain, once with useDefaults),
 * behind the same `schemaValidator` API.
 */
const precompiledSchemas = {
  name: 'precompiled-schemas',
  setup(build) {
    const schemas = () => {
      const dir = join(ROOT, 'schemas');
      return readdirSync(dir)
        .filter((name) => name.endsWith('.schema.json'))
        .sort()
        .map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')));
    };
    const exportNames = (list) => Object.fromEntries(list.map((schema, i) => [`schema_${i}`, schema.$id]));
    build.onLoad({ filter: /[\\/]src[\\/]schema-validators\.ts$/ }, () => {
      const list = schemas();
      const names = exportNames(list);
      const byId = Object.entries(names).map(
        ([name, id]) => `${JSON.stringify(id)}: ${JSON.stringify(name)}`,
      );
      const filling = fillingDefaults(list).map((schema) => JSON.stringify(schema.$id));
      const contents = `import * as plain from 'precompiled-schemas:plain';
import * as withDefaults from 'precompiled-schemas:defaults';
const byId = { ${byId.join(', ')} };
const fillsDefaults = new Set([${filling.join(', ')}]);
export function schemaValidator(id, _schemas, options = {}) {
  // A schema that reaches no default fills none: its plain validator does the same.
  const validate = (options.useDefaults && fillsDefaults.has(id) ? withDefaults : plain)[byId[id]];
  if (!validate) throw new Error('No schema with $id ' + id);
  return validate;
}
`;
      return { contents, loader: 'js', resolveDir: join(ROOT, 'src') };
    });
    build.onResolve({ filter: /^precompiled-schemas:/ }, (args) => ({
      path: args.path,
      namespace: 'precompiled-schemas',
    }));
    build.onLoad({ filter: /.*/, namespace: 'precompiled-schemas' }, async (args) => {
      const { Ajv } = await import('ajv');
      const { default: standaloneCode } = await import('ajv/dist/standalone/index.js');
      const useDefaults = args.path.endsWith(':defaults');
      const ajv = new Ajv({ ...AJV_OPTIONS, useDefaults, code: { source: true, esm: true } });
      const list = schemas();
      for (const schema of list) ajv.addSchema(schema);
      // With defaults, only the schemas that reach one: the code for all of them twice was 250 KB more
      // for every start to read.
      const names = exportNames(list);
      const wanted = new Set(fillingDefaults(list).map((schema) => schema.$id));
      return {
        contents: standaloneCode(
          ajv,
          Object.fromEntries(Object.entries(names).filter(([, id]) => !useDefaults || wanted.has(id))),
        ),
        loader: 'js',
        resolveDir: join(ROOT, 'src'),
      };
    });
  },
};

/**
 * The schemas whose validation with ajv's useDefaults can fill a default: those with a `default`
 * keyword, and those that refer (through other schema files, at any depth) to one.
 */
export function fillingDefaults(list) {
  const byFile = new Map(list.map((schema) => [schema.$id.split('/').pop(), schema]));
  const refersTo = (schema) =>
    [...JSON.stringify(schema).matchAll(/"\$ref":"([^"#]+)/g)].map((m) => byFile.get(m[1].split('/').pop()));
  const fills = (schema, seen = new Set()) => {
    if (!schema || seen.has(schema)) return false;
    seen.add(schema);
    return (
      JSON.stringify(schema).includes('"default":') || refersTo(schema).some((next) => fills(next, seen))
    );
  };
  return list.filter((schema) => fills(schema));
}

function removeOldBuilds(current) {
  let entries;
  try {
    entries = readdirSync(BUILD_ROOT);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === current) continue;
    const path = join(BUILD_ROOT, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > KEEP_OLD_MS) rmSync(path, { recursive: true, force: true });
    } catch {}
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = await ensureBuild((line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${dirname(join(dir, 'cli.cjs'))}\n`);
}
