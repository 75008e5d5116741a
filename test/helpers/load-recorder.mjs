/**
 * Preloaded with `node --import` by tests: appends the URL of every module the process loads from
 * node_modules (by `import` or `require`) to the file named by $LOAD_RECORD, one per line.
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
}
