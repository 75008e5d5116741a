/**
 * The built-in server started ahead of need (LocalModelContainers.prestart, as `npm start -- run` does
 * while the run is planned) and the number of server processes a job gets. Observed from outside: the
 * processes under this one (Linux /proc) and the answers the container gives, against a container
 * started the ordinary way for the same model and job.
 */
import { readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalModelContainers, ONE_PROCESS_MAX_BYTES } from '../../src/local/model-containers.js';
import { LocalModelRegistry } from '../../src/local/model-registry.js';
import { PROJECT_ROOT } from '../../src/local/paths.js';
import type { InvocationResult, ModelClient } from '../../src/ports.js';
import { SAMPLE_INPUT_DIR, SAMPLE_MODEL } from '../helpers/model-containers.js';

const CORES = availableParallelism();
/** Another model (5 features, 0.3 base score): its answers to the sample rows differ. */
const OTHER_MODEL = join(PROJECT_ROOT, 'test/fixtures/xgboost/gbtree-binary-logistic-base0_3/model.json');
/** The model's own Environment: a payload limit and a default Accept the answers show. */
const MODEL_ENVIRONMENT = {
  MAX_CONTENT_LENGTH: '4000',
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT: 'application/json',
};
/** What the engine adds for a transform job. */
const JOB_ENVIRONMENT = { SAGEMAKER_BATCH: 'true', SAGEMAKER_MAX_PAYLOAD_IN_MB: '6' };

/** The pids of a process's children (Linux), with their command lines. */
async function childrenOf(pid: number): Promise<{ pid: number; cmdline: string }[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const pids = text
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '')
    .map(Number);
  return Promise.all(
    pids.map(async (child) => ({
      pid: child,
      cmdline: (await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' '),
    })),
  );
}

/** This process's model server processes (not vitest's own children). */
async function servers() {
  return (await childrenOf(process.pid)).filter((c) => c.cmdline.includes('model-server/main.ts'));
}

async function until<T>(what: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('built-in model server processes', () => {
  let dir: string;
  let registry: LocalModelRegistry;
  let rows: Buffer;
  const opened: LocalModelContainers[] = [];
  const containers = () => {
    const created = new LocalModelContainers(registry, () => SAMPLE_MODEL);
    opened.push(created);
    return created;
  };

  /** What the container answers: a few rows (as JSON, its default here), then a body over its limit. */
  async function answers(client: ModelClient, times: number) {
    const shown = (result: InvocationResult) => ({
      statusCode: result.statusCode,
      contentType: result.contentType,
      body: Buffer.from(result.body).toString('utf8'),
    });
    const out = [];
    for (let n = 0; n < times; n++) {
      out.push(shown(await client.invoke(rows, { contentType: 'text/csv', timeoutMs: 20_000 })));
      const tooBig = Buffer.concat([rows, rows, rows, rows]);
      out.push((await client.invoke(tooBig, { contentType: 'text/csv', timeoutMs: 20_000 })).statusCode);
    }
    return out;
  }

  beforeEach(async () => {
    dir = join(tmpdir(), `standby-${process.pid}-${Date.now()}`);
    registry = new LocalModelRegistry(join(dir, 'models.json'));
    await registry.put({
      ModelName: 'm',
      PrimaryContainer: {
        Image: 'builtin:xgboost',
        ModelDataUrl: 's3://bucket/model.json',
        Environment: MODEL_ENVIRONMENT,
      },
    });
    const csv = await readFile(join(SAMPLE_INPUT_DIR, 'part-0001.csv'), 'utf8');
    rows = Buffer.from(`${csv.split('\n').slice(1, 9).join('\n')}\n`);
    expect(rows.length).toBeGreaterThan(1000);
    expect(rows.length * 4).toBeGreaterThan(Number(MODEL_ENVIRONMENT.MAX_CONTENT_LENGTH));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('a standby process becomes the job container: the same process, answering as a fresh start does', async () => {
    const fresh = containers();
    const expected = await answers(await fresh.resolve('m', JOB_ENVIRONMENT, { inputBytes: 100 }), 2);
    await fresh.close();
    expect(expected[0]).toMatchObject({ statusCode: 200, contentType: 'application/json' });
    expect(expected[1]).toBe(413);
    await until(async () => ((await servers()).length === 0 ? true : undefined));

    // Told the run's model file (the artifact is that file here), the standby loads it while it waits;
    // told another one, it must still serve the artifact's model.
    for (const hint of [SAMPLE_MODEL, OTHER_MODEL]) {
      const warm = containers();
      warm.prestart(hint);
      const [standby] = await until(async () => {
        const list = await servers();
        return list.length === 1 ? list : undefined;
      });
      expect(standby?.cmdline).toContain('--standby');
      const client = await warm.resolve('m', JOB_ENVIRONMENT, { inputBytes: 100 });

      expect((await servers()).map((s) => s.pid)).toEqual([standby?.pid]);
      expect(await answers(client, 2), hint).toEqual(expected);
      // One server process for a small job: no cluster workers under it.
      expect(await childrenOf(standby?.pid as number)).toEqual([]);
      await warm.close();
      await until(async () => ((await servers()).length === 0 ? true : undefined));
    }
  }, 120_000);

  it("gives the standby's cluster workers the job's environment too", async () => {
    const warm = containers();
    warm.prestart();
    const [standby] = await until(async () => {
      const list = await servers();
      return list.length === 1 ? list : undefined;
    });
    // No size given: a server process per core.
    const client = await warm.resolve('m', JOB_ENVIRONMENT);

    expect((await servers()).map((s) => s.pid)).toEqual([standby?.pid]);
    if (CORES > 1) expect(await childrenOf(standby?.pid as number)).toHaveLength(CORES);
    const got = await answers(client, 2 * CORES);
    // Round-robin over the workers: every one has the model's payload limit and default Accept.
    expect(got.filter((a) => typeof a === 'number')).toEqual(Array(2 * CORES).fill(413));
    expect(new Set(got.filter((a) => typeof a !== 'number').map((a) => JSON.stringify(a))).size).toBe(1);
  }, 120_000);

  it('starts a fresh process instead when the environment sets a variable Node reads as it starts', async () => {
    await registry.put({
      ModelName: 'node-options',
      PrimaryContainer: {
        Image: 'builtin:xgboost',
        ModelDataUrl: 's3://bucket/model.json',
        Environment: { ...MODEL_ENVIRONMENT, NODE_OPTIONS: '--max-old-space-size=300' },
      },
    });
    const warm = containers();
    warm.prestart();
    const [standby] = await until(async () => {
      const list = await servers();
      return list.length === 1 ? list : undefined;
    });
    const client = await warm.resolve('node-options', JOB_ENVIRONMENT, { inputBytes: 100 });

    const [server, ...others] = await until(async () => {
      const list = await servers();
      return list.length === 1 ? list : undefined;
    });
    expect(others).toEqual([]);
    expect(server?.pid).not.toBe(standby?.pid);
    expect(server?.cmdline).not.toContain('--standby');
    expect((await client.invoke(rows, { contentType: 'text/csv', timeoutMs: 20_000 })).statusCode).toBe(200);
  }, 120_000);

  it('serves small jobs with one process until the jobs of a model and environment pass the threshold', async () => {
    const pool = containers();
    const small = await pool.resolve('m', JOB_ENVIRONMENT, { inputBytes: ONE_PROCESS_MAX_BYTES / 2 });
    const [one] = await servers();
    expect(await childrenOf(one?.pid as number)).toEqual([]);
    // A second small job of the same model and environment shares that process.
    expect(await pool.resolve('m', JOB_ENVIRONMENT, { inputBytes: ONE_PROCESS_MAX_BYTES / 2 })).toBe(small);
    expect(await servers()).toHaveLength(1);
    // Together with a third, they are past it: that one gets a process per core.
    const large = await pool.resolve('m', JOB_ENVIRONMENT, { inputBytes: 1 });
    expect(large).not.toBe(small);
    const list = await servers();
    expect(list).toHaveLength(2);
    const primary = list.find((s) => s.pid !== one?.pid);
    if (CORES > 1) expect(await childrenOf(primary?.pid as number)).toHaveLength(CORES);
  }, 120_000);

  it("keeps the model's SAGEMAKER_MODEL_SERVER_WORKERS for a small job", async () => {
    await registry.put({
      ModelName: 'two-workers',
      PrimaryContainer: {
        Image: 'builtin:xgboost',
        ModelDataUrl: 's3://bucket/model.json',
        Environment: { SAGEMAKER_MODEL_SERVER_WORKERS: '2' },
      },
    });
    await containers().resolve('two-workers', JOB_ENVIRONMENT, { inputBytes: 100 });
    const [server] = await servers();
    expect(await childrenOf(server?.pid as number)).toHaveLength(2);
  }, 120_000);

  it('runs a small job inside this process when allowed, answering as a process does; otherwise a process', async () => {
    const asProcess = containers();
    const expected = await answers(await asProcess.resolve('m', JOB_ENVIRONMENT, { inputBytes: 100 }), 2);
    await asProcess.close();
    await until(async () => ((await servers()).length === 0 ? true : undefined));

    const allowed = new LocalModelContainers(registry, () => SAMPLE_MODEL, undefined, { inProcess: true });
    opened.push(allowed);
    const inside = await allowed.resolve('m', JOB_ENVIRONMENT, { inputBytes: 100 });
    // The same answers, the payload limit of the model's Environment included, and no process.
    expect(await answers(inside, 2)).toEqual(expected);
    expect(await servers()).toEqual([]);
    // Past the threshold, a variable Node reads as a process starts, or another server count: a process.
    const large = await allowed.resolve('m', JOB_ENVIRONMENT, { inputBytes: ONE_PROCESS_MAX_BYTES + 1 });
    expect(large).not.toBe(inside);
    expect(await servers()).toHaveLength(1);
    await allowed.resolve('m', { ...JOB_ENVIRONMENT, TZ: 'UTC' }, { inputBytes: 100 });
    await allowed.resolve(
      'm',
      { ...JOB_ENVIRONMENT, SAGEMAKER_MODEL_SERVER_WORKERS: '2' },
      { inputBytes: 100 },
    );
    expect(await servers()).toHaveLength(3);
    await allowed.close();
    await until(async () => ((await servers()).length === 0 ? true : undefined));
    // Closed, the in-process server no longer answers.
    await expect(inside.invoke(rows, { contentType: 'text/csv', timeoutMs: 5_000 })).rejects.toThrow();
  }, 120_000);
});
