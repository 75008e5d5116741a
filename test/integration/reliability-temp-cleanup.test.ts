import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../src/local/file-object-store.js';
import { LocalPipeline } from '../../src/local/local-pipeline.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';

const PUBLISHED = 's3://local-pipeline/results/predictions/run_id=r/part-0000.json';
const PUBLISHED_BODY = '{"record":1,"score":0.25}\n';

/**
 * A child process that starts a streamed write into the store at `storeRoot` and never finishes it;
 * resolves once its temp file holds bytes, and returns the child so the test can SIGKILL it.
 */
async function startHangingWriter(storeRoot: string) {
  const script = `
    import { PassThrough } from 'node:stream';
    import { FileObjectStore } from ${JSON.stringify(join(PROJECT_ROOT, 'src/local/file-object-store.ts'))};
    const body = new PassThrough();
    new FileObjectStore(${JSON.stringify(storeRoot)}).putStream('s3://local-pipeline/runs/r/big.out', body);
    body.write('x'.repeat(65536));
    process.stdout.write('writing\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout, 'data');
  return child;
}

async function tempFiles(storeRoot: string): Promise<string[]> {
  return readdir(join(storeRoot, '.tmp')).catch(() => []);
}

/** Bytes in the store's temp files so far. */
async function tempBytes(storeRoot: string): Promise<number> {
  let total = 0;
  for (const name of await tempFiles(storeRoot)) {
    total += await stat(join(storeRoot, '.tmp', name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}

describe('stale temp files left by a killed write', () => {
  let home: string;
  let storeRoot: string;

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'temp-cleanup-'));
    storeRoot = join(home, 's3');
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('are removed when the pipeline is next opened; published objects are untouched', async () => {
    await new FileObjectStore(storeRoot).put(PUBLISHED, PUBLISHED_BODY);
    const writer = await startHangingWriter(storeRoot);
    // Wait until the partial write has reached the disk (the temp file exists and holds bytes: on a
    // loaded machine it can exist empty for a while), then kill the writer as a crash would.
    for (let i = 0; i < 200 && (await tempBytes(storeRoot)) === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    writer.kill('SIGKILL');
    await once(writer, 'exit');
    const left = await tempFiles(storeRoot);
    expect(left).toHaveLength(1);
    expect((await readFile(join(storeRoot, '.tmp', left[0] as string))).length).toBeGreaterThan(0);

    const pipeline = await LocalPipeline.open({ home });
    try {
      expect(await tempFiles(storeRoot)).toEqual([]);
      expect(
        await readFile(join(storeRoot, 'local-pipeline/results/predictions/run_id=r/part-0000.json'), 'utf8'),
      ).toBe(PUBLISHED_BODY);
      // The killed write never became an object.
      expect(await pipeline.store.head('s3://local-pipeline/runs/r/big.out')).toBeUndefined();
    } finally {
      await pipeline.close();
    }
  }, 60_000);

  it('a write still running in this process is kept', async () => {
    const store = new FileObjectStore(storeRoot);
    const body = new PassThrough();
    const writing = store.putStream('s3://local-pipeline/runs/r/live.out', body);
    body.write('first half,');
    for (let i = 0; i < 100 && (await tempFiles(storeRoot)).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await tempFiles(storeRoot)).toHaveLength(1);

    const pipeline = await LocalPipeline.open({ home });
    try {
      expect(await tempFiles(storeRoot)).toHaveLength(1);
      body.end('second half');
      await writing;
      expect(new TextDecoder().decode(await store.getBytes('s3://local-pipeline/runs/r/live.out'))).toBe(
        'first half,second half',
      );
    } finally {
      await pipeline.close();
    }
  }, 60_000);
});
