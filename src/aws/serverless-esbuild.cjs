// A local Serverless Framework plugin: bundles each function's TypeScript handler with esbuild before
// packaging, so `sls package` / `sls deploy` work from a clean checkout with nothing but node_modules
// (the serverless-esbuild plugin is not needed, and no separate build command has to be remembered).
//
// Convention: a function's handler `dist/handlers/<name>.handler` is built from `handlers/<name>.ts`
// into `dist/handlers/<name>.mjs` (ESM, one self-contained file, AWS SDK included so the deployed code
// runs the SDK versions the tests ran).
'use strict';

const path = require('node:path');

const BANNER =
  // Some bundled CommonJS dependencies call require() for Node built-ins; ESM output has no require.
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

class EsbuildHandlersPlugin {
  constructor(serverless, _options, { log }) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.build(),
      'before:deploy:function:packageFunction': () => this.build(),
    };
  }

  entries() {
    const functions = this.serverless.service.functions ?? {};
    return Object.entries(functions).map(([name, fn]) => {
      const match = /^dist\/(handlers\/[a-z0-9-]+)\.handler$/.exec(fn.handler ?? '');
      if (!match) {
        throw new this.serverless.classes.Error(
          `Function ${name}: handler must be dist/handlers/<file>.handler (built from handlers/<file>.ts), got ${fn.handler}`,
        );
      }
      return { in: `${match[1]}.ts`, out: match[1] };
    });
  }

  async build() {
    // Tests package the same code under several parameter sets: after the first build, they set
    // SLS_REUSE_BUNDLES=1 so later packages zip the bundles already in dist/ instead of rebuilding them
    // (and so packages made in parallel never write dist/ while another zips it).
    if (process.env.SLS_REUSE_BUNDLES === '1') {
      const { existsSync } = require('node:fs');
      const servicePath = this.serverless.serviceDir ?? this.serverless.config.servicePath;
      const missing = this.entries().filter(
        (e) => !existsSync(path.join(servicePath, 'dist', `${e.out}.mjs`)),
      );
      if (missing.length === 0) return;
    }
    const { build } = await import('esbuild');
    const started = Date.now();
    const servicePath = this.serverless.serviceDir ?? this.serverless.config.servicePath;
    await build({
      absWorkingDir: servicePath,
      entryPoints: this.entries(),
      outdir: path.join(servicePath, 'dist'),
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      // Error classes set `name` explicitly, but keep names anyway for readable stack traces.
      keepNames: true,
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      banner: { js: BANNER },
      logLevel: 'warning',
    });
    this.log.notice(`Bundled ${this.entries().length} handlers with esbuild in ${Date.now() - started} ms`);
  }
}

module.exports = EsbuildHandlersPlugin;
