/**
 * Preloaded with `node --import` by tests: appends the URL of every module the process loads from
 * node_modules (by `import` or `require`) to the file named by $LOAD_RECORD, one per line, and, as the
 * process exits, the internal modules of Node it loaded that are whole libraries of their own (undici,
 * behind fetch and WebSocket), as `node:internal/deps/...`.
 */
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const record = process.env.LOAD_RECORD;
if (record) {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (resolved.url.includes('/node_modules/')) appendFileSync(record, `${resolved.url}\n`);
      return resolved;
    },
  });
  process.once('exit', () => {
    const deps = process.moduleLoadList.filter((name) => name.includes('internal/deps/undici'));
    for (const name of deps) appendFileSync(record, `node:${name.replace(/^NativeModule /, '')}\n`);
  });
}
