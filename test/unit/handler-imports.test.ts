/**
 * One runtime per handler: each Lambda's bundle holds only the AWS SDK clients its step uses. esbuild
 * walks each handler's import graph as the packaging plugin does (src/aws/serverless-esbuild.cjs).
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/local/paths.js';

const CLIENTS_BY_HANDLER: Record<string, string[]> = {
  'start-run': ['client-s3', 'client-sfn'],
  'build-manifest': ['client-s3', 'client-sagemaker'],
  'parse-results': ['client-s3'],
  // S3: the job results it registers, and after the partition switch the earlier attempts' files.
  'register-table': ['client-glue', 'client-s3'],
  'run-queries': ['client-athena', 'client-s3'],
  // Glue: a run that failed after RegisterTable's switch is switched back.
  'record-failure': ['client-glue', 'client-s3'],
};

async function sdkClientsOf(handler: string): Promise<string[]> {
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [`handlers/${handler}.ts`],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  const clients = new Set<string>();
  for (const file of Object.keys(result.metafile.inputs)) {
    const match = /node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\//.exec(file);
    if (match?.[1]) clients.add(match[1]);
  }
  return [...clients].sort();
}

describe('handler bundles', () => {
  it.each(Object.entries(CLIENTS_BY_HANDLER))('%s holds only %j', async (handler, clients) => {
    expect(await sdkClientsOf(handler)).toEqual(clients);
  });
});
