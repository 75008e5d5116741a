/**
 * Local runs load no AWS SDK: the import graph of the CLI (every static and literal dynamic import,
 * followed through the project's own files) reaches no `@aws-sdk/*` package and nothing under
 * handlers/ or src/aws/. esbuild walks the graph exactly as a bundler would, so a new import anywhere
 * on the local path shows up here.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';

async function importGraph(entry: string) {
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  const files = Object.keys(result.metafile.inputs);
  const packages = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imported of input.imports) if (imported.external) packages.add(imported.path);
  }
  return { files, packages: [...packages] };
}

describe('the local path', () => {
  it('imports no AWS SDK package, no handler and no AWS adapter from the CLI down', async () => {
    const { files, packages } = await importGraph('src/cli.ts');

    expect(files).toContain('src/local/local-pipeline.ts');
    expect(files).toContain('src/steps/build-manifest.ts');
    expect(packages.filter((name) => name.startsWith('@aws-sdk/'))).toEqual([]);
    expect(files.filter((file) => file.startsWith('handlers/') || file.startsWith('src/aws/'))).toEqual([]);
  });
});
